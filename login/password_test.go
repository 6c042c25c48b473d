package login_test

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/hash"
	"github.com/authkit/authkit/login"
	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/throttle"
)

type pwEnv struct {
	p     *login.Password
	users *users
	h     *countingHasher
	ev    *events
	th    *throttle.Throttle
}

func newPwEnv(t *testing.T, st store.Store, c *clock, cfg login.PasswordConfig) *pwEnv {
	e := &pwEnv{users: newUsers(), ev: &events{}}
	if cfg.Hasher == nil {
		cfg.Hasher = fastHasher()
	}
	e.h = &countingHasher{Hasher: cfg.Hasher}
	cfg.Hasher = e.h
	if cfg.Throttle == nil {
		cfg.Throttle = throttle.New(st, throttle.Config{Now: c.Now})
	}
	e.th = cfg.Throttle
	cfg.Events = e.ev.fn
	cfg.Now = c.Now
	cfg.Logger = quiet
	e.p = login.NewPassword(st, e.users, cfg)
	e.users.add("alice", "u-alice", mustHash(t, e.h, "correct horse battery staple"))
	e.h.work()
	return e
}

func (e *pwEnv) signIn(b *browser, name, pw string) (login.Result, *httptest.ResponseRecorder, error) {
	w := httptest.NewRecorder()
	res, err := e.p.SignIn(w, b.request("POST", "https://example.com/login", nil), name, pw)
	b.keep(w)
	return res, w, err
}

func TestSignIn(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store, c *clock) {
		e := newPwEnv(t, st, c, login.PasswordConfig{})
		b := newBrowser("203.0.113.5")
		res, w, err := e.signIn(b, "  Alice ", "correct horse battery staple")
		if err != nil || res.Subject != "u-alice" || res.Method != login.MethodPassword || res.Rehashed {
			t.Fatalf("SignIn = %+v, %v", res, err)
		}
		if ev := e.ev.last(); ev.Type != authkit.EventLogin || ev.Subject != "u-alice" || ev.ClientIP != "203.0.113.5" || ev.Method != login.MethodPassword {
			t.Fatalf("event %+v", ev)
		}
		if len(w.Result().Cookies()) != 1 || w.Result().Cookies()[0].Name != login.DefaultDeviceCookie {
			t.Fatalf("cookies %v", w.Result().Cookies())
		}
		if _, _, err := e.signIn(b, "alice", "wrong"); !errors.Is(err, login.ErrInvalidCredentials) || !errors.Is(err, authkit.ErrInvalidCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
		if ev := e.ev.last(); ev.Type != authkit.EventLoginFailed || ev.Reason != login.ReasonBadPassword || ev.Subject != "u-alice" {
			t.Fatalf("event %+v", ev)
		}
		if _, _, err := e.signIn(b, "mallory", "x"); !errors.Is(err, login.ErrInvalidCredentials) {
			t.Fatalf("unknown user: %v", err)
		}
		if ev := e.ev.last(); ev.Reason != login.ReasonUnknownUser || ev.Subject != "" {
			t.Fatalf("event %+v", ev)
		}
	})
}

// TestCrossOriginCostsNoHash: a cross-origin form post is refused before
// any hashing and before the throttle counts anything.
func TestCrossOriginCostsNoHash(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store, c *clock) {
		e := newPwEnv(t, st, c, login.PasswordConfig{})
		b := newBrowser("203.0.113.6")
		for _, site := range []string{"cross-site", "same-site"} {
			r := b.request("POST", "https://example.com/login", nil)
			r.Header.Set("Sec-Fetch-Site", site)
			_, err := e.p.SignIn(httptest.NewRecorder(), r, "alice", "correct horse battery staple")
			if !errors.Is(err, login.ErrCrossOrigin) {
				t.Fatalf("%s: %v", site, err)
			}
		}
		if w := e.h.work(); len(w) != 0 {
			t.Fatalf("a cross-origin sign-in hashed: %v", w)
		}
		s, err := e.th.Status(ctx, e.p.Attempt(b.request("POST", "/", nil), "alice"))
		if err != nil {
			t.Fatal(err)
		}
		for _, cs := range s.Counters {
			if cs.Failures != 0 {
				t.Fatalf("a cross-origin sign-in was counted: %+v", cs)
			}
		}
		if ev := e.ev.last(); ev.Type != authkit.EventLoginFailed || ev.Reason != authkit.ReasonCrossOrigin {
			t.Fatalf("event %+v", ev)
		}
	})
}

