package main

import (
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"time"

	"github.com/authkit/authkit/store"
)

// throttle limits password attempts per account and per client IP with
// fixed-window counters in the store, so that every instance sharing the
// store shares the limits.
//
// An attempt is counted before the password is checked (reserve), so that
// concurrent attempts cannot slip past the limit; a successful login gives
// the attempt back (succeeded). Unknown user names have counters like real
// ones: the throttle reveals nothing about which accounts exist.
//
// A per-account limit lets anyone keep an account throttled by failing on
// purpose. Real deployments soften that with a CAPTCHA or a second factor
// after the limit, or with an allowance per (account, device) pair; the demo
// keeps the two simple counters.
type throttle struct {
	st         store.Store
	now        func() time.Time
	window     time.Duration
	perAccount int
	perIP      int
}

// errThrottled is returned by reserve with the time until the window ends.
type errThrottled struct{ retryAfter time.Duration }

func (e *errThrottled) Error() string { return "too many attempts" }

func accountCounterKey(username string) string { return storeKey("demo:thr:acct:", username) }
func ipCounterKey(ip netip.Addr) string        { return storeKey("demo:thr:ip:", ip.String()) }

// reserve counts one attempt against username and ip, or returns an
// *errThrottled when either has used up its window.
func (t *throttle) reserve(ctx context.Context, username string, ip netip.Addr) error {
	if err := t.take(ctx, ipCounterKey(ip), t.perIP); err != nil {
		return err
	}
	if err := t.take(ctx, accountCounterKey(username), t.perAccount); err != nil {
		var th *errThrottled
		if errors.As(err, &th) {
			// Give the IP its attempt back: nothing was tried.
			if uerr := t.give(ctx, ipCounterKey(ip)); uerr != nil {
				return uerr
			}
		}
		return err
	}
	return nil
}

// succeeded clears the account's counter and gives the IP its attempt back.
func (t *throttle) succeeded(ctx context.Context, username string, ip netip.Addr) error {
	return errors.Join(t.st.Delete(ctx, accountCounterKey(username)), t.give(ctx, ipCounterKey(ip)))
}

// A counter is 12 bytes: the window start in Unix milliseconds and the count.
func encodeCounter(start int64, n uint32) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(start))
	return binary.BigEndian.AppendUint32(b, n)
}

func decodeCounter(b []byte) (start int64, n uint32, ok bool) {
	if len(b) != 12 {
		return 0, 0, false
	}
	return int64(binary.BigEndian.Uint64(b)), binary.BigEndian.Uint32(b[8:]), true
}

func (t *throttle) take(ctx context.Context, key string, limit int) error {
	for range 16 {
		now := t.now()
		old, err := t.st.Get(ctx, key)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		start, n, ok := decodeCounter(old)
		end := time.UnixMilli(start).Add(t.window)
		if !ok || !now.Before(end) {
			// No counter (old is nil: the swap is "only if absent"), a
			// corrupt one or one of a past window: start a new window.
			start, n, end = now.UnixMilli(), 0, now.Add(t.window)
		}
		if int(n) >= limit {
			return &errThrottled{retryAfter: end.Sub(now)}
		}
		swapped, err := t.st.CompareAndSwap(ctx, key, old, encodeCounter(start, n+1), end)
		if err != nil {
			return err
		}
		if swapped {
			return nil
		}
	}
	return errConflict
}

func (t *throttle) give(ctx context.Context, key string) error {
	for range 16 {
		old, err := t.st.Get(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		start, n, ok := decodeCounter(old)
		if !ok || n == 0 {
			return nil
		}
		end := time.UnixMilli(start).Add(t.window)
		swapped, err := t.st.CompareAndSwap(ctx, key, old, encodeCounter(start, n-1), end)
		if err != nil {
			return err
		}
		if swapped {
			return nil
		}
	}
	return errConflict
}
