package throttle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/authkit/authkit/internal/cas"
	"github.com/authkit/authkit/internal/keyhash"
	"github.com/authkit/authkit/store"
)

// ErrLimited matches every refusal of this package: errors.Is(err,
// ErrLimited). The error itself is a [*LimitedError] carrying the wait.
var ErrLimited = errors.New("throttle: too many attempts")

// Scope names the counter that refused an attempt, for logs and events.
type Scope string

// The counters of a sign-in attempt.
const (
	ScopeAccount Scope = "account" // all attempts on one account name
	ScopeAddress Scope = "address" // all attempts from one client address (IPv6: its /64)
	ScopePair    Scope = "pair"    // attempts on one account from one address
	ScopeDevice  Scope = "device"  // attempts on one account from one known device
)

// LimitedError is the refusal: the attempt was not counted and may be made
// again after RetryAfter. Answer it with HTTP 429 and a Retry-After header.
type LimitedError struct {
	Scope      Scope
	RetryAfter time.Duration
}

// Error says which counter refused and for how long; it holds no account
// name or address.
func (e *LimitedError) Error() string {
	return fmt.Sprintf("throttle: too many attempts (%s); retry after %v", e.Scope, e.RetryAfter.Round(time.Millisecond))
}

// Is makes errors.Is(err, ErrLimited) true.
func (e *LimitedError) Is(target error) bool { return target == ErrLimited }

// RetryAfterSeconds is RetryAfter rounded up to whole seconds, at least 1:
// the value for an HTTP Retry-After header.
func (e *LimitedError) RetryAfterSeconds() int {
	return max(int((e.RetryAfter+time.Second-1)/time.Second), 1)
}

// Limit configures the back-off of one kind of counter. Zero fields take the
// defaults of that kind (see [Config]).
type Limit struct {
	// Free is how many failures cost nothing. From the next one on, each
	// failure makes the counter wait before it allows another attempt.
	// Negative means none are free.
	Free int
	// Delay is the wait after the first failure beyond Free. Each further
	// failure doubles it.
	Delay time.Duration
	// MaxDelay caps the wait: back-off, never a lockout.
	MaxDelay time.Duration
	// Forget is how long a counter is kept after its last failure; then it
	// starts again from zero. At least MaxDelay.
	Forget time.Duration
}

// GlobalLimit configures the fleet-wide failure rate.
type GlobalLimit struct {
	// Failures per Window at which the fleet counts as under attack: then
	// no failure is free on the account, address and pair counters (known
	// devices keep their allowance). 0 means 1000; negative turns the rule
	// off.
	Failures int
	// Window is the length of the counting window. 0 means one minute.
	Window time.Duration
	// Refresh is how often each Throttle re-reads the fleet's count (one
	// store read per shard). 0 means one second.
	Refresh time.Duration
}

// Config configures a [Throttle]. The zero Config is valid. A Config must not
// be modified after it has been passed to [New].
type Config struct {
	// Account limits attempts on one account name from unknown devices,
	// whatever their address, so that an attack spread over many addresses
	// is slowed down. 0 fields mean Free 10, Delay 2 s, MaxDelay 15 min,
	// Forget 24 h: about 23 guesses in the first hour, then 4 an hour.
	Account Limit
	// Address limits attempts from one client address on any account
	// (credential stuffing from one source). IPv6 addresses count by /64.
	// 0 fields mean Free 20, Delay 1 s, MaxDelay 15 min, Forget 24 h.
	Address Limit
	// Pair limits attempts on one account from one address. 0 fields mean
	// Free 5, Delay 1 s, MaxDelay 15 min, Forget 24 h.
	Pair Limit
	// Device limits attempts on one account from one known device — a
	// browser that signed in to it before. Such attempts skip the three
	// counters above, so an attack on an account cannot lock its owner out.
	// 0 fields mean Free 10, Delay 1 s, MaxDelay 15 min, Forget 24 h.
	Device Limit
	// Global is the fleet-wide failure rate.
	Global GlobalLimit
	// Prefix namespaces the store keys. "" means "thr:".
	Prefix string
	// Logger receives store errors that cannot be returned (a give-back that
	// failed after the attempt was decided). nil means slog.Default().
	Logger *slog.Logger
	// Now returns the current time. nil means time.Now.
	Now func() time.Time
}

