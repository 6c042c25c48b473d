package throttle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/authkit/authkit/internal/cas"
	"github.com/authkit/authkit/internal/keyhash"
)

// Rate is a fixed-window limit on requests: at most Limit per Per. It suits
// actions that are not guesses — sending a login link or a code — where
// every request costs the recipient a message.
type Rate struct {
	Limit int
	Per   time.Duration
}

// Take counts one request against the window of key within scope (for
// example scope "link-address", key the email address), or refuses it with
// a [*LimitedError] whose Scope is scope when the window is full. A refusal
// counts nothing. Keys are hashed before they reach the store.
//
// It panics if r.Limit or r.Per is not positive (a programming error).
func (t *Throttle) Take(ctx context.Context, scope, key string, r Rate) error {
	if r.Limit <= 0 || r.Per <= 0 {
		panic("throttle: Rate needs a positive Limit and Per")
	}
	k := t.prefix + "r:" + keyhash.Key("", scope+"\x00"+key)
	err := cas.Update(ctx, t.st, k, t.policy, func(cur []byte) ([]byte, time.Time, error) {
		now := t.now()
		w, err := decodeWindow(cur)
		end := time.UnixMilli(w.start).Add(r.Per)
		if err != nil || len(cur) == 0 || !now.Before(end) || end.Sub(now) > r.Per {
			// No window, a corrupt one, an ended one, or one from a clock
			// far ahead: start a new window now.
			w, end = window{start: max(now.UnixMilli(), 1)}, now.Add(r.Per)
		}
		if int64(w.count) >= int64(r.Limit) {
			return nil, time.Time{}, &LimitedError{Scope: Scope(scope), RetryAfter: end.Sub(now)}
		}
		w.count++
		return w.encode(), end, nil
	})
	return wrap(err)
}

// wrap prefixes a store or CompareAndSwap error; a refusal and nil pass
// through unchanged.
func wrap(err error) error {
	if err == nil || errors.Is(err, ErrLimited) {
		return err
	}
	return fmt.Errorf("throttle: %w", err)
}

// CounterState is the state of one counter, for status pages.
type CounterState struct {
	Scope      Scope
	Failures   int           // failures (and attempts in flight) counted
	Free       int           // failures allowed before back-off
	RetryAfter time.Duration // 0 when an attempt is allowed now
}

// Status is what [Throttle.Status] reports about an attempt.
type Status struct {
	Counters    []CounterState // the counters the attempt would be checked against
	UnderAttack bool           // the fleet-wide failure rate is over its limit
	RetryAfter  time.Duration  // the longest wait of the counters; 0: allowed now
}

// Status reports, without counting anything, the counters an attempt would
// be checked against. It reads one store key per counter (and the global
// shards when their cached count is stale).
func (t *Throttle) Status(ctx context.Context, a Attempt) (Status, error) {
	now := t.now()
	var st Status
	st.UnderAttack = t.underAttack(ctx, now)
	attack := a.Device == "" && st.UnderAttack
	for _, s := range t.slots(a) {
		v, err := t.get(ctx, s.key)
		if err != nil {
			return Status{}, err
		}
		c, _ := decodeCounter(v)
		free := t.free(s.lim, attack)
		w := max(s.lim.wait(c, free, now), 0)
		st.Counters = append(st.Counters, CounterState{Scope: s.lim.scope, Failures: int(c.failures), Free: free, RetryAfter: w})
		st.RetryAfter = max(st.RetryAfter, w)
	}
	return st, nil
}
