package throttle_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/throttle"
)

var ctx = context.Background()

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// fail makes n attempts on a and settles each as a failure; it fails the
// test if one is refused.
func fail(t *testing.T, th *throttle.Throttle, a throttle.Attempt, n int) {
	t.Helper()
	for i := range n {
		tk, err := th.Begin(ctx, a)
		if err != nil {
			t.Fatalf("attempt %d of %d: %v", i+1, n, err)
		}
		if err := tk.Failure(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func limited(t *testing.T, err error) *throttle.LimitedError {
	t.Helper()
	var le *throttle.LimitedError
	if !errors.As(err, &le) || !errors.Is(err, throttle.ErrLimited) {
		t.Fatalf("got %v, want a *throttle.LimitedError", err)
	}
	return le
}

func TestBackOff(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store, c *clock) {
		th := throttle.New(st, throttle.Config{
			Pair:    throttle.Limit{Free: 3, Delay: time.Second, MaxDelay: 4 * time.Second, Forget: time.Hour},
			Account: throttle.Limit{Free: 100, Forget: time.Hour}, Address: throttle.Limit{Free: 100, Forget: time.Hour},
			Now: c.Now,
		})
		a := throttle.Attempt{Account: "alice", Addr: addr("203.0.113.1")}
		fail(t, th, a, 4) // 3 free, the 4th starts the back-off
		for _, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
			_, err := th.Begin(ctx, a)
			le := limited(t, err)
			if le.Scope != throttle.ScopePair || le.RetryAfter != want {
				t.Fatalf("refusal %v %v, want pair %v", le.Scope, le.RetryAfter, want)
			}
			// A refusal counts nothing: asking again right away gets the same wait.
			if _, err := th.Begin(ctx, a); limited(t, err).RetryAfter != want {
				t.Fatalf("a refusal changed the wait")
			}
			c.Add(want - time.Millisecond)
			limited(t, func() error { _, err := th.Begin(ctx, a); return err }())
			c.Add(time.Millisecond)
			fail(t, th, a, 1)
		}
		// Forget: an hour after the last failure the counter is gone. Only
		// Memory follows the fake clock; Redis expires by real time.
		c.Add(time.Hour)
		s, err := th.Status(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if s.RetryAfter != 0 {
			t.Fatalf("after Forget: %+v", s)
		}
		if _, ok := st.(*store.Memory); ok {
			for _, cs := range s.Counters {
				if cs.Failures != 0 {
					t.Fatalf("after Forget, %s holds %d", cs.Scope, cs.Failures)
				}
			}
		}
	})
}

func TestLimitedErrorText(t *testing.T) {
	e := &throttle.LimitedError{Scope: throttle.ScopeAccount, RetryAfter: 1500 * time.Millisecond}
	if e.RetryAfterSeconds() != 2 || !strings.Contains(e.Error(), "account") {
		t.Fatalf("%v %d", e, e.RetryAfterSeconds())
	}
	if (&throttle.LimitedError{}).RetryAfterSeconds() != 1 {
		t.Fatal("Retry-After must be at least 1")
	}
}

// TestSuccess: a success clears the account and pair counters, but gives the
// address back only the attempt itself.
func TestSuccess(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store, c *clock) {
		th := throttle.New(st, throttle.Config{Now: c.Now})
		a := throttle.Attempt{Account: "alice", Addr: addr("203.0.113.1")}
		fail(t, th, a, 4)
		tk, err := th.Begin(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if err := tk.Success(ctx); err != nil {
			t.Fatal(err)
		}
		if err := tk.Failure(ctx); err != nil { // a second settle is a no-op
			t.Fatal(err)
		}
		s, err := th.Status(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		got := map[throttle.Scope]int{}
		for _, cs := range s.Counters {
			got[cs.Scope] = cs.Failures
		}
		if got[throttle.ScopeAccount] != 0 || got[throttle.ScopePair] != 0 || got[throttle.ScopeAddress] != 4 {
			t.Fatalf("after success: %v", got)
		}
	})
}

// TestCancel: an attempt that was not made gives every counter back.
func TestCancel(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store, c *clock) {
		th := throttle.New(st, throttle.Config{Now: c.Now})
		a := throttle.Attempt{Account: "bob", Addr: addr("2001:db8::1")}
		fail(t, th, a, 2)
		tk, err := th.Begin(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if err := tk.Cancel(ctx); err != nil {
			t.Fatal(err)
		}
		s, _ := th.Status(ctx, a)
		for _, cs := range s.Counters {
			if cs.Failures != 2 {
				t.Fatalf("%s: %d failures after cancel, want 2", cs.Scope, cs.Failures)
			}
		}
	})
}

