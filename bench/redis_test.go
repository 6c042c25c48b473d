package bench

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store/redisstore"
	"github.com/authkit/authkit/store/storetest"
	"github.com/authkit/authkit/token"
)

// Redis benchmarks, when AUTHKIT_REDIS_ADDR is set: authkit's session load
// and access-token verification on redisstore against the physical floor,
// one raw go-redis GET of a key and value of the same sizes as authkit's
// record. Every side uses the same client (ContextTimeoutEnabled, default
// pool). Keys live under a random prefix removed afterwards.
//   - session load: Manager.Authenticate on a request carrying the cookie
//     of a logged-in session (cookie parse, SHA-256, GET, record decode).
//   - token verify: token.Manager.Verify of an access token (format and
//     checksum check, SHA-256, GET, record decode).

// redisFixture connects to AUTHKIT_REDIS_ADDR and returns a Store under a
// fresh prefix, removed with every key under it when the benchmark ends.
func redisFixture(tb testing.TB) (*redis.Client, *redisstore.Store, string) {
	tb.Helper()
	addr := storetest.Env(tb, "AUTHKIT_REDIS_ADDR")
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	tb.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		tb.Fatalf("AUTHKIT_REDIS_ADDR=%s: %v", addr, err)
	}
	prefix := "authkit-bench:" + rand.Text() + ":"
	tb.Cleanup(func() { deletePrefix(c, prefix) })
	st, err := redisstore.New(c, redisstore.Config{Prefix: prefix})
	if err != nil {
		tb.Fatal(err)
	}
	return c, st, prefix
}

func deletePrefix(c *redis.Client, prefix string) {
	ctx := context.Background()
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
		if len(keys) == 1000 {
			c.Unlink(ctx, keys...)
			keys = keys[:0]
		}
	}
	if len(keys) > 0 {
		c.Unlink(ctx, keys...)
	}
}

// recordOf returns the only key under prefix+kind and its value.
func recordOf(tb testing.TB, c *redis.Client, prefix, kind string) (string, []byte) {
	tb.Helper()
	ctx := context.Background()
	keys, err := c.Keys(ctx, prefix+kind+"*").Result()
	if err != nil || len(keys) != 1 {
		tb.Fatalf("keys %s*: %v %v", prefix+kind, keys, err)
	}
	v, err := c.Get(ctx, keys[0]).Bytes()
	if err != nil {
		tb.Fatal(err)
	}
	return keys[0], v
}

// rawGetSide stores a random value as long as value under a key as long as
// key, and returns a loop body that GETs it.
func rawGetSide(tb testing.TB, c *redis.Client, prefix, key string, value []byte) func() error {
	tb.Helper()
	ctx := context.Background()
	raw := prefix + "raw:"
	raw += strings.Repeat("k", max(len(key)-len(raw), 1))
	if err := c.Set(ctx, raw, randomBytes(len(value)), time.Hour).Err(); err != nil {
		tb.Fatal(err)
	}
	return func() error {
		v, err := c.Get(ctx, raw).Bytes()
		sinkBytes = v
		return err
	}
}

func BenchmarkRedisSessionLoad(b *testing.B) {
	c, st, prefix := redisFixture(b)
	m := session.New(st, session.Config{IdleTimeout: benchIdle, Lifetime: benchLifetime})
	login := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := session.Set(r.Context(), "user", "alice"); err != nil {
			b.Error(err)
		}
		if err := m.Login(r.Context(), "user-1"); err != nil {
			b.Error(err)
		}
		okWrite(w)
	}))
	ck := firstCookie(b, login)
	key, value := recordOf(b, c, prefix, "sess:")
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(ck)
	sides := map[string]func() error{
		"authkit": func() error {
			id, err := m.Authenticate(req)
			if err == nil {
				sinkString = id.Subject
			}
			return err
		},
		"raw-get": rawGetSide(b, c, prefix, key, value),
	}
	for _, name := range []string{"authkit", "raw-get"} {
		b.Run("impl="+name, func(b *testing.B) {
			f := sides[name]
			b.ReportAllocs()
			for b.Loop() {
				if err := f(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRedisTokenVerify(b *testing.B) {
	c, st, prefix := redisFixture(b)
	tm := token.New(st, token.Config{})
	ctx := context.Background()
	tok, _, err := tm.Issue(ctx, "user-1", token.IssueOptions{Scopes: []string{"read", "write"}})
	if err != nil {
		b.Fatal(err)
	}
	key, value := recordOf(b, c, prefix, "tok:")
	sides := map[string]func() error{
		"authkit": func() error {
			info, err := tm.Verify(ctx, tok)
			sinkString = info.Subject
			return err
		},
		"raw-get": rawGetSide(b, c, prefix, key, value),
	}
	for _, name := range []string{"authkit", "raw-get"} {
		b.Run("impl="+name, func(b *testing.B) {
			f := sides[name]
			b.ReportAllocs()
			for b.Loop() {
				if err := f(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