// TestSameCost: a wrong password, an unknown name, a malformed name and an
// overlong password each cost the same verifications and get the same error.
func TestSameCost(t *testing.T) {
	c := newClock()
	st := store.NewMemory(store.MemoryConfig{Now: c.Now})
	defer st.Close()
	e := newPwEnv(t, st, c, login.PasswordConfig{})
	current := class(e.users.hashOf("alice"))
	cases := []struct {
		name, pw string
		want     []string
	}{
		{"alice", "wrong password", []string{current}},
		{"nobody", "wrong password", []string{"dummy"}},
		{"bad\x00name", "wrong password", []string{"dummy"}},
	}
	for _, tc := range cases {
		b := newBrowser(fmt.Sprintf("198.51.100.%d", len(tc.name)))
		_, w, err := e.signIn(b, tc.name, tc.pw)
		if err != login.ErrInvalidCredentials || w.Body.Len() != 0 {
			t.Fatalf("%q: %v", tc.name, err)
		}
		if got := e.h.work(); !slices.Equal(got, tc.want) {
			t.Fatalf("%q: verified %v, want %v", tc.name, got, tc.want)
		}
	}
	// The dummy is a verification at the current scheme's parameters: the
	// hasher's own VerifyDummy, as the hash package tests.
	long := string(make([]byte, 2000))
	for _, name := range []string{"alice", "nobody"} {
		if _, _, err := e.signIn(newBrowser("198.51.100.99"), name, long); err != login.ErrInvalidCredentials {
			t.Fatal(err)
		}
		if got := e.h.work(); len(got) != 0 {
			t.Fatalf("an overlong password for %s was hashed: %v", name, got)
		}
	}
}

// TestLegacyDummy: while legacy hashes exist, every sign-in does the work
// of one legacy verification and one at the current scheme — known legacy
// user, known current user and unknown name alike — so timing tells neither
// which names exist nor which accounts still have a legacy hash.
func TestLegacyDummy(t *testing.T) {
	legacy := hash.New(hash.Config{Scheme: hash.Bcrypt{Cost: 10}})
	c := newClock()
	st := store.NewMemory(store.MemoryConfig{Now: c.Now})
	defer st.Close()
	const bcrypt10 = "$2a$10$"
	// cost classifies the work of one sign-in: the legacy verifications
	// and the ones at the current scheme (a verify of a current hash, or a
	// dummy of it).
	cost := func(work []string, current string) (legacy, cur int) {
		for _, w := range work {
			switch w {
			case bcrypt10:
				legacy++
			case "dummy", current:
				cur++
			default:
				t.Fatalf("unexpected verification %q in %v", w, work)
			}
		}
		return legacy, cur
	}

	t.Run("configured", func(t *testing.T) {
		e := newPwEnv(t, st, c, login.PasswordConfig{LegacyScheme: hash.Bcrypt{Cost: 10}})
		e.users.add("bob", "u-bob", mustHash(t, legacy, "bob's old password"))
		current := class(e.users.hashOf("alice"))
		for i, name := range []string{"bob", "alice", "nobody"} {
			e.h.work()
			if _, _, err := e.signIn(newBrowser(fmt.Sprintf("192.0.2.%d", 10+i)), name, "wrong"); err != login.ErrInvalidCredentials {
				t.Fatal(err)
			}
			work := e.h.work()
			if l, cur := cost(work, current); l != 1 || cur != 1 {
				t.Errorf("%s: verified %v; want one legacy and one current-scheme verification", name, work)
			}
		}
		// The padding never gets in the way of a right password.
		if res, _, err := e.signIn(newBrowser("192.0.2.20"), "bob", "bob's old password"); err != nil || !res.Rehashed {
			t.Fatalf("legacy user with the right password: %+v %v", res, err)
		}
	})

	t.Run("learned", func(t *testing.T) {
		e := newPwEnv(t, st, c, login.PasswordConfig{})
		e.users.add("carol", "u-carol", mustHash(t, legacy, "carol's old password"))
		current := class(e.users.hashOf("alice"))
		e.signIn(newBrowser("192.0.2.3"), "nobody", "wrong")
		if got := e.h.work(); !slices.Equal(got, []string{"dummy"}) {
			t.Fatalf("before any upgrade: %v", got)
		}
		res, _, err := e.signIn(newBrowser("192.0.2.4"), "carol", "carol's old password")
		if err != nil || !res.Rehashed || class(e.users.hashOf("carol")) != current {
			t.Fatalf("upgrade: %+v %v", res, err)
		}
		for i, name := range []string{"nobody", "alice", "carol"} {
			e.h.work()
			e.signIn(newBrowser(fmt.Sprintf("192.0.2.%d", 30+i)), name, "wrong")
			work := e.h.work()
			if l, cur := cost(work, current); l != 1 || cur != 1 {
				t.Errorf("after an upgrade from bcrypt, %s verified %v", name, work)
			}
		}
		// The learned dummy never signs anyone in, not even with the
		// password of the hash it came from.
		if _, _, err := e.signIn(newBrowser("192.0.2.6"), "nobody", "carol's old password"); err != login.ErrInvalidCredentials {
			t.Fatal(err)
		}
	})
}