// Throttle counts sign-in attempts in a store.Store, so every server sharing
// the store shares the counters. It is safe for concurrent use. Make one
// with [New].
type Throttle struct {
	st      store.Store
	now     func() time.Time
	log     *slog.Logger
	prefix  string
	account limit
	address limit
	pair    limit
	device  limit
	global  globalLimit
	policy  cas.Policy

	mu       sync.Mutex // guards the cached global count
	gFetched time.Time
	gAttack  bool
	gBusy    bool
}

type limit struct {
	scope                   Scope
	free                    int
	delay, maxDelay, forget time.Duration
}

type globalLimit struct {
	failures        int
	window, refresh time.Duration
}

// globalShards spreads the fleet-wide failure count over this many keys, so
// that a burst of failures does not make every server swap the same key.
const globalShards = 8

// New returns a Throttle on st. It panics if cfg holds a negative duration,
// or a MaxDelay below its Delay or a Forget below its MaxDelay.
func New(st store.Store, cfg Config) *Throttle {
	if st == nil {
		panic("throttle: nil store")
	}
	t := &Throttle{st: st, now: cfg.Now, log: cfg.Logger, prefix: cfg.Prefix}
	if t.now == nil {
		t.now = time.Now
	}
	if t.log == nil {
		t.log = slog.Default()
	}
	if t.prefix == "" {
		t.prefix = "thr:"
	}
	t.account = newLimit(ScopeAccount, cfg.Account, 10, 2*time.Second)
	t.address = newLimit(ScopeAddress, cfg.Address, 20, time.Second)
	t.pair = newLimit(ScopePair, cfg.Pair, 5, time.Second)
	t.device = newLimit(ScopeDevice, cfg.Device, 10, time.Second)
	g := cfg.Global
	t.global = globalLimit{failures: g.Failures, window: g.Window, refresh: g.Refresh}
	if t.global.failures == 0 {
		t.global.failures = 1000
	}
	if t.global.window == 0 {
		t.global.window = time.Minute
	}
	if t.global.refresh == 0 {
		t.global.refresh = time.Second
	}
	if t.global.window < 0 || t.global.refresh < 0 {
		panic("throttle: negative Global duration")
	}
	return t
}

func newLimit(s Scope, l Limit, free int, delay time.Duration) limit {
	out := limit{scope: s, free: l.Free, delay: l.Delay, maxDelay: l.MaxDelay, forget: l.Forget}
	if out.free == 0 {
		out.free = free
	}
	if out.free < 0 {
		out.free = 0
	}
	if out.delay == 0 {
		out.delay = delay
	}
	if out.maxDelay == 0 {
		out.maxDelay = 15 * time.Minute
	}
	if out.forget == 0 {
		out.forget = 24 * time.Hour
	}
	switch {
	case out.delay < 0 || out.maxDelay < 0 || out.forget < 0:
		panic("throttle: negative duration in the " + string(s) + " limit")
	case out.maxDelay < out.delay:
		panic("throttle: MaxDelay below Delay in the " + string(s) + " limit")
	case out.forget < out.maxDelay:
		panic("throttle: Forget below MaxDelay in the " + string(s) + " limit")
	}
	return out
}

// wait is how long c must still wait before another attempt, given the
// number of free failures.
func (l *limit) wait(c counter, free int, now time.Time) time.Duration {
	if int64(c.failures) <= int64(free) {
		return 0
	}
	d := l.maxDelay
	if shift := int64(c.failures) - int64(free) - 1; shift < 40 {
		d = min(l.delay<<shift, l.maxDelay)
	}
	next := time.UnixMilli(c.last).Add(d)
	// A record from a server whose clock runs ahead never waits longer
	// than the cap.
	return min(next.Sub(now), l.maxDelay)
}

