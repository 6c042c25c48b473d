package redisstore_test

import (
	"context"
	"errors"
	"strings"
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

// newStore returns a Store on c under a fresh key prefix.
func newStore(t testing.TB, c redis.UniversalClient) (*redisstore.Store, string) {
	t.Helper()
	prefix := "authkit-test:" + storetest.UniqueID() + ":"
	s, err := redisstore.New(c, redisstore.Config{Prefix: prefix})
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	return s, prefix
}

func TestConformance(t *testing.T) {
	c := newClient(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _ := newStore(t, c)
		return s
	})
}

func TestConformanceCluster(t *testing.T) {
	c := newClusterClient(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _ := newStore(t, c)
		return s
	})
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

// TestNewRefusesReplicaReads needs no server: go-redis connects lazily.
func TestNewRefusesReplicaReads(t *testing.T) {
	t.Parallel()
	addrs := []string{"127.0.0.1:1"}
	refused := []struct {
		name   string
		client redis.UniversalClient
	}{
		{"cluster ReadOnly", redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ReadOnly: true})},
		{"cluster RouteByLatency", redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, RouteByLatency: true})},
		{"cluster RouteRandomly", redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, RouteRandomly: true})},
		{"failover cluster ReplicaOnly", redis.NewFailoverClusterClient(&redis.FailoverOptions{MasterName: "m", SentinelAddrs: addrs, ReplicaOnly: true})},
		{"failover cluster RouteRandomly", redis.NewFailoverClusterClient(&redis.FailoverOptions{MasterName: "m", SentinelAddrs: addrs, RouteRandomly: true})},
		{"universal ReadOnly", redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{"127.0.0.1:1", "127.0.0.1:2"}, ReadOnly: true})},
	}
	for _, r := range refused {
		t.Cleanup(func() { r.client.Close() })
		s, err := redisstore.New(r.client, redisstore.Config{})
		if !errors.Is(err, redisstore.ErrReplicaReads) || s != nil {
			t.Errorf("New(%s) = %v, %v, want ErrReplicaReads", r.name, s, err)
		}
	}
	accepted := []struct {
		name   string
		client redis.UniversalClient
	}{
		{"plain", redis.NewClient(&redis.Options{Addr: addrs[0]})},
		{"cluster", redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})},
		{"failover", redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "m", SentinelAddrs: addrs})},
		{"universal single", redis.NewUniversalClient(&redis.UniversalOptions{Addrs: addrs})},
	}
	for _, a := range accepted {
		t.Cleanup(func() { a.client.Close() })
		if _, err := redisstore.New(a.client, redisstore.Config{}); err != nil {
			t.Errorf("New(%s) = %v, want nil", a.name, err)
		}
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
