package login_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/login"
	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/throttle"
)

type codeEnv struct {
	c   *login.Codes
	box *outbox
	ev  *events
}

func newCodeEnv(st store.Store, c *clock) *codeEnv {
	e := &codeEnv{box: &outbox{users: newUsers()}, ev: &events{}}
	e.box.byAddress["ann@example.com"] = "u-ann"
	e.c = login.NewCodes(st, e.box, login.CodeConfig{Events: e.ev.fn, Now: c.Now, Logger: quiet,
		Throttle: throttle.New(st, throttle.Config{Now: c.Now})})
	return e
}

func (e *codeEnv) start(t *testing.T, address string) login.Challenge {
	t.Helper()
	ch, err := e.c.Start(newBrowser("203.0.113.9").request("POST", "/code", nil), address)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func (e *codeEnv) verify(id, code string) (login.Result, error) {
	return e.c.Verify(newBrowser("203.0.113.9").request("POST", "/code/verify", nil), id, code)
}

func wrongCode(code string, i int) string {
	for {
		w := fmt.Sprintf("%06d", i)
		if w != code {
			return w
		}
		i++
	}
}

func TestCodes(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store, c *clock) {
		e := newCodeEnv(st, c)
		ch := e.start(t, " Ann@Example.com")
		m := e.box.last()
		if m.Kind != login.KindCode || m.To != "ann@example.com" || m.Subject != "u-ann" || len(m.Code) != 6 || !m.Expires.Equal(ch.Expires) {
			t.Fatalf("message %v", m)
		}
		if ch.Expires.Sub(c.Now()) != 10*time.Minute {
			t.Fatalf("lifetime %v", ch.Expires.Sub(c.Now()))
		}
		if _, err := e.verify(ch.ID, wrongCode(m.Code, 0)); err != login.ErrInvalidCode || !errors.Is(err, authkit.ErrInvalidCredentials) {
			t.Fatalf("wrong code: %v", err)
		}
		res, err := e.verify(ch.ID, m.Code)
		if err != nil || res.Subject != "u-ann" || res.Method != login.MethodCode {
			t.Fatalf("right code: %+v %v", res, err)
		}
		if _, err := e.verify(ch.ID, m.Code); err != login.ErrInvalidCode {
			t.Fatalf("used code: %v", err)
		}
		// Expired: the same error as used.
		ch = e.start(t, "ann@example.com")
		code := e.box.last().Code
		c.Add(10 * time.Minute)
		if _, err := e.verify(ch.ID, code); err != login.ErrInvalidCode {
			t.Fatalf("expired code: %v", err)
		}
	})
}

// TestCodeUnknownAddress: an address without an account gets a challenge
// like any other, and nothing is sent or stored.
func TestCodeUnknownAddress(t *testing.T) {
	c := newClock()
	st := store.NewMemory(store.MemoryConfig{Now: c.Now})
	defer st.Close()
	e := newCodeEnv(st, c)
	ch := e.start(t, "nobody@example.com")
	if len(ch.ID) != 27 || e.box.count() != 0 {
		t.Fatalf("challenge %q, %d messages", ch.ID, e.box.count())
	}
	for k := range st.All() {
		if strings.HasPrefix(k, "otc:") {
			t.Fatalf("stored %s for an unknown address", k)
		}
	}
	if _, err := e.verify(ch.ID, "123456"); err != login.ErrInvalidCode {
		t.Fatal(err)
	}
	// A malformed address is an unknown one, not an error.
	if _, err := e.c.Start(newBrowser("203.0.113.9").request("POST", "/", nil), "not an address"); err != nil {
		t.Fatal(err)
	}
}

// TestCodeAttempts: five wrong guesses kill the challenge; the right code
// is refused after that.
func TestCodeAttempts(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store, c *clock) {
		e := newCodeEnv(st, c)
		ch := e.start(t, "ann@example.com")
		code := e.box.last().Code
		for i := range 5 {
			if _, err := e.verify(ch.ID, wrongCode(code, i*7)); err != login.ErrInvalidCode {
				t.Fatal(err)
			}
		}
		if _, err := e.verify(ch.ID, code); err != login.ErrInvalidCode {
			t.Fatalf("the right code after 5 wrong ones: %v", err)
		}
		if n := e.ev.count(authkit.EventLoginFailed, login.ReasonExhausted); n != 1 {
			t.Fatalf("%d exhausted events", n)
		}
	})
}