func TestRehashFailureStillSignsIn(t *testing.T) {
	c := newClock()
	st := store.NewMemory(store.MemoryConfig{Now: c.Now})
	defer st.Close()
	e := newPwEnv(t, st, c, login.PasswordConfig{})
	old := mustHash(t, hash.New(hash.Config{Scheme: hash.Bcrypt{Cost: 10}}), "dave's password")
	e.users.add("dave", "u-dave", old)
	e.users.updateErr = errors.New("db down")
	res, _, err := e.signIn(newBrowser("192.0.2.7"), "dave", "dave's password")
	if err != nil || res.Rehashed || e.users.hashOf("dave") != old {
		t.Fatalf("%+v %v", res, err)
	}
}

// TestOwnerDuringAttack: an attack on one account from 200 addresses puts
// the account in back-off for every unknown browser, the owner's too — but
// the owner's known device signs in at once.
func TestOwnerDuringAttack(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store, c *clock) {
		e := newPwEnv(t, st, c, login.PasswordConfig{})
		owner := newBrowser("203.0.113.200")
		if _, _, err := e.signIn(owner, "alice", "correct horse battery staple"); err != nil {
			t.Fatal(err)
		}
		refused := 0
		for i := range 200 {
			bot := newBrowser(fmt.Sprintf("198.18.%d.%d", i/250, i%250+1))
			for range 2 {
				_, w, err := e.signIn(bot, "alice", fmt.Sprint("guess", i))
				if errors.Is(err, throttle.ErrLimited) {
					refused++
					if w.Header().Get("Retry-After") != "" {
						t.Fatal("SignIn wrote a header; the application does")
					}
					continue
				}
				if err != login.ErrInvalidCredentials {
					t.Fatal(err)
				}
			}
		}
		if refused < 350 {
			t.Fatalf("only %d of 400 attack attempts refused", refused)
		}
		// A new browser of the owner, with the right password, is refused
		// too: the account is in back-off.
		_, _, err := e.signIn(newBrowser("203.0.113.201"), "alice", "correct horse battery staple")
		rec := httptest.NewRecorder()
		if !login.SetRetryAfter(rec.Header(), err) || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("new browser during the attack: %v", err)
		}
		// The known device is not.
		for range 3 {
			res, _, err := e.signIn(owner, "alice", "correct horse battery staple")
			if err != nil || res.Subject != "u-alice" {
				t.Fatalf("owner's known device during the attack: %v", err)
			}
		}
	})
}

