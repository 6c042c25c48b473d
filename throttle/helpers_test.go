package throttle_test

import (
	"context"
	"crypto/rand"
	"errors"
	"github.com/authkit/authkit/internal/clocktest"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/store/redisstore"
	"github.com/authkit/authkit/store/storetest"
)

// clock is a settable time source shared by a Throttle and a Memory store.
// clock is the tests' fake clock.
type clock = clocktest.Clock

func newClock() *clock { return clocktest.New(time.Now().Truncate(time.Millisecond)) }

// backend makes a fresh store for one test.
type backend struct {
	name string
	new  func(t *testing.T, c *clock) store.Store
}

// backends are Memory, and Redis when AUTHKIT_REDIS_ADDR is set. Records
// carry their own times, so the tests drive the throttle with a fake clock
// on Redis too; Redis expiries only ever lie further in the future.
func backends() []backend {
	return []backend{
		{"memory", func(t *testing.T, c *clock) store.Store {
			m := store.NewMemory(store.MemoryConfig{Now: c.Now})
			t.Cleanup(func() { m.Close() })
			return m
		}},
		{"redis", newRedis},
	}
}

func newRedis(t *testing.T, _ *clock) store.Store {
	addr := storetest.Env(t, "AUTHKIT_REDIS_ADDR")
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, PoolSize: 64})
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("AUTHKIT_REDIS_ADDR=%s: %v", addr, err)
	}
	prefix := "authkit-throttle-test:" + rand.Text() + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	st, err := redisstore.New(c, redisstore.Config{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func eachBackend(t *testing.T, fn func(t *testing.T, st store.Store, c *clock)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			c := newClock()
			fn(t, b.new(t, c), c)
		})
	}
}

// hooked wraps a Store with hooks at named points, to force an order of
// concurrent calls or fail a chosen call.
type hooked struct {
	store.Store
	mu         sync.Mutex
	beforeCAS  func(key string) error // nil: no hook; an error fails the call
	beforeGet  func(key string) error
	gets, cass int
}

func (h *hooked) Get(ctx context.Context, key string) ([]byte, error) {
	h.mu.Lock()
	h.gets++
	f := h.beforeGet
	h.mu.Unlock()
	if f != nil {
		if err := f(key); err != nil {
			return nil, err
		}
	}
	return h.Store.Get(ctx, key)
}

func (h *hooked) CompareAndSwap(ctx context.Context, key string, old, new []byte, exp time.Time) (bool, error) {
	h.mu.Lock()
	h.cass++
	f := h.beforeCAS
	h.mu.Unlock()
	if f != nil {
		if err := f(key); err != nil {
			return false, err
		}
	}
	return h.Store.CompareAndSwap(ctx, key, old, new, exp)
}

var errInjected = errors.New("injected store failure")
