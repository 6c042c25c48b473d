package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/authkit/authkit/store"
)

// Run runs the conformance suite against the Store implementation that
// newStore creates. newStore is called once per test case, from that case's
// subtest, and must return an empty store that no other case shares; the
// cases of a group run in parallel. Run returns when every subtest has
// finished, so the caller may release shared resources with defer.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	if newStore == nil {
		t.Fatal("storetest: newStore is nil")
	}
	r := newReport()
	run(stdT{t}, r, func(tt testingT) store.Store { return newStore(tt.(stdT).T) })
	// Reported here, from the caller's goroutine, so that each line points
	// at the caller's test rather than into the suite.
	for _, line := range r.lines() {
		t.Errorf("storetest: %s", line)
	}
}

// Env returns the value of the environment variable name, or skips the test
// with a message naming the variable when it is unset or empty. Tests of
// stores on a real server use it for the server's address.
func Env(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Skipf("%s is not set: skipping the tests that need it", name)
	}
	return v
}

// UniqueID returns 16 random lowercase hex characters, different on every
// call. It names what isolates one store from another on a shared server: a
// Redis key prefix, an SQL table name.
func UniqueID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// testingT is the part of *testing.T the suite uses. The suite runs on it
// rather than on *testing.T so that its own tests can run it against broken
// stores and observe which subtests fail. Failures are described in the
// suite's report, not through the testingT: a subtest only marks itself
// failed.
type testingT interface {
	Helper()
	Fail()
	FailNow()
	Logf(format string, args ...any)
	Failed() bool
	Parallel()
	Cleanup(func())
	Context() context.Context
	Run(name string, f func(t testingT)) bool
}

// stdT adapts *testing.T to testingT.
type stdT struct{ *testing.T }

func (t stdT) Run(name string, f func(t testingT)) bool {
	t.T.Helper()
	return t.T.Run(name, func(t *testing.T) { f(stdT{t}) })
}

// Lifetimes used by the suite.
const (
	// shortLife is how long entries that must expire during a test live.
	shortLife = 150 * time.Millisecond
	// clockSlack is how long after an expiry the suite waits before it
	// requires the entry to be gone: the server's clock and its expiry
	// resolution (milliseconds in Redis and SQL) may differ a little.
	clockSlack = 50 * time.Millisecond
	// opTimeout bounds every subtest, so a hung store fails instead of
	// stalling the whole test binary.
	opTimeout = 30 * time.Second
)

// later returns the expiry of entries that must outlive the test: long enough
// for the slowest machine, short enough that keys left on a shared server
// vanish soon.
func later() time.Time { return time.Now().Add(time.Minute) }

// testCtx returns the context a subtest's store calls use.
func testCtx(t testingT) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), opTimeout)
	t.Cleanup(cancel)
	return ctx
}

// show formats a key or value for a failure message, shortening long ones.
func show[S ~string | ~[]byte](v S) string {
	if b, ok := any(v).([]byte); ok && b == nil {
		return "nil"
	}
	const max = 24
	if len(v) <= max {
		return fmt.Sprintf("%q", v)
	}
	return fmt.Sprintf("%q… (%d bytes)", v[:max], len(v))
}

// checker bundles a subtest, its store and context for the assertion helpers.
type checker struct {
	t    testingT
	name string // the subtest's name below Run's test, e.g. "Keys/Invalid"
	r    *report
	s    store.Store
	ctx  context.Context
}

func newChecker(t testingT, name string, r *report, newStore func(testingT) store.Store) *checker {
	t.Helper()
	c := &checker{t: t, name: name, r: r, ctx: testCtx(t)}
	if c.s = newStore(t); c.s == nil {
		c.fatalf("newStore", "returned nil", "newStore returned nil")
	}
	return c
}

// sub returns a checker for the subtest t named name, on c's store.
func (c *checker) sub(t testingT, name string) *checker {
	return &checker{t: t, name: c.name + "/" + name, r: c.r, s: c.s, ctx: c.ctx}
}

// errorf records a failure of method against rule and marks the subtest
// failed. format and args describe this occurrence.
func (c *checker) errorf(method, rule, format string, args ...any) {
	c.r.add(c.name, method, rule, fmt.Sprintf(format, args...))
	c.t.Fail()
}

// fatalf is errorf that also ends the subtest.
func (c *checker) fatalf(method, rule, format string, args ...any) {
	c.r.add(c.name, method, rule, fmt.Sprintf(format, args...))
	c.t.FailNow()
}

