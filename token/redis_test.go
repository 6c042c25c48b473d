package token

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/store/redisstore"
	"github.com/authkit/authkit/store/storetest"
)

// The store-facing tests also run on Redis when AUTHKIT_REDIS_ADDR is set
// (and skip, naming it, when it is not), each under a fresh key prefix that
// is removed afterwards. Redis runs on real time.
func init() {
	backendsExtra = append(backendsExtra, backend{name: "redis", open: openRedis})
}

func openRedis(t testing.TB, _ func() time.Time) (store.Store, *store.Memory) {
	t.Helper()
	addr := storetest.Env(t, "AUTHKIT_REDIS_ADDR")
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		t.Fatalf("Redis at %s is unreachable: %v", addr, err)
	}
	prefix := "authkit-test:token:" + storetest.UniqueID() + ":"
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
	return s, nil
}
