package store

import (
	"context"
	"time"
)

// WithTimeout returns a Store that bounds every call to s by d: each method
// runs with a context that ends d after the call begins (or earlier, if the
// caller's context ends first). It panics if d is not positive.
//
// Wrap a network store with it so that a stalled server — a Redis paused by
// its host, a database waiting on a lock — turns into a prompt error, which
// authkit.Guard answers with 503 and Retry-After, instead of requests piling
// up until the client gives up. Pick d well above the store's normal latency
// (tens of milliseconds to a second). The adapter must honour contexts:
// redisstore does, as it requires a go-redis client with
// ContextTimeoutEnabled; sqlstore does through database/sql.
//
// store.Memory never blocks and needs no timeout.
func WithTimeout(s Store, d time.Duration) Store {
	if d <= 0 {
		panic("store: WithTimeout needs a positive duration")
	}
	if t, ok := s.(*timeoutStore); ok {
		s = t.s // re-wrapping replaces the bound rather than nesting it
	}
	return &timeoutStore{s: s, d: d}
}

type timeoutStore struct {
	s Store
	d time.Duration
}

func (t *timeoutStore) Get(ctx context.Context, key string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.Get(ctx, key)
}

func (t *timeoutStore) Set(ctx context.Context, key string, value []byte, expiresAt time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.Set(ctx, key, value, expiresAt)
}

func (t *timeoutStore) Delete(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.Delete(ctx, key)
}

func (t *timeoutStore) CompareAndSwap(ctx context.Context, key string, old, new []byte, expiresAt time.Time) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.CompareAndSwap(ctx, key, old, new, expiresAt)
}
