package token

import (
	"context"
	"github.com/authkit/authkit/internal/clocktest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authkit/authkit/store"
)

// clock is a settable time source shared by a Manager and its store.
// clock is the tests' fake clock.
type clock = clocktest.Clock

func newClock() *clock { return clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)) }

// countingStore counts the calls made to the store it wraps.
type countingStore struct {
	store.Store
	gets, sets, deletes, cas atomic.Int64
}

func (s *countingStore) Get(ctx context.Context, key string) ([]byte, error) {
	s.gets.Add(1)
	return s.Store.Get(ctx, key)
}

func (s *countingStore) Set(ctx context.Context, key string, v []byte, exp time.Time) error {
	s.sets.Add(1)
	return s.Store.Set(ctx, key, v, exp)
}

func (s *countingStore) Delete(ctx context.Context, key string) error {
	s.deletes.Add(1)
	return s.Store.Delete(ctx, key)
}

func (s *countingStore) CompareAndSwap(ctx context.Context, key string, old, new []byte, exp time.Time) (bool, error) {
	s.cas.Add(1)
	return s.Store.CompareAndSwap(ctx, key, old, new, exp)
}

func (s *countingStore) total() int64 {
	return s.gets.Load() + s.sets.Load() + s.deletes.Load() + s.cas.Load()
}

func (s *countingStore) writes() int64 { return s.sets.Load() + s.deletes.Load() + s.cas.Load() }

func (s *countingStore) reset() {
	s.gets.Store(0)
	s.sets.Store(0)
	s.deletes.Store(0)
	s.cas.Store(0)
}

// env is a Manager on a counted store.
type env struct {
	m     *Manager
	st    *countingStore
	mem   *store.Memory // nil when the store is not a Memory
	clock *clock        // nil when the Manager runs on real time
}

// backend is a store a test runs against.
type backend struct {
	name string
	// fakeClock reports whether the store follows a clock the test sets;
	// stores on a server run on real time.
	fakeClock bool
	open      func(t testing.TB, now func() time.Time) (store.Store, *store.Memory)
}

var memoryBackend = backend{
	name:      "memory",
	fakeClock: true,
	open: func(t testing.TB, now func() time.Time) (store.Store, *store.Memory) {
		m := store.NewMemory(store.MemoryConfig{Now: now})
		t.Cleanup(func() { m.Close() })
		return m, m
	},
}

// backends are the stores every store-facing test runs against: the
// in-memory store always, plus those added by backendsExtra.
func backends() []backend { return append([]backend{memoryBackend}, backendsExtra...) }

// backendsExtra is filled in by files that add server-backed stores.
var backendsExtra []backend

// newEnv returns a Manager configured by cfg on b. With a fake-clock backend
// the Manager and store share a settable clock.
func newEnv(t *testing.T, b backend, cfg Config) *env {
	t.Helper()
	e := &env{}
	var now func() time.Time
	if b.fakeClock {
		e.clock = newClock()
		now = e.clock.Now
		cfg.Now = now
	}
	st, mem := b.open(t, now)
	e.mem = mem
	e.st = &countingStore{Store: st}
	e.m = New(e.st, cfg)
	return e
}

// newMemEnv is newEnv on the in-memory store.
func newMemEnv(t *testing.T, cfg Config) *env { return newEnv(t, memoryBackend, cfg) }

// forEachBackend runs f as a subtest per backend.
func forEachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) { f(t, b) })
	}
}
