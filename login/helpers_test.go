package login_test

import (
	"context"
	"errors"
	"github.com/authkit/authkit/internal/clocktest"
	"github.com/authkit/authkit/internal/redistest"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/hash"
	"github.com/authkit/authkit/login"

	"github.com/authkit/authkit/store"
)

// clock is a settable time source shared by the flows and a Memory store.
// clock is the tests' fake clock.
type clock = clocktest.Clock

func newClock() *clock { return clocktest.New(time.Now().Truncate(time.Millisecond)) }

// backend makes a fresh store for one test.
type backend struct {
	name string
	new  func(t *testing.T, c *clock) store.Store
}

// backends are Memory, and Redis when AUTHKIT_REDIS_ADDR is set. Records
// carry their own times, so the tests drive the throttle with a fake clock
// on Redis too; Redis expiries only ever lie further in the future.
func backends() []backend {
	return []backend{
		{"memory", func(t *testing.T, c *clock) store.Store {
			m := store.NewMemory(store.MemoryConfig{Now: c.Now})
			t.Cleanup(func() { m.Close() })
			return m
		}},
		{"redis", newRedis},
	}
}

func newRedis(t *testing.T, _ *clock) store.Store { return redistest.Store(t, "login") }

func eachBackend(t *testing.T, fn func(t *testing.T, st store.Store, c *clock)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			c := newClock()
			fn(t, b.new(t, c), c)
		})
	}
}

// hooked wraps a Store with hooks at named points, to force an order of
// concurrent calls or fail a chosen call.
type hooked struct {
	store.Store
	mu         sync.Mutex
	beforeCAS  func(key string) error // nil: no hook; an error fails the call
	beforeGet  func(key string) error
	gets, cass int
}

func (h *hooked) Get(ctx context.Context, key string) ([]byte, error) {
	h.mu.Lock()
	h.gets++
	f := h.beforeGet
	h.mu.Unlock()
	if f != nil {
		if err := f(key); err != nil {
			return nil, err
		}
	}
	return h.Store.Get(ctx, key)
}

func (h *hooked) CompareAndSwap(ctx context.Context, key string, old, new []byte, exp time.Time) (bool, error) {
	h.mu.Lock()
	h.cass++
	f := h.beforeCAS
	h.mu.Unlock()
	if f != nil {
		if err := f(key); err != nil {
			return false, err
		}
	}
	return h.Store.CompareAndSwap(ctx, key, old, new, exp)
}

var errInjected = errors.New("injected store failure")

var ctx = context.Background()

// quiet discards log output the tests provoke on purpose.
var quiet = slog.New(slog.DiscardHandler)

// users is an in-memory user directory for tests.
type users struct {
	mu        sync.Mutex
	byName    map[string][2]string // name -> subject, encoded hash
	byAddress map[string]string    // email -> subject
	updates   int
	lookupErr error
	updateErr error
}

func newUsers() *users {
	return &users{byName: map[string][2]string{}, byAddress: map[string]string{}}
}

func (u *users) add(name, subject, encoded string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.byName[name] = [2]string{subject, encoded}
}

func (u *users) LookupPassword(_ context.Context, name string) (string, string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.lookupErr != nil {
		return "", "", u.lookupErr
	}
	v, ok := u.byName[name]
	if !ok {
		return "", "", login.ErrUnknownUser
	}
	return v[0], v[1], nil
}

func (u *users) UpdatePasswordHash(_ context.Context, subject, encoded string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.updateErr != nil {
		return u.updateErr
	}
	for n, v := range u.byName {
		if v[0] == subject {
			u.byName[n] = [2]string{subject, encoded}
		}
	}
	u.updates++
	return nil
}

func (u *users) hashOf(name string) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.byName[name][1]
}

func (u *users) LookupAddress(_ context.Context, address string) (string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.lookupErr != nil {
		return "", u.lookupErr
	}
	s, ok := u.byAddress[address]
	if !ok {
		return "", login.ErrUnknownUser
	}
	return s, nil
}

// countingHasher wraps a Hasher and records every verification: the class
// (algorithm and parameters) of each hash verified, and dummy verifies.
type countingHasher struct {
	login.Hasher
	mu       sync.Mutex
	verifies []string
	dummies  int
}

// class is the algorithm and parameters of an encoded hash, without salt
// and tag: "$2a$10$" or "$argon2id$v=19$m=64,t=1,p=1".
func class(enc string) string {
	if strings.HasPrefix(enc, "$2") && len(enc) >= 7 {
		return enc[:7]
	}
	f := strings.Split(enc, "$")
	if len(f) > 4 {
		f = f[:4]
	}
	return strings.Join(f, "$")
}

func (c *countingHasher) Verify(ctx context.Context, password, encoded string) (bool, error) {
	c.mu.Lock()
	c.verifies = append(c.verifies, class(encoded))
	c.mu.Unlock()
	return c.Hasher.Verify(ctx, password, encoded)
}

func (c *countingHasher) VerifyDummy(ctx context.Context, password string) error {
	c.mu.Lock()
	c.dummies++
	c.mu.Unlock()
	return c.Hasher.VerifyDummy(ctx, password)
}

// work returns and resets what was verified: classes, then "dummy" for
// each VerifyDummy.
func (c *countingHasher) work() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := append([]string(nil), c.verifies...)
	for range c.dummies {
		out = append(out, "dummy")
	}
	c.verifies, c.dummies = nil, 0
	return out
}

// fastHasher is a real Hasher at test-only parameters.
func fastHasher() *hash.Hasher {
	return hash.New(hash.Config{Scheme: hash.Argon2id{Memory: 64, Time: 1}, InsecureWeakParameters: true})
}

func mustHash(t testing.TB, h login.Hasher, pw string) string {
	t.Helper()
	enc, err := h.Hash(ctx, pw)
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// events records security events.
type events struct {
	mu  sync.Mutex
	all []authkit.Event
}

func (e *events) fn(_ context.Context, ev authkit.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

func (e *events) last() authkit.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.all) == 0 {
		return authkit.Event{}
	}
	return e.all[len(e.all)-1]
}

// browser is a client with a cookie jar and a fixed address.
type browser struct {
	ip      string
	cookies map[string]*http.Cookie
}

func newBrowser(ip string) *browser { return &browser{ip: ip, cookies: map[string]*http.Cookie{}} }

func (b *browser) request(method, target string, form url.Values) *http.Request {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, target, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	r.RemoteAddr = net.JoinHostPort(b.ip, "40000")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	for _, c := range b.cookies {
		r.AddCookie(c)
	}
	return r
}

func (b *browser) keep(w *httptest.ResponseRecorder) {
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
			continue
		}
		b.cookies[c.Name] = c
	}
}

// outbox is a Sender that keeps messages.
type outbox struct {
	*users
	mu   sync.Mutex
	msgs []login.Message
	err  error
}

func (o *outbox) Send(_ context.Context, m login.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return o.err
	}
	o.msgs = append(o.msgs, m)
	return nil
}

func (o *outbox) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.msgs)
}

func (o *outbox) last() login.Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.msgs) == 0 {
		return login.Message{}
	}
	return o.msgs[len(o.msgs)-1]
}

func (e *events) count(typ authkit.EventType, reason string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.all {
		if ev.Type == typ && ev.Reason == reason {
			n++
		}
	}
	return n
}