// TestIPv6Slash64: all addresses of one /64 are one client; the next /64 is
// another.
func TestIPv6Slash64(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store, c *clock) {
		th := throttle.New(st, throttle.Config{Address: throttle.Limit{Free: 3}, Now: c.Now})
		for i := range 4 {
			fail(t, th, throttle.Attempt{Account: fmt.Sprint("user", i), Addr: addr(fmt.Sprintf("2001:db8:1:2:%x::1", i+1))}, 1)
		}
		_, err := th.Begin(ctx, throttle.Attempt{Account: "other", Addr: addr("2001:db8:1:2:ffff:ffff:ffff:ffff")})
		if le := limited(t, err); le.Scope != throttle.ScopeAddress {
			t.Fatalf("scope %v", le.Scope)
		}
		if _, err := th.Begin(ctx, throttle.Attempt{Account: "other", Addr: addr("2001:db8:1:3::1")}); err != nil {
			t.Fatalf("the next /64: %v", err)
		}
	})
}

func TestBucket(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.9":            "203.0.113.9",
		"::ffff:203.0.113.9":     "203.0.113.9",
		"2001:db8:a:b:c:d:e:f":   "2001:db8:a:b::/64",
		"fe80::1%eth0":           "fe80::/64",
		"2001:db8:a:b::1":        "2001:db8:a:b::/64",
		"2001:db8:a:b:ffff::123": "2001:db8:a:b::/64",
	} {
		if got := throttle.Bucket(netip.MustParseAddr(in)); got != want {
			t.Errorf("Bucket(%s) = %s, want %s", in, got, want)
		}
	}
	if throttle.Bucket(netip.Addr{}) != "unknown" {
		t.Error("zero Addr")
	}
}

