package throttle

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/authkit/authkit/internal/cas"
)

// countGlobal adds one failure to a random shard of the fleet-wide count.
func (t *Throttle) countGlobal(ctx context.Context) error {
	if t.global.failures < 0 {
		return nil
	}
	start := t.windowStart(t.now())
	exp := time.UnixMilli(start).Add(2 * t.global.window)
	err := cas.Update(ctx, t.st, t.globalKey(rand.IntN(globalShards)), t.policy, func(cur []byte) ([]byte, time.Time, error) {
		w, err := decodeWindow(cur)
		if err != nil || w.start != start {
			w = window{start: start}
		}
		w.count = min(w.count+1, maxFailures)
		return w.encode(), exp, nil
	})
	if err != nil {
		return wrap(err)
	}
	return nil
}

// windowStart aligns now to the global window, so that every server counts
// into the same window.
func (t *Throttle) windowStart(now time.Time) int64 {
	ms, w := now.UnixMilli(), t.global.window.Milliseconds()
	return max(ms-ms%w, 1)
}

// underAttack reports whether the fleet's failures in the current or the
// previous window reached GlobalLimit.Failures. The count is re-read at most
// once per Refresh by one goroutine; the others use the last value, and a
// read error keeps it.
func (t *Throttle) underAttack(ctx context.Context, now time.Time) bool {
	if t.global.failures < 0 {
		return false
	}
	t.mu.Lock()
	if t.gBusy || (!t.gFetched.IsZero() && now.Sub(t.gFetched) < t.global.refresh && now.Sub(t.gFetched) >= 0) {
		a := t.gAttack
		t.mu.Unlock()
		return a
	}
	t.gBusy = true
	t.mu.Unlock()

	cur, prev, err := t.globalCounts(ctx, now)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.gBusy = false
	if err != nil {
		t.log.WarnContext(ctx, "throttle: reading the global failure count", "err", err)
		return t.gAttack
	}
	t.gFetched = now
	t.gAttack = cur >= int64(t.global.failures) || prev >= int64(t.global.failures)
	return t.gAttack
}

// globalCounts sums the shards' failures in the current and previous window.
func (t *Throttle) globalCounts(ctx context.Context, now time.Time) (cur, prev int64, err error) {
	start := t.windowStart(now)
	for i := range globalShards {
		v, err := t.get(ctx, t.globalKey(i))
		if err != nil {
			return 0, 0, err
		}
		w, err := decodeWindow(v)
		if err != nil {
			continue
		}
		switch w.start {
		case start:
			cur += int64(w.count)
		case start - t.global.window.Milliseconds():
			prev += int64(w.count)
		}
	}
	return cur, prev, nil
}
