package jwtpair

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authkit/authkit/jwt"
	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/store/redisstore"
	"github.com/authkit/authkit/store/storetest"
	"github.com/authkit/authkit/token"
)

// openRedis returns a store on the Redis at AUTHKIT_REDIS_ADDR (the test
// skips, naming the variable, when it is not set), under a fresh key prefix
// removed afterwards.
func openRedis(t *testing.T) store.Store {
	t.Helper()
	addr := storetest.Env(t, "AUTHKIT_REDIS_ADDR")
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		t.Fatalf("Redis at %s is unreachable: %v", addr, err)
	}
	prefix := "authkit-test:jwtpair:" + storetest.UniqueID() + ":"
	s, err := redisstore.New(c, redisstore.Config{Prefix: prefix})
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("removing test keys: %v", err)
		}
	})
	return s
}

// On Redis, on real time: the sign-outs of 24 devices of one user at once
// (logout endpoint, concurrent) each end the device's refresh family and
// its JWTs, or answer 503 and a retry does.
func TestRedisConcurrentLogouts(t *testing.T) {
	st := openRedis(t)
	key, err := jwt.GenerateKey(jwt.ES256)
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := jwt.NewKeySet(key)
	iss := jwt.NewIssuer(keys, jwt.IssuerConfig{Issuer: testIssuer, Audience: []string{testAudience}})
	ver := jwt.NewVerifier(keys, jwt.Config{Issuer: testIssuer, Audience: testAudience, Store: st, CacheSize: -1})
	tokens := token.New(st, token.Config{Logger: discardLogger()})
	pairs := New(iss, ver, tokens, Config{Logger: discardLogger()})
	ctx := context.Background()
	const n = 24
	ps := make([]Pair, n)
	for i := range ps {
		if ps[i], err = pairs.Issue(ctx, "victim", token.FamilyOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			rec := httptest.NewRecorder()
			pairs.Handler().ServeHTTP(rec, refreshRequest("DELETE", string(ps[i].Refresh)))
			codes[i] = rec.Code
		})
	}
	wg.Wait()
	for i, code := range codes {
		switch code {
		case 204:
		case 503:
			if err := tokens.RevokeFamily(ctx, "victim", ps[i].Family.ID); err != nil {
				t.Fatalf("retry %d: %v", i, err)
			}
		default:
			t.Fatalf("logout %d: %d", i, code)
		}
		if _, err := ver.Verify(ctx, ps[i].Access.Token); !errors.Is(err, jwt.ErrRevoked) {
			t.Fatalf("JWT %d after its logout: %v", i, err)
		}
	}
	if fams, err := tokens.Families(ctx, "victim"); err != nil || len(fams) != 0 {
		t.Fatalf("families left: %+v, %v", fams, err)
	}
}
