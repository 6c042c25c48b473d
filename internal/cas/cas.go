// Package cas runs read-modify-write updates on a store.Store with
// CompareAndSwap, retrying on conflict a bounded number of times with jittered
// backoff.
//
// Every multi-writer record in authkit (merged session data, per-user
// indexes, refresh-token families, JWT revocation records) is updated this
// way, so concurrent writers on different servers never lose each other's
// changes, and a storm of writers on one key gives up with ErrConflict
// instead of spinning forever.
package cas

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/authkit/authkit/store"
)

// ErrConflict is returned when an update lost the race on every attempt.
var ErrConflict = errors.New("cas: too many concurrent updates")

// ErrNoChange can be returned by an update function to leave the record as it
// is; Update then returns nil without writing.
var ErrNoChange = errors.New("cas: no change")

// Policy bounds the retries of [Update]. The zero Policy means
// DefaultPolicy.
type Policy struct {
	// Attempts is the number of read-modify-write rounds before ErrConflict.
	Attempts int
	// BaseDelay is the upper bound of the random wait after the first
	// conflict; it doubles after each further conflict up to MaxDelay.
	BaseDelay time.Duration
	// MaxDelay caps the random wait between attempts.
	MaxDelay time.Duration
}

// DefaultPolicy tolerates a few hundred concurrent writers on one key on a
// local store and dozens on a network store: up to 64 rounds, waiting a random
// 0..50µs after the first conflict, doubling to at most 20ms.
var DefaultPolicy = Policy{Attempts: 64, BaseDelay: 50 * time.Microsecond, MaxDelay: 20 * time.Millisecond}

func (p Policy) withDefaults() Policy {
	if p.Attempts <= 0 {
		p.Attempts = DefaultPolicy.Attempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = DefaultPolicy.BaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = DefaultPolicy.MaxDelay
	}
	return p
}

// UpdateFunc computes the next value of a record from its current value (nil
// when absent). Returning a nil or empty next deletes the record; returning
// ErrNoChange leaves it untouched; any other error aborts the update and is
// returned by Update. It may be called several times and must not have side
// effects beyond its result.
type UpdateFunc func(cur []byte) (next []byte, expiresAt time.Time, err error)

// Update applies fn to the record under key until its CompareAndSwap wins,
// at most p.Attempts times. It returns nil, fn's error, a store error, the
// context's error, or ErrConflict.
func Update(ctx context.Context, st store.Store, key string, p Policy, fn UpdateFunc) error {
	_, err := Do(ctx, st, key, p, func(cur []byte) ([]byte, time.Time, struct{}, error) {
		next, exp, err := fn(cur)
		return next, exp, struct{}{}, err
	})
	return err
}

// Do is [Update] for a function that also computes a result: it returns the
// result of the attempt whose write won (or that returned ErrNoChange), so a
// caller never sees a value computed by an attempt that lost the race and
// never has to reset captured variables at the start of each attempt.
//
// fn computes the next value of the record from its current value (nil when
// absent), its expiry and a result. A nil or empty next deletes the record;
// ErrNoChange leaves it untouched and makes Do return fn's result with a nil
// error; any other error aborts the update and is returned with fn's result
// (so fn can describe what it refused). fn may be called several times and
// must not have side effects beyond its results.
//
// A CompareAndSwap that fails with an error — its outcome unknown, since a
// store never re-sends a write it is not sure of — ends the loop with that
// error and the zero result: the caller must treat the write as possibly
// applied.
func Do[R any](ctx context.Context, st store.Store, key string, p Policy, fn func(cur []byte) (next []byte, expiresAt time.Time, r R, err error)) (R, error) {
	var zero R
	p = p.withDefaults()
	delay := p.BaseDelay
	for attempt := 0; attempt < p.Attempts; attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, rand.N(delay)+1); err != nil {
				return zero, err
			}
			delay = min(delay*2, p.MaxDelay)
		}
		cur, err := st.Get(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			cur, err = nil, nil
		}
		if err != nil {
			return zero, err
		}
		next, exp, r, err := fn(cur)
		if errors.Is(err, ErrNoChange) {
			return r, nil
		}
		if err != nil {
			return r, err
		}
		if len(cur) == 0 && len(next) == 0 {
			return r, nil // absent, and stays absent
		}
		ok, err := st.CompareAndSwap(ctx, key, cur, next, exp)
		if err != nil {
			return zero, err
		}
		if ok {
			return r, nil
		}
	}
	return zero, ErrConflict
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
