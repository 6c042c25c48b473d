package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/store/redisstore"
	"github.com/authkit/authkit/store/storetest"
)

// newClient connects to the single Redis named by AUTHKIT_REDIS_ADDR, or
// skips. A set but unreachable address fails the test.
func newClient(t testing.TB) *redis.Client {
	t.Helper()
	addr := storetest.Env(t, "AUTHKIT_REDIS_ADDR")
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { c.Close() })
	ping(t, c, addr)
	return c
}

// newClusterClient connects to the Redis Cluster named by
// AUTHKIT_REDIS_CLUSTER_ADDRS (comma-separated), or skips.
func newClusterClient(t testing.TB) *redis.ClusterClient {
	t.Helper()
	addrs := storetest.Env(t, "AUTHKIT_REDIS_CLUSTER_ADDRS")
	c := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                 strings.Split(addrs, ","),
		ContextTimeoutEnabled: true,
	})
	t.Cleanup(func() { c.Close() })
	ping(t, c, addrs)
	return c
}

func ping(t testing.TB, c redis.UniversalClient, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis at %s is unreachable: %v", addr, err)
	}
}

// newStore returns a Store on c under a fresh key prefix, whose keys are
// deleted when the test ends.
func newStore(t testing.TB, c redis.UniversalClient) (*redisstore.Store, string) {
	t.Helper()
	prefix := testPrefix(t, c)
	s, err := redisstore.New(c, redisstore.Config{Prefix: prefix})
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	return s, prefix
}

// testPrefix returns a fresh key prefix, "authkit-test:" and 16 hex digits,
// and deletes every key under it through c when the test ends. Some keys
// the tests write expire in thousands of years; none may stay behind in a
// shared Redis.
func testPrefix(t testing.TB, c redis.UniversalClient) string {
	t.Helper()
	prefix := "authkit-test:" + storetest.UniqueID() + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := deletePrefix(ctx, c, prefix); err != nil {
			t.Errorf("deleting the keys under %s: %v", prefix, err)
		}
	})
	return prefix
}

// eachNode calls f with every primary of c (c itself for a single server).
func eachNode(ctx context.Context, c redis.UniversalClient, f func(ctx context.Context, n *redis.Client) error) error {
	switch c := c.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, f)
	case *redis.Client:
		return f(ctx, c)
	}
	return fmt.Errorf("no way to scan a %T", c)
}

// scanPrefix returns the keys under prefix, which holds no glob character.
func scanPrefix(ctx context.Context, c redis.UniversalClient) func(prefix string) ([]string, error) {
	return func(prefix string) ([]string, error) {
		var mu sync.Mutex
		var keys []string
		err := eachNode(ctx, c, func(ctx context.Context, n *redis.Client) error {
			iter := n.Scan(ctx, 0, prefix+"*", 1000).Iterator()
			for iter.Next(ctx) {
				mu.Lock()
				keys = append(keys, iter.Val())
				mu.Unlock()
			}
			return iter.Err()
		})
		return keys, err
	}
}

// deletePrefix deletes every key under prefix, one DEL per key so that
// cluster slots never mix.
func deletePrefix(ctx context.Context, c redis.UniversalClient, prefix string) error {
	keys, err := scanPrefix(ctx, c)(prefix)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := c.Del(ctx, k).Err(); err != nil {
			return err
		}
	}
	return nil
}

// runConformance runs the suite on c, each subtest under its own prefix
// below one root, and then requires that nothing is left under the root.
func runConformance(t *testing.T, c redis.UniversalClient) {
	root := "authkit-test:" + storetest.UniqueID() + ":"
	storetest.Run(t, func(t *testing.T) store.Store {
		prefix := root + storetest.UniqueID() + ":"
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := deletePrefix(ctx, c, prefix); err != nil {
				t.Errorf("deleting the keys under %s: %v", prefix, err)
			}
		})
		s, err := redisstore.New(c, redisstore.Config{Prefix: prefix})
		if err != nil {
			t.Fatalf("New = %v", err)
		}
		return s
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	left, err := scanPrefix(ctx, c)(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("%d keys left in Redis after the suite, e.g. %q", len(left), left[0])
	}
}

func TestConformance(t *testing.T) {
	runConformance(t, newClient(t))
}

func TestConformanceCluster(t *testing.T) {
	runConformance(t, newClusterClient(t))
}

func TestVerify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		client func(t testing.TB) redis.UniversalClient
	}{
		{"single", func(t testing.TB) redis.UniversalClient { return newClient(t) }},
		{"cluster", func(t testing.TB) redis.UniversalClient { return newClusterClient(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _ := newStore(t, tc.client(t))
			if err := s.Verify(context.Background()); err != nil {
				t.Errorf("Verify = %v", err)
			}
		})
	}
}

func TestNewNilClientPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New(nil) did not panic")
		}
	}()
	redisstore.New(nil, redisstore.Config{})
}

// TestRedisLayout checks what the Store writes in Redis: the prefixed key,
// the raw value, and the absolute expiry in milliseconds.
func TestRedisLayout(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	s, prefix := newStore(t, c)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond).Add(123 * time.Microsecond)

	if err := s.Set(ctx, "k", []byte("v\x00"), exp); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, prefix+"k").Result(); err != nil || got != "v\x00" {
		t.Errorf("GET %sk = %q, %v, want the raw value", prefix, got, err)
	}
	if got, err := c.PExpireTime(ctx, prefix+"k").Result(); err != nil || got != time.Duration(exp.UnixMilli())*time.Millisecond {
		t.Errorf("PEXPIRETIME = %v, %v, want %d ms", got, err, exp.UnixMilli())
	}
	// A swap sets the new expiry too, in the same step.
	exp2 := exp.Add(time.Hour)
	if ok, err := s.CompareAndSwap(ctx, "k", []byte("v\x00"), []byte("w"), exp2); err != nil || !ok {
		t.Fatalf("CompareAndSwap = %v, %v", ok, err)
	}
	if got, err := c.PExpireTime(ctx, prefix+"k").Result(); err != nil || got != time.Duration(exp2.UnixMilli())*time.Millisecond {
		t.Errorf("PEXPIRETIME after CompareAndSwap = %v, %v, want %d ms", got, err, exp2.UnixMilli())
	}
	if ok, err := s.CompareAndSwap(ctx, "n", nil, []byte("w"), exp2); err != nil || !ok {
		t.Fatalf("CompareAndSwap(if absent) = %v, %v", ok, err)
	}
	if got, err := c.PExpireTime(ctx, prefix+"n").Result(); err != nil || got != time.Duration(exp2.UnixMilli())*time.Millisecond {
		t.Errorf("PEXPIRETIME after CompareAndSwap(if absent) = %v, %v, want %d ms", got, err, exp2.UnixMilli())
	}
	// Nothing is written outside the prefix.
	if n, err := c.Exists(ctx, "k", "n").Result(); err != nil || n != 0 {
		t.Errorf("EXISTS of the unprefixed keys = %d, %v, want 0", n, err)
	}
	// Two prefixes are two stores.
	other, _ := newStore(t, c)
	if _, err := other.Get(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get from a store with another prefix = %v, want ErrNotFound", err)
	}
}

// TestRedisErrorsWrapped puts a hash where the Store expects a string: every
// method fails with a wrapped WRONGTYPE error, never ErrNotFound.
func TestRedisErrorsWrapped(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	s, prefix := newStore(t, c)
	ctx := context.Background()
	if err := c.HSet(ctx, prefix+"h", "field", "value").Err(); err != nil {
		t.Fatal(err)
	}
	c.Expire(ctx, prefix+"h", time.Minute)
	check := func(op string, err error) {
		t.Helper()
		switch {
		case err == nil:
			t.Errorf("%s on a hash = nil, want an error", op)
		case errors.Is(err, store.ErrNotFound):
			t.Errorf("%s on a hash = %v, which matches ErrNotFound", op, err)
		case !strings.HasPrefix(err.Error(), "redisstore: ") || !strings.Contains(err.Error(), "WRONGTYPE"):
			t.Errorf("%s on a hash = %q, want a wrapped WRONGTYPE error", op, err)
		}
	}
	_, err := s.Get(ctx, "h")
	check("Get", err)
	_, err = s.CompareAndSwap(ctx, "h", []byte("value"), []byte("x"), time.Now().Add(time.Minute))
	check("CompareAndSwap", err)
	_, err = s.CompareAndSwap(ctx, "h", []byte("value"), nil, time.Time{})
	check("CompareAndSwap(delete)", err)
	// SET replaces any type, and SET NX only tests existence: both succeed.
	if ok, err := s.CompareAndSwap(ctx, "h", nil, []byte("x"), time.Now().Add(time.Minute)); err != nil || ok {
		t.Errorf("CompareAndSwap(if absent) on a hash = %v, %v, want false, nil", ok, err)
	}
	if err := s.Set(ctx, "h", []byte("x"), time.Now().Add(time.Minute)); err != nil {
		t.Errorf("Set over a hash = %v", err)
	}
}
