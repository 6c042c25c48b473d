// Package redistest opens Redis stores for authkit's own tests: a
// redisstore.Store on the Redis that AUTHKIT_REDIS_ADDR names, under a key
// prefix of its own, every key of which is removed when the test ends. A
// test that calls it is skipped, naming the variable, when it is not set.
package redistest

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authkit/authkit/store/redisstore"
	"github.com/authkit/authkit/store/storetest"
)

// PoolSize is the connection pool of each store's client: more than
// go-redis's default of ten per core, for the tests that run dozens of
// concurrent clients.
const PoolSize = 64

// Store returns a Store under the prefix "authkit-test:<name>:<random>:".
func Store(t testing.TB, name string) *redisstore.Store {
	t.Helper()
	addr := storetest.Env(t, "AUTHKIT_REDIS_ADDR")
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, PoolSize: PoolSize})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		t.Fatalf("Redis at AUTHKIT_REDIS_ADDR=%s is unreachable: %v", addr, err)
	}
	prefix := "authkit-test:" + name + ":" + storetest.UniqueID() + ":"
	s, err := redisstore.New(c, redisstore.Config{Prefix: prefix})
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("removing the test's Redis keys under %s: %v", prefix, err)
		}
	})
	return s
}