// TestDeviceIsPerAccount: a device known for one account gets no exemption
// on another, and a forged or foreign device cookie is ignored.
func TestDeviceIsPerAccount(t *testing.T) {
	c := newClock()
	st := store.NewMemory(store.MemoryConfig{Now: c.Now})
	defer st.Close()
	th := throttle.New(st, throttle.Config{Now: c.Now, Account: throttle.Limit{Free: 1}, Pair: throttle.Limit{Free: 100}, Address: throttle.Limit{Free: 100}})
	e := newPwEnv(t, st, c, login.PasswordConfig{Throttle: th})
	e.users.add("erin", "u-erin", mustHash(t, e.h, "erin's password"))
	b := newBrowser("203.0.113.10")
	if _, _, err := e.signIn(b, "alice", "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		e.signIn(newBrowser("198.51.100.1"), "erin", "wrong")
	}
	if _, _, err := e.signIn(b, "erin", "erin's password"); !errors.Is(err, throttle.ErrLimited) {
		t.Fatalf("alice's device on erin's account: %v", err)
	}
	// Another Password (another key) does not trust this device cookie.
	other := login.NewPassword(st, e.users, login.PasswordConfig{Hasher: e.h, Throttle: th, Now: c.Now})
	for range 2 {
		other.SignIn(httptest.NewRecorder(), newBrowser("198.51.100.2").request("POST", "/", nil), "alice", "wrong")
	}
	if _, err := other.SignIn(httptest.NewRecorder(), b.request("POST", "/", nil), "alice", "correct horse battery staple"); !errors.Is(err, throttle.ErrLimited) {
		t.Fatalf("a device cookie under another key was trusted: %v", err)
	}
	if _, _, err := e.signIn(b, "alice", "correct horse battery staple"); err != nil {
		t.Fatalf("the device cookie under its own key: %v", err)
	}
}

// TestOutages: a store, lookup or hasher outage is an error that is not
// ErrInvalidCredentials, and counts nothing against the user.
func TestOutages(t *testing.T) {
	c := newClock()
	mem := store.NewMemory(store.MemoryConfig{Now: c.Now})
	defer mem.Close()
	h := &hooked{Store: mem}
	e := newPwEnv(t, h, c, login.PasswordConfig{Throttle: throttle.New(h, throttle.Config{Now: c.Now})})
	b := newBrowser("203.0.113.30")

	h.beforeGet = func(string) error { return errInjected }
	_, _, err := e.signIn(b, "alice", "correct horse battery staple")
	if !errors.Is(err, errInjected) || errors.Is(err, authkit.ErrInvalidCredentials) {
		t.Fatalf("store down: %v", err)
	}
	h.beforeGet = nil
	if got := e.h.work(); len(got) != 0 {
		t.Fatalf("store down, yet hashed: %v", got)
	}

	e.users.lookupErr = errors.New("directory down")
	_, _, err = e.signIn(b, "alice", "wrong")
	if err == nil || errors.Is(err, authkit.ErrInvalidCredentials) {
		t.Fatalf("lookup down: %v", err)
	}
	e.users.lookupErr = nil
	s, _ := e.th.Status(ctx, e.p.Attempt(b.request("POST", "/", nil), "alice"))
	for _, cs := range s.Counters {
		if cs.Failures != 0 {
			t.Fatalf("an outage was counted: %+v", cs)
		}
	}
}

func TestNormalizeName(t *testing.T) {
	for in, want := range map[string]string{" Alice ": "alice", "BOB@Example.COM": "bob@example.com", "élan": "élan"} {
		if got, err := login.NormalizeName(in); err != nil || got != want {
			t.Errorf("NormalizeName(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "   ", "a\x00b", "a\nb", "\xff", string(make([]byte, 300))} {
		if _, err := login.NormalizeName(in); err == nil {
			t.Errorf("NormalizeName(%q) accepted", in)
		}
	}
}
