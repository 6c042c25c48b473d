package keyring

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authkit/authkit/internal/clocktest"
	"github.com/authkit/authkit/internal/redistest"
	"github.com/authkit/authkit/store"
)

// testKEKs returns a fresh key-encryption key.
func testKEKs(t testing.TB) []*KEK {
	t.Helper()
	keks, err := ParseKEKs(GenerateKEK())
	if err != nil {
		t.Fatal(err)
	}
	return keks
}

// memoryStore returns a Memory store on clk without a background sweep.
func memoryStore(t testing.TB, clk *clocktest.Clock) *store.Memory {
	m := store.NewMemory(store.MemoryConfig{Now: clk.Now, SweepInterval: -1})
	t.Cleanup(func() { m.Close() })
	return m
}

// redisStore returns a store on the Redis at AUTHKIT_REDIS_ADDR (see
// internal/redistest).
func redisStore(t testing.TB) store.Store { return redistest.Store(t, "keyring") }

// hookStore wraps a Store: it can hold the Gets of keyring records until a
// given number of callers have arrived, so that concurrent writers all read
// the same record before any of them writes (a forced race, not a hoped-for
// one), it can fail calls, and it reports every successful write.
type hookStore struct {
	store.Store
	mu       sync.Mutex
	barriers map[string]*barrier
	fail     func(op, key string) error
	onWrite  func(key string, value []byte)
	gets     atomic.Int64
}

type barrier struct {
	n       int
	arrived int
	release chan struct{}
}

func newHookStore(st store.Store) *hookStore {
	return &hookStore{Store: st, barriers: map[string]*barrier{}}
}

// arm makes the next n Gets of key wait for one another.
func (h *hookStore) arm(key string, n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.barriers[key] = &barrier{n: n, release: make(chan struct{})}
}

// disarm removes every barrier that was not reached.
func (h *hookStore) disarm() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, b := range h.barriers {
		close(b.release)
		delete(h.barriers, k)
	}
}

func (h *hookStore) Get(ctx context.Context, key string) ([]byte, error) {
	if strings.HasPrefix(key, storePrefix) {
		h.gets.Add(1)
	}
	if err := h.failed("get", key); err != nil {
		return nil, err
	}
	h.mu.Lock()
	b := h.barriers[key]
	if b != nil {
		b.arrived++
		if b.arrived == b.n {
			delete(h.barriers, key)
			close(b.release)
		}
	}
	h.mu.Unlock()
	if b != nil {
		select {
		case <-b.release:
		case <-time.After(10 * time.Second):
			panic("hookStore: barrier on " + key + " never filled")
		}
	}
	return h.Store.Get(ctx, key)
}

func (h *hookStore) CompareAndSwap(ctx context.Context, key string, old, new []byte, exp time.Time) (bool, error) {
	if err := h.failed("cas", key); err != nil {
		return false, err
	}
	ok, err := h.Store.CompareAndSwap(ctx, key, old, new, exp)
	if ok && err == nil && h.onWrite != nil {
		h.onWrite(key, new)
	}
	return ok, err
}

func (h *hookStore) failed(op, key string) error {
	h.mu.Lock()
	f := h.fail
	h.mu.Unlock()
	if f != nil {
		return f(op, key)
	}
	return nil
}