// Attempt describes one sign-in attempt.
type Attempt struct {
	// Account is the account name as the user typed it, normalised. Names
	// without an account are counted like real ones, so the throttle
	// reveals nothing about which accounts exist.
	Account string
	// Addr is the client address (see authkit.ClientIP). The zero Addr is
	// counted as one shared "unknown" address.
	Addr netip.Addr
	// Device identifies a known device: one that has signed in to Account
	// before, as the caller has verified (the login package checks a signed
	// cookie). Such an attempt is limited only by its own counter. "" means
	// an unknown device.
	Device string
}

// Bucket is the address key the throttle counts by: an IPv4 address itself,
// an IPv6 address's /64 (one household or host typically holds a whole
// /64), "unknown" for the zero Addr.
func Bucket(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		return netip.PrefixFrom(a, 64).Masked().String()
	}
	return a.String()
}

type slot struct {
	lim *limit
	key string
}

func (t *Throttle) slots(a Attempt) []slot {
	if a.Device != "" {
		return []slot{{&t.device, t.prefix + "d:" + keyhash.Key("", a.Device+"\x00"+a.Account)}}
	}
	b := Bucket(a.Addr)
	return []slot{
		{&t.address, t.prefix + "i:" + keyhash.Key("", b)},
		{&t.pair, t.prefix + "p:" + keyhash.Key("", a.Account+"\x00"+b)},
		{&t.account, t.prefix + "a:" + keyhash.Key("", a.Account)},
	}
}

func (t *Throttle) get(ctx context.Context, key string) ([]byte, error) {
	v, err := t.st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("throttle: %w", err)
	}
	return v, nil
}

// Begin checks an attempt against its counters and, if every counter allows
// it, counts it — before the password is checked, so that concurrent
// attempts cannot slip past a limit while a slow hash runs. A refusal is a
// [*LimitedError] (errors.Is(err, ErrLimited)) and counts nothing. Settle
// the returned Ticket with exactly one of Success, Failure or Cancel; a
// ticket never settled stays counted as a failure.
//
// Store traffic: one read per counter (three for an unknown device, one
// for a known one) and, when allowed, one compare-and-swap per counter.
func (t *Throttle) Begin(ctx context.Context, a Attempt) (*Ticket, error) {
	now := t.now()
	slots := t.slots(a)
	attack := a.Device == "" && t.underAttack(ctx, now)
	olds := make([][]byte, len(slots))
	var refuse *LimitedError
	for i, s := range slots {
		v, err := t.get(ctx, s.key)
		if err != nil {
			return nil, err
		}
		olds[i] = v
		c, _ := decodeCounter(v) // a corrupt record counts as none
		if w := s.lim.wait(c, t.free(s.lim, attack), now); w > 0 && (refuse == nil || w > refuse.RetryAfter) {
			refuse = &LimitedError{Scope: s.lim.scope, RetryAfter: w}
		}
	}
	if refuse != nil {
		return nil, refuse
	}
	tk := &Ticket{t: t, attack: attack}
	for i, s := range slots {
		written, err := t.reserve(ctx, s, olds[i], attack)
		if err != nil {
			tk.release(ctx)
			return nil, err
		}
		tk.held = append(tk.held, held{slot: s, written: written})
	}
	return tk, nil
}

func (t *Throttle) free(l *limit, attack bool) int {
	if attack {
		return 0
	}
	return l.free
}

