package revmodel_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/authkit/authkit/store"
)

// errFault is the error of an injected store failure.
var errFault = errors.New("revmodel: injected store fault")

// flaky wraps a store and, while on, fails a fraction of the calls made with
// a context carrying a client's random source: half of those failures before
// the call reaches the store, half after it took effect (the reply lost).
// It also sleeps a few microseconds before some calls, to shake the
// interleavings. Calls without a client's source (the final probes) pass
// untouched.
type flaky struct {
	store.Store
	on   atomic.Bool
	rate float64 // probability that a call fails

	injected, applied atomic.Int64 // failures injected; of those, after applying
}

type rngKey struct{}

// clientRNG is one client's random source. Only that client's goroutine
// uses it, so its draws follow from the seed.
type clientRNG struct{ *rand.Rand }

func withRNG(ctx context.Context, r *rand.Rand) context.Context {
	return context.WithValue(ctx, rngKey{}, clientRNG{r})
}

// fault decides the fate of one call: 0 pass, 1 fail before, 2 fail after.
func (f *flaky) fault(ctx context.Context) int {
	r, ok := ctx.Value(rngKey{}).(clientRNG)
	if !ok || !f.on.Load() {
		return 0
	}
	if r.IntN(4) == 0 {
		time.Sleep(time.Duration(r.IntN(50)) * time.Microsecond)
	}
	if r.Float64() >= f.rate {
		return 0
	}
	f.injected.Add(1)
	if r.IntN(2) == 0 {
		return 1
	}
	f.applied.Add(1)
	return 2
}

func (f *flaky) Get(ctx context.Context, key string) ([]byte, error) {
	if f.fault(ctx) != 0 { // a read has no effect to lose
		return nil, errFault
	}
	return f.Store.Get(ctx, key)
}

func (f *flaky) Set(ctx context.Context, key string, value []byte, exp time.Time) error {
	switch f.fault(ctx) {
	case 1:
		return errFault
	case 2:
		if err := f.Store.Set(ctx, key, value, exp); err != nil {
			return err
		}
		return errFault
	}
	return f.Store.Set(ctx, key, value, exp)
}

func (f *flaky) Delete(ctx context.Context, key string) error {
	switch f.fault(ctx) {
	case 1:
		return errFault
	case 2:
		if err := f.Store.Delete(ctx, key); err != nil {
			return err
		}
		return errFault
	}
	return f.Store.Delete(ctx, key)
}

func (f *flaky) CompareAndSwap(ctx context.Context, key string, old, new []byte, exp time.Time) (bool, error) {
	switch f.fault(ctx) {
	case 1:
		return false, errFault
	case 2:
		if _, err := f.Store.CompareAndSwap(ctx, key, old, new, exp); err != nil {
			return false, err
		}
		return false, errFault
	}
	return f.Store.CompareAndSwap(ctx, key, old, new, exp)
}