// set stores value under key and fails the test on error.
func (c *checker) set(key string, value []byte, exp time.Time) {
	c.t.Helper()
	if err := c.s.Set(c.ctx, key, value, exp); err != nil {
		c.fatalf("Set", "failed", "Set(%s, %s) = %v, want nil", show(key), show(value), err)
	}
}

// del deletes key and fails the test on error.
func (c *checker) del(key string) {
	c.t.Helper()
	if err := c.s.Delete(c.ctx, key); err != nil {
		c.fatalf("Delete", "failed", "Delete(%s) = %v, want nil", show(key), err)
	}
}

// cas runs CompareAndSwap, fails the test on error and reports a result other
// than want.
func (c *checker) cas(key string, old, new []byte, exp time.Time, want bool) {
	c.t.Helper()
	got, err := c.s.CompareAndSwap(c.ctx, key, old, new, exp)
	if err != nil {
		c.fatalf("CompareAndSwap", "failed", "CompareAndSwap(%s, old %s, new %s) = %v, want (%v, nil)", show(key), show(old), show(new), err, want)
	}
	if got != want {
		c.errorf("CompareAndSwap", "reported the wrong outcome", "CompareAndSwap(%s, old %s, new %s) = %v, want %v", show(key), show(old), show(new), got, want)
	}
}

// has requires key to hold want.
func (c *checker) has(key string, want []byte) {
	c.t.Helper()
	got, err := c.s.Get(c.ctx, key)
	if err != nil {
		c.errorf("Get", "lost a stored value", "Get(%s) = %v, want value %s", show(key), err, show(want))
		return
	}
	if !bytes.Equal(got, want) {
		c.errorf("Get", "returned the wrong value", "Get(%s) = %s, want %s", show(key), show(got), show(want))
	}
}

// absent requires Get(key) to report ErrNotFound.
func (c *checker) absent(key string) {
	c.t.Helper()
	got, err := c.s.Get(c.ctx, key)
	switch {
	case err == nil:
		c.errorf("Get", "returned a value that must be absent", "Get(%s) = %s, want ErrNotFound", show(key), show(got))
	case !errors.Is(err, store.ErrNotFound):
		c.errorf("Get", "want ErrNotFound", "Get(%s) error = %v, want ErrNotFound", show(key), err)
	case got != nil:
		c.errorf("Get", "returned a value with ErrNotFound", "Get(%s) = %s with ErrNotFound, want a nil value", show(key), show(got))
	}
}

// hasBefore requires key to hold want, if the Get finishes before deadline;
// a Get that ends later may legitimately miss an entry expiring at deadline.
func (c *checker) hasBefore(key string, want []byte, deadline time.Time) {
	c.t.Helper()
	got, err := c.s.Get(c.ctx, key)
	if !time.Now().Before(deadline) {
		c.t.Logf("Get(%s) finished after the entry's expiry; not checking its result", show(key))
		return
	}
	if err != nil {
		c.errorf("Get", "lost a stored value", "Get(%s) = %v before expiry, want value %s", show(key), err, show(want))
		return
	}
	if !bytes.Equal(got, want) {
		c.errorf("Get", "returned the wrong value", "Get(%s) = %s before expiry, want %s", show(key), show(got), show(want))
	}
}

// wantErr requires err to satisfy errors.Is(err, target). call describes the
// call, starting with the method's name, for example `Get(key "a b")`.
func (c *checker) wantErr(call string, err, target error) {
	c.t.Helper()
	if !errors.Is(err, target) {
		method, _, _ := strings.Cut(call, "(")
		c.errorf(method, "want "+errName(target), "%s error = %v, want %v", call, err, target)
	}
}

// errName names the errors the suite expects, for the report.
func errName(err error) string {
	switch err {
	case store.ErrNotFound:
		return "ErrNotFound"
	case store.ErrInvalidKey:
		return "ErrInvalidKey"
	case store.ErrInvalidValue:
		return "ErrInvalidValue"
	case store.ErrInvalidExpiry:
		return "ErrInvalidExpiry"
	case context.Canceled:
		return "context.Canceled"
	case context.DeadlineExceeded:
		return "context.DeadlineExceeded"
	}
	return err.Error()
}

// sleepUntil sleeps until deadline plus the clock slack.
func sleepUntil(deadline time.Time) {
	time.Sleep(time.Until(deadline.Add(clockSlack)))
}
