// Package clocktest is the fake clock authkit's tests inject through the
// Now fields of its configurations, so that expiry, idle timeouts, back-off
// and rotation schedules are tested by moving time rather than waiting.
//
// A Clock is safe for concurrent use. [New] gives a clock standing at a
// fixed time until moved; [FromNow] gives real time plus an offset, for
// tests that also use real timers or a network peer with its own clock.
package clocktest

import (
	"sync/atomic"
	"time"
)

// Clock is a settable clock. Its Now method fits every Config.Now field.
type Clock struct {
	base   time.Time
	real   bool
	offset atomic.Int64 // nanoseconds added to base (or to the real time)
}

// New returns a Clock standing at t.
func New(t time.Time) *Clock { return &Clock{base: t} }

// FromNow returns a Clock that follows the real time, plus whatever Add
// and Set add.
func FromNow() *Clock { return &Clock{real: true} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	base := c.base
	if c.real {
		base = time.Now()
	}
	return base.Add(time.Duration(c.offset.Load()))
}

// Add moves the clock by d (backwards when d is negative).
func (c *Clock) Add(d time.Duration) { c.offset.Add(int64(d)) }

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	base := c.base
	if c.real {
		base = time.Now()
	}
	c.offset.Store(int64(t.Sub(base)))
}