// TestKnownDevice: a known device is limited by its own counter only, even
// when the account, the pair and its address are all in back-off.
func TestKnownDevice(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store, c *clock) {
		th := throttle.New(st, throttle.Config{Device: throttle.Limit{Free: 2}, Now: c.Now})
		ip := addr("198.51.100.7")
		fail(t, th, throttle.Attempt{Account: "carol", Addr: ip}, 6)
		if _, err := th.Begin(ctx, throttle.Attempt{Account: "carol", Addr: ip}); err == nil {
			t.Fatal("unknown device not throttled")
		}
		dev := throttle.Attempt{Account: "carol", Addr: ip, Device: "device-1"}
		fail(t, th, dev, 3)
		if le := limited(t, func() error { _, err := th.Begin(ctx, dev); return err }()); le.Scope != throttle.ScopeDevice {
			t.Fatalf("scope %v", le.Scope)
		}
		// Another device of the same account has its own counter, and the
		// same device ID on another account is another counter too.
		if _, err := th.Begin(ctx, throttle.Attempt{Account: "carol", Addr: ip, Device: "device-2"}); err != nil {
			t.Fatal(err)
		}
		if _, err := th.Begin(ctx, throttle.Attempt{Account: "dave", Addr: addr("192.0.2.1"), Device: "device-1"}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestGlobalAttack: once the fleet's failures reach the global limit, no
// failure is free for unknown devices; known devices keep their allowance.
func TestGlobalAttack(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store, c *clock) {
		cfg := throttle.Config{Global: throttle.GlobalLimit{Failures: 20, Window: time.Minute, Refresh: time.Second}, Now: c.Now}
		th := throttle.New(st, cfg)
		other := throttle.New(st, cfg) // a second server of the fleet
		for i := range 20 {
			fail(t, th, throttle.Attempt{Account: fmt.Sprint("victim", i), Addr: addr(fmt.Sprintf("192.0.2.%d", i+1))}, 1)
		}
		fresh := throttle.Attempt{Account: "erin", Addr: addr("198.51.100.20")}
		fail(t, other, fresh, 1) // other reads the fleet's count: 20, an attack
		_, err := other.Begin(ctx, fresh)
		if le := limited(t, err); le.RetryAfter <= 0 {
			t.Fatalf("under attack, the first failure starts the back-off: %v", le)
		}
		s, _ := other.Status(ctx, fresh)
		if !s.UnderAttack {
			t.Fatal("Status does not report the attack")
		}
		dev := throttle.Attempt{Account: "erin", Addr: addr("198.51.100.20"), Device: "d"}
		fail(t, th, dev, 3)
		// Two windows later the attack is over.
		c.Add(2 * time.Minute)
		if _, err := th.Begin(ctx, throttle.Attempt{Account: "frank", Addr: addr("198.51.100.21")}); err != nil {
			t.Fatal(err)
		}
		s, _ = th.Status(ctx, fresh)
		if s.UnderAttack {
			t.Fatal("attack mode outlived its windows")
		}
	})
}

// TestParallelBegin: 50 parallel attempts on a fresh pair with Free 5 get
// exactly 6 through (the counter allows an attempt while it holds at most 5
// failures); the others are refused, none slips past.
func TestParallelBegin(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store, c *clock) {
		th := throttle.New(st, throttle.Config{Pair: throttle.Limit{Free: 5}, Now: c.Now})
		a := throttle.Attempt{Account: "grace", Addr: addr("203.0.113.50")}
		var mu sync.Mutex
		allowed, refused := 0, 0
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				_, err := th.Begin(ctx, a)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					allowed++
				case errors.Is(err, throttle.ErrLimited):
					refused++
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if allowed != 6 || refused != 44 {
			t.Fatalf("allowed %d, refused %d; want 6 and 44", allowed, refused)
		}
	})
}

// TestRaceReserve forces the race Begin guards against: two attempts both
// read the pair counter at its last free failure; the second swaps first,
// so the first's swap fails, it re-reads, and is refused.
func TestRaceReserve(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store, c *clock) {
		h := &hooked{Store: st}
		th := throttle.New(h, throttle.Config{Pair: throttle.Limit{Free: 1}, Address: throttle.Limit{Free: 100}, Account: throttle.Limit{Free: 100}, Now: c.Now})
		a := throttle.Attempt{Account: "heidi", Addr: addr("203.0.113.60")}
		fail(t, th, a, 1) // the pair holds 1 failure: one more attempt is allowed
		var once sync.Once
		second := make(chan error, 1)
		h.mu.Lock()
		h.beforeCAS = func(key string) error {
			// The first CAS of the first attempt waits until a whole second
			// attempt has been counted.
			once.Do(func() {
				h.mu.Lock()
				h.beforeCAS = nil
				h.mu.Unlock()
				_, err := th.Begin(ctx, a)
				second <- err
			})
			return nil
		}
		h.mu.Unlock()
		_, err := th.Begin(ctx, a)
		if err2 := <-second; err2 != nil {
			t.Fatalf("the attempt that swapped first: %v", err2)
		}
		if le := limited(t, err); le.Scope != throttle.ScopePair {
			t.Fatalf("the attempt that lost the swap: %v", le)
		}
		// The loser gave back what it had reserved: the address holds 2.
		s, _ := th.Status(ctx, a)
		for _, cs := range s.Counters {
			if cs.Scope == throttle.ScopeAddress && cs.Failures != 2 {
				t.Fatalf("address holds %d, want 2", cs.Failures)
			}
		}
	})
}

