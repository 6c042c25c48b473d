package throttle_test

import (
	"context"
	"errors"
	"github.com/authkit/authkit/internal/clocktest"
	"github.com/authkit/authkit/internal/redistest"
	"sync"
	"testing"
	"time"

	"github.com/authkit/authkit/store"
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

func newRedis(t *testing.T, _ *clock) store.Store { return redistest.Store(t, "throttle") }

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