// reserve counts one attempt on s. It first swaps against the value Begin
// read; if another server changed the counter in between, it re-reads and
// re-checks in a CompareAndSwap loop, which may now refuse.
func (t *Throttle) reserve(ctx context.Context, s slot, old []byte, attack bool) ([]byte, error) {
	next := func(cur []byte) []byte {
		c, _ := decodeCounter(cur)
		return counter{failures: min(c.failures+1, maxFailures), last: t.now().UnixMilli()}.encode()
	}
	first := next(old)
	exp := t.now().Add(s.lim.forget)
	ok, err := t.st.CompareAndSwap(ctx, s.key, old, first, exp)
	if err != nil {
		return nil, fmt.Errorf("throttle: %w", err)
	}
	if ok {
		return first, nil
	}
	var written []byte
	err = cas.Update(ctx, t.st, s.key, t.policy, func(cur []byte) ([]byte, time.Time, error) {
		now := t.now()
		c, _ := decodeCounter(cur)
		if w := s.lim.wait(c, t.free(s.lim, attack), now); w > 0 {
			return nil, time.Time{}, &LimitedError{Scope: s.lim.scope, RetryAfter: w}
		}
		written = next(cur)
		return written, now.Add(s.lim.forget), nil
	})
	if err != nil {
		if errors.Is(err, ErrLimited) {
			return nil, err
		}
		return nil, fmt.Errorf("throttle: %w", err)
	}
	return written, nil
}

// Ticket is a counted attempt, to be settled once its outcome is known.
type Ticket struct {
	t      *Throttle
	attack bool
	held   []held
	mu     sync.Mutex
	done   bool
}

type held struct {
	slot    slot
	written []byte
}

func (tk *Ticket) settle() bool {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	if tk.done {
		return false
	}
	tk.done = true
	return true
}

// Success settles a successful sign-in: the account, pair and device
// counters start again from zero; the address counter only gets this
// attempt back, so signing in to one's own account between guesses at
// others' does not clear an address. A second settle is a no-op.
func (tk *Ticket) Success(ctx context.Context) error {
	if !tk.settle() {
		return nil
	}
	var errs []error
	for _, h := range tk.held {
		if h.slot.lim.scope == ScopeAddress {
			errs = append(errs, tk.t.giveBack(ctx, h))
			continue
		}
		if err := tk.t.st.Delete(ctx, h.slot.key); err != nil {
			errs = append(errs, fmt.Errorf("throttle: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Failure settles a failed sign-in: the attempt stays counted, and it adds
// to the fleet-wide failure rate. A second settle is a no-op.
func (tk *Ticket) Failure(ctx context.Context) error {
	if !tk.settle() {
		return nil
	}
	return tk.t.countGlobal(ctx)
}

// Cancel settles an attempt that was not really made (the password could
// not be checked: a store or hasher outage): every counter gets it back. A
// second settle is a no-op.
func (tk *Ticket) Cancel(ctx context.Context) error {
	if !tk.settle() {
		return nil
	}
	return tk.release(ctx)
}

func (tk *Ticket) release(ctx context.Context) error {
	var errs []error
	for _, h := range tk.held {
		errs = append(errs, tk.t.giveBack(ctx, h))
	}
	return errors.Join(errs...)
}

// giveBack takes one attempt off a counter: a swap against the value the
// reservation wrote, or a CompareAndSwap loop if it changed since.
func (t *Throttle) giveBack(ctx context.Context, h held) error {
	dec := func(cur []byte) ([]byte, error) {
		c, err := decodeCounter(cur)
		if err != nil || c.failures <= 1 {
			return nil, nil // corrupt or emptied: delete
		}
		c.failures--
		return c.encode(), nil
	}
	exp := t.now().Add(h.slot.lim.forget)
	next, _ := dec(h.written)
	ok, err := t.st.CompareAndSwap(ctx, h.slot.key, h.written, next, exp)
	if err == nil && ok {
		return nil
	}
	if err != nil {
		return fmt.Errorf("throttle: %w", err)
	}
	err = cas.Update(ctx, t.st, h.slot.key, t.policy, func(cur []byte) ([]byte, time.Time, error) {
		if len(cur) == 0 {
			return nil, time.Time{}, cas.ErrNoChange
		}
		n, _ := dec(cur)
		return n, t.now().Add(h.slot.lim.forget), nil
	})
	if err != nil {
		return fmt.Errorf("throttle: %w", err)
	}
	return nil
}

// globalKey is the key of one shard of the fleet-wide failure count.
func (t *Throttle) globalKey(i int) string { return t.prefix + "g:" + strconv.Itoa(i) }