// TestStoreFailure: a store failure while counting is returned, and the
// counters already taken are given back.
func TestStoreFailure(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store, c *clock) {
		h := &hooked{Store: st}
		th := throttle.New(h, throttle.Config{Now: c.Now})
		a := throttle.Attempt{Account: "ivan", Addr: addr("203.0.113.70")}
		n := 0
		h.beforeCAS = func(string) error {
			n++
			if n == 3 { // the account counter, after address and pair
				return errInjected
			}
			return nil
		}
		if _, err := th.Begin(ctx, a); !errors.Is(err, errInjected) || !strings.HasPrefix(err.Error(), "throttle: ") {
			t.Fatalf("got %v", err)
		}
		h.beforeCAS = nil
		s, err := th.Status(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		for _, cs := range s.Counters {
			if cs.Failures != 0 {
				t.Fatalf("%s holds %d after a failed Begin", cs.Scope, cs.Failures)
			}
		}
		h.beforeGet = func(string) error { return errInjected }
		if _, err := th.Begin(ctx, a); !errors.Is(err, errInjected) {
			t.Fatalf("got %v", err)
		}
	})
}

// TestCorruptRecord: a value this package did not write counts as no
// counter and is replaced; it never locks anyone out.
func TestCorruptRecord(t *testing.T) {
	c := newClock()
	m := store.NewMemory(store.MemoryConfig{Now: c.Now})
	defer m.Close()
	th := throttle.New(m, throttle.Config{Now: c.Now, Prefix: "t:"})
	a := throttle.Attempt{Account: "judy", Addr: addr("203.0.113.80")}
	fail(t, th, a, 1)
	n := 0
	for k := range m.All() {
		if strings.HasPrefix(k, "t:") && !strings.HasPrefix(k, "t:g:") {
			if err := m.Set(ctx, k, []byte("\x01garbage-garbage"), c.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	if n != 3 {
		t.Fatalf("%d counter keys, want 3", n)
	}
	fail(t, th, a, 1)
	s, _ := th.Status(ctx, a)
	for _, cs := range s.Counters {
		if cs.Failures != 1 {
			t.Fatalf("%s: %d", cs.Scope, cs.Failures)
		}
	}
}

func TestTake(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store, c *clock) {
		th := throttle.New(st, throttle.Config{Now: c.Now})
		r := throttle.Rate{Limit: 3, Per: 10 * time.Minute}
		for range 3 {
			if err := th.Take(ctx, "link", "kim@example.com", r); err != nil {
				t.Fatal(err)
			}
		}
		c.Add(time.Minute)
		le := limited(t, th.Take(ctx, "link", "kim@example.com", r))
		if le.Scope != "link" || le.RetryAfter != 9*time.Minute {
			t.Fatalf("%v", le)
		}
		if err := th.Take(ctx, "code", "kim@example.com", r); err != nil {
			t.Fatalf("another scope: %v", err)
		}
		c.Add(9 * time.Minute)
		if err := th.Take(ctx, "link", "kim@example.com", r); err != nil {
			t.Fatalf("next window: %v", err)
		}
	})
}

func TestNewPanics(t *testing.T) {
	m := store.NewMemory(store.MemoryConfig{})
	defer m.Close()
	for name, cfg := range map[string]throttle.Config{
		"negative delay":  {Pair: throttle.Limit{Delay: -1}},
		"max below delay": {Account: throttle.Limit{Delay: time.Hour, MaxDelay: time.Minute}},
		"forget below":    {Device: throttle.Limit{MaxDelay: time.Hour, Forget: time.Minute}},
		"global window":   {Global: throttle.GlobalLimit{Window: -time.Second}},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			throttle.New(m, cfg)
		})
	}
}