// TestCodeParallelBruteForce: 50 parallel guesses at one challenge get at
// most 5 compared, whether or not the right code is among them.
func TestCodeParallelBruteForce(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store, c *clock) {
		for _, withRight := range []bool{false, true} {
			e := newCodeEnv(st, c)
			ch := e.start(t, "ann@example.com")
			code := e.box.last().Code
			var wg sync.WaitGroup
			var mu sync.Mutex
			wins := 0
			for i := range 50 {
				guess := wrongCode(code, i*1000)
				if withRight && i == 49 {
					guess = code
				}
				wg.Go(func() {
					_, err := e.verify(ch.ID, guess)
					if err == nil {
						mu.Lock()
						wins++
						mu.Unlock()
					} else if err != login.ErrInvalidCode {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			compared := e.ev.count(authkit.EventLoginFailed, login.ReasonBadCode) + wins
			if compared > 5 || (!withRight && compared != 5) {
				t.Fatalf("right code included %v: %d guesses compared (%d wins)", withRight, compared, wins)
			}
			c.Add(time.Hour) // a fresh throttle window for the next round
		}
	})
}

// TestCodeRace forces two guesses to read the challenge at its last allowed
// attempt: the one whose swap loses re-reads and finds it exhausted.
func TestCodeRace(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store, c *clock) {
		h := &hooked{Store: st}
		e := newCodeEnv(h, c)
		ch := e.start(t, "ann@example.com")
		code := e.box.last().Code
		for i := range 4 {
			e.verify(ch.ID, wrongCode(code, i))
		}
		var once sync.Once
		second := make(chan error, 1)
		h.mu.Lock()
		h.beforeCAS = func(key string) error {
			once.Do(func() {
				h.mu.Lock()
				h.beforeCAS = nil
				h.mu.Unlock()
				_, err := e.verify(ch.ID, code) // the right code, counted fifth
				second <- err
			})
			return nil
		}
		h.mu.Unlock()
		_, err := e.verify(ch.ID, wrongCode(code, 99))
		if err != login.ErrInvalidCode {
			t.Fatal(err)
		}
		if err := <-second; err != nil {
			t.Fatalf("the guess that swapped first: %v", err)
		}
		if n := e.ev.count(authkit.EventLoginFailed, login.ReasonBadCode); n != 4 {
			t.Fatalf("%d wrong guesses compared, want 4", n)
		}
	})
}

// TestCodeSuperseded: a new challenge ends the previous one.
func TestCodeSuperseded(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store, c *clock) {
		e := newCodeEnv(st, c)
		first := e.start(t, "ann@example.com")
		firstCode := e.box.last().Code
		second := e.start(t, "ann@example.com")
		if _, err := e.verify(first.ID, firstCode); err != login.ErrInvalidCode {
			t.Fatalf("superseded challenge: %v", err)
		}
		if _, err := e.verify(second.ID, e.box.last().Code); err != nil {
			t.Fatal(err)
		}
	})
}

// TestCodeResendThrottled: a fourth code to one address within ten minutes
// is refused, for unknown addresses alike.
func TestCodeResendThrottled(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store, c *clock) {
		e := newCodeEnv(st, c)
		for _, addr := range []string{"ann@example.com", "nobody@example.com"} {
			for range 3 {
				e.start(t, addr)
			}
			_, err := e.c.Start(newBrowser("203.0.113.9").request("POST", "/", nil), addr)
			rec := httptest.NewRecorder()
			if !login.SetRetryAfter(rec.Header(), err) {
				t.Fatalf("%s: %v", addr, err)
			}
		}
	})
}

// TestCodeStoreDump: the store holds neither the code nor a plain hash of
// it, nor the challenge ID.
func TestCodeStoreDump(t *testing.T) {
	c := newClock()
	st := store.NewMemory(store.MemoryConfig{Now: c.Now})
	defer st.Close()
	e := newCodeEnv(st, c)
	ch := e.start(t, "ann@example.com")
	code := e.box.last().Code
	for k, v := range st.All() {
		for _, s := range []string{code, ch.ID, "ann@example.com"} {
			if strings.Contains(k, s) || bytes.Contains(v, []byte(s)) {
				t.Fatalf("the store holds %q under %s", s, k)
			}
		}
	}
}

func TestMessageRedacted(t *testing.T) {
	m := login.Message{Kind: login.KindLink, To: "a@example.com", Subject: "u", Link: "https://x/?token=SECRET1", Code: "SECRET2"}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("msg", "m", m)
	for _, s := range []string{fmt.Sprint(m), fmt.Sprintf("%+v %#v %s", m, m, m), buf.String(), fmt.Sprint(&m)} {
		if strings.Contains(s, "SECRET") {
			t.Fatalf("secret printed: %s", s)
		}
	}
}

func TestCodeCrossOrigin(t *testing.T) {
	c := newClock()
	st := store.NewMemory(store.MemoryConfig{Now: c.Now})
	defer st.Close()
	e := newCodeEnv(st, c)
	r := newBrowser("203.0.113.9").request("POST", "/", nil)
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	if _, err := e.c.Start(r, "ann@example.com"); err != login.ErrCrossOrigin || e.box.count() != 0 {
		t.Fatal(err)
	}
	if _, err := e.c.Verify(r, strings.Repeat("a", 27), "123456"); err != login.ErrCrossOrigin {
		t.Fatal(err)
	}
}
