package session_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/cookie"
	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store"
)

func newMemory(t *testing.T) *store.Memory {
	st := store.NewMemory(store.MemoryConfig{})
	t.Cleanup(func() { st.Close() })
	return st
}

func TestLazyCreation(t *testing.T) {
	st := &countingStore{Store: newMemory(t)}
	m := session.New(st, session.Config{})
	c := newClient(t, app(m))

	res, body := c.do("GET", "/get?k=user")
	if body != "-" {
		t.Fatalf("anonymous get: %q", body)
	}
	if sc := res.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("anonymous read-only visit set a cookie: %q", sc)
	}
	if got := res.Header.Get("Vary"); got != "Cookie" {
		t.Errorf("Vary = %q, want Cookie", got)
	}
	if n := st.writes.Load() + st.gets.Load(); n != 0 {
		t.Errorf("anonymous read-only visit made %d store operations", n)
	}

	// A visit that never touches the session gets no Vary either.
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "static") })
	res, _ = newClient(t, m.Middleware(mux)).do("GET", "/")
	if v := res.Header.Values("Vary"); len(v) != 0 {
		t.Errorf("untouched session: Vary %q", v)
	}

	// Storing something creates it: one write, a cookie, no-store.
	res, _ = c.do("POST", "/set?k=user&v=alice")
	if st.writes.Load() != 1 {
		t.Errorf("creating a session made %d writes, want 1", st.writes.Load())
	}
	sc := res.Header.Get("Set-Cookie")
	for _, want := range []string{session.DefaultCookieName + "=", "Path=/", "Secure", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(sc, want) {
			t.Errorf("Set-Cookie %q lacks %q", sc, want)
		}
	}
	if strings.Contains(sc, "Max-Age") || strings.Contains(sc, "Expires") {
		t.Errorf("default session cookie is persistent: %q", sc)
	}
	if got := res.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q", got)
	}
	if got := c.body("GET", "/get?k=user"); got != "alice" {
		t.Errorf("get after set = %q", got)
	}
}

func TestReadOnlyRequestWritesNothing(t *testing.T) {
	st := &countingStore{Store: newMemory(t)}
	m := session.New(st, session.Config{})
	c := newClient(t, app(m))
	c.body("POST", "/set?k=user&v=alice")
	w0, g0 := st.writes.Load(), st.gets.Load()
	for range 5 {
		res, body := c.do("GET", "/get?k=user")
		if body != "alice" || len(res.Header.Values("Set-Cookie")) != 0 {
			t.Fatalf("read: %q %q", body, res.Header.Values("Set-Cookie"))
		}
	}
	if st.writes.Load() != w0 {
		t.Errorf("read-only requests wrote %d times", st.writes.Load()-w0)
	}
	if st.gets.Load()-g0 != 5 {
		t.Errorf("read-only requests made %d store reads, want 5", st.gets.Load()-g0)
	}
}

func TestBadCookiesAreAnonymous(t *testing.T) {
	st := &countingStore{Store: newMemory(t)}
	ev := &events{}
	m := session.New(st, session.Config{Events: ev.fn})
	c := newClient(t, app(m))
	c.body("POST", "/set?k=user&v=alice")
	c.body("POST", "/login?u=alice")
	good := c.cookie()

	tampered := []byte(good)
	tampered[10] = 'A'
	if good[10] == 'A' {
		tampered[10] = 'B'
	}
	cases := []struct {
		name, value string
		reads       int64
	}{
		{"tampered", string(tampered), 1},
		{"truncated", good[:len(good)-1], 0},
		{"extended", good + "A", 0},
		{"unknown", strings.Repeat("A", 43), 1},
		{"bad characters", strings.Repeat("!", 43), 0},
		{"empty", "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad := newClient(t, app(m))
			bad.setCookie(tc.value)
			w0, g0, r0 := st.writes.Load(), st.gets.Load(), ev.count(authkit.EventRejected)
			res, body := bad.do("GET", "/whoami")
			if body != "invalid" {
				t.Errorf("whoami = %q, want invalid", body)
			}
			if got := st.writes.Load() - w0; got != 0 {
				t.Errorf("%d store writes", got)
			}
			if got := st.gets.Load() - g0; got != tc.reads {
				t.Errorf("%d store reads, want %d", got, tc.reads)
			}
			if got := bad.body("GET", "/get?k=user"); got != "-" {
				t.Errorf("data visible: %q", got)
			}
			// The client is told to drop the bad cookie.
			if sc := res.Header.Get("Set-Cookie"); !strings.Contains(sc, "Max-Age=0") {
				t.Errorf("bad cookie not cleared: %q", sc)
			}
			if ev.count(authkit.EventRejected) != r0+1 {
				t.Errorf("no rejected event")
			}
		})
	}
	if got := c.body("GET", "/whoami"); got != "alice" {
		t.Errorf("good cookie: %q", got)
	}
}

func TestDuplicateCookiesRefused(t *testing.T) {
	st := &countingStore{Store: newMemory(t)}
	m := session.New(st, session.Config{})
	c := newClient(t, app(m))
	c.body("POST", "/login?u=alice")
	good := c.cookie()

	req := httptest.NewRequest("GET", origin+"/whoami", nil)
	req.Header.Add("Cookie", session.DefaultCookieName+"="+good)
	req.Header.Add("Cookie", session.DefaultCookieName+"="+strings.Repeat("B", 43))
	g0 := st.gets.Load()
	rec := httptest.NewRecorder()
	app(m).ServeHTTP(rec, req)
	if rec.Body.String() != "invalid" {
		t.Errorf("duplicate cookies: %q, want invalid", rec.Body.String())
	}
	if st.gets.Load() != g0 {
		t.Errorf("duplicate cookies caused a store read")
	}
}

func TestDataTypes(t *testing.T) {
	type profile struct {
		Name  string
		Roles []string
		Since time.Time
	}
	type role string
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var checks []func(ctx context.Context) error
	check := func(f func(ctx context.Context) error) { checks = append(checks, f) }
	expect := func(ctx context.Context, key string, want any, get func(context.Context, string) (any, error)) error {
		got, err := get(ctx, key)
		if err != nil {
			return err
		}
		if !equal(got, want) {
			return errorf("%s: got %#v, want %#v", key, got, want)
		}
		return nil
	}
	check(func(ctx context.Context) error {
		return expect(ctx, "s", "text", func(ctx context.Context, k string) (any, error) { return session.Get[string](ctx, k) })
	})
	check(func(ctx context.Context) error {
		return expect(ctx, "i", 42, func(ctx context.Context, k string) (any, error) { return session.Get[int](ctx, k) })
	})
	check(func(ctx context.Context) error {
		return expect(ctx, "i", int64(42), func(ctx context.Context, k string) (any, error) { return session.Get[int64](ctx, k) })
	})
	check(func(ctx context.Context) error {
		return expect(ctx, "i", int32(42), func(ctx context.Context, k string) (any, error) { return session.Get[int32](ctx, k) })
	})
	check(func(ctx context.Context) error {
		return expect(ctx, "f", 2.5, func(ctx context.Context, k string) (any, error) { return session.Get[float64](ctx, k) })
	})
	check(func(ctx context.Context) error {
		return expect(ctx, "b", true, func(ctx context.Context, k string) (any, error) { return session.Get[bool](ctx, k) })
	})
	check(func(ctx context.Context) error {
		return expect(ctx, "bytes", []byte{0, 1, 2}, func(ctx context.Context, k string) (any, error) { return session.Get[[]byte](ctx, k) })
	})
	check(func(ctx context.Context) error {
		want := profile{Name: "Al", Roles: []string{"a", "b"}, Since: since}
		return expect(ctx, "p", want, func(ctx context.Context, k string) (any, error) { return session.Get[profile](ctx, k) })
	})
	check(func(ctx context.Context) error {
		return expect(ctx, "p", &profile{Name: "Al", Roles: []string{"a", "b"}, Since: since}, func(ctx context.Context, k string) (any, error) {
			return session.Get[*profile](ctx, k)
		})
	})
	check(func(ctx context.Context) error {
		return expect(ctx, "s", role("text"), func(ctx context.Context, k string) (any, error) { return session.Get[role](ctx, k) })
	})
	check(func(ctx context.Context) error {
		return expect(ctx, "r", role("admin"), func(ctx context.Context, k string) (any, error) { return session.Get[role](ctx, k) })
	})
	check(func(ctx context.Context) error {
		return expect(ctx, "r", "admin", func(ctx context.Context, k string) (any, error) { return session.Get[string](ctx, k) })
	})
	check(func(ctx context.Context) error {
		return expect(ctx, "i", int64(42), func(ctx context.Context, k string) (any, error) { return session.Get[any](ctx, k) })
	})
	check(func(ctx context.Context) error {
		return expect(ctx, "m", map[string]int{"x": 1}, func(ctx context.Context, k string) (any, error) {
			return session.Get[map[string]int](ctx, k)
		})
	})
	// Type mismatches are clear errors.
	for _, tc := range []struct {
		key string
		get func(context.Context, string) (any, error)
	}{
		{"s", func(ctx context.Context, k string) (any, error) { return session.Get[int](ctx, k) }},
		{"i", func(ctx context.Context, k string) (any, error) { return session.Get[string](ctx, k) }},
		{"b", func(ctx context.Context, k string) (any, error) { return session.Get[float64](ctx, k) }},
		{"bytes", func(ctx context.Context, k string) (any, error) { return session.Get[string](ctx, k) }},
		{"p", func(ctx context.Context, k string) (any, error) { return session.Get[[]int](ctx, k) }},
		{"p", func(ctx context.Context, k string) (any, error) { return session.Get[int](ctx, k) }},
		{"s", func(ctx context.Context, k string) (any, error) { return session.Get[profile](ctx, k) }},
	} {
		check(func(ctx context.Context) error {
			_, err := tc.get(ctx, tc.key)
			if !errors.Is(err, session.ErrType) {
				return errorf("%s: err = %v, want ErrType", tc.key, err)
			}
			if !strings.Contains(err.Error(), `"`+tc.key+`"`) {
				return errorf("%s: error does not name the key: %v", tc.key, err)
			}
			return nil
		})
	}

	m := session.New(newMemory(t), session.Config{})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		for k, v := range map[string]any{
			"s": "text", "i": 42, "f": 2.5, "b": true, "bytes": []byte{0, 1, 2},
			"p": profile{Name: "Al", Roles: []string{"a", "b"}, Since: since}, "r": role("admin"),
			"m": map[string]int{"x": 1},
		} {
			if err := session.Set(ctx, k, v); err != nil {
				t.Errorf("Set %s: %v", k, err)
			}
		}
		if err := session.Set(ctx, "bad", func() {}); !errors.Is(err, session.ErrType) {
			t.Errorf("Set of a func: %v, want ErrType", err)
		}
	})
	mux.HandleFunc("GET /check", func(w http.ResponseWriter, r *http.Request) {
		for _, f := range checks {
			if err := f(r.Context()); err != nil {
				t.Error(err)
			}
		}
	})
	c := newClient(t, m.Middleware(mux))
	c.body("POST", "/set")
	c.body("GET", "/check")
}

func TestKeysAndMissingMiddleware(t *testing.T) {
	ctx := context.Background()
	if _, err := session.Get[string](ctx, "k"); !errors.Is(err, session.ErrNoMiddleware) {
		t.Errorf("Get without middleware: %v", err)
	}
	if err := session.Set(ctx, "k", 1); !errors.Is(err, session.ErrNoMiddleware) {
		t.Errorf("Set without middleware: %v", err)
	}
	m := session.New(newMemory(t), session.Config{})
	if err := m.Login(ctx, "u"); !errors.Is(err, session.ErrNoMiddleware) {
		t.Errorf("Login without middleware: %v", err)
	}
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		for _, k := range []string{"", strings.Repeat("k", session.MaxKeyLen+1)} {
			if err := session.Set(ctx, k, 1); !errors.Is(err, session.ErrInvalidKey) {
				t.Errorf("Set(%d-byte key): %v", len(k), err)
			}
		}
		if err := session.Set(ctx, strings.Repeat("k", session.MaxKeyLen), 1); err != nil {
			t.Errorf("Set with a %d-byte key: %v", session.MaxKeyLen, err)
		}
		if err := m.Login(ctx, ""); !errors.Is(err, session.ErrInvalidKey) {
			t.Errorf("Login(\"\"): %v", err)
		}
		// Another manager's middleware is not this one's.
		other := session.New(newMemory(t), session.Config{})
		if err := other.Login(ctx, "u"); !errors.Is(err, session.ErrNoMiddleware) {
			t.Errorf("Login on another manager: %v", err)
		}
	}))
	newClient(t, h).body("POST", "/")
}

func TestFlash(t *testing.T) {
	m := session.New(newMemory(t), session.Config{})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /flash", func(w http.ResponseWriter, r *http.Request) {
		if err := session.Set(r.Context(), "flash", r.FormValue("v")); err != nil {
			t.Error(err)
		}
	})
	mux.HandleFunc("GET /flash", func(w http.ResponseWriter, r *http.Request) {
		v, err := session.Pop[string](r.Context(), "flash")
		if errors.Is(err, session.ErrNotFound) {
			io.WriteString(w, "-")
			return
		}
		if err != nil {
			t.Error(err)
		}
		// Popped: gone from this request's view too.
		if _, err := session.Get[string](r.Context(), "flash"); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Get after Pop: %v", err)
		}
		io.WriteString(w, v)
	})
	mux.HandleFunc("GET /flash-int", func(w http.ResponseWriter, r *http.Request) {
		if _, err := session.Pop[int](r.Context(), "flash"); !errors.Is(err, session.ErrType) {
			t.Errorf("Pop[int] of a string: %v", err)
		}
	})
	c := newClient(t, m.Middleware(mux))
	c.body("POST", "/flash?v=saved")
	c.body("GET", "/flash-int") // a failed Pop leaves the value
	if got := c.body("GET", "/flash"); got != "saved" {
		t.Errorf("first read = %q", got)
	}
	if got := c.body("GET", "/flash"); got != "-" {
		t.Errorf("second read = %q, want none", got)
	}
}

func TestPopKeepsNewerValue(t *testing.T) {
	// Request A reads a flash; request B stores a new flash and saves; A
	// saves its Pop. B's flash must survive.
	m := session.New(newMemory(t), session.Config{})
	inA, releaseA := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /flash", func(w http.ResponseWriter, r *http.Request) {
		if err := session.Set(r.Context(), "flash", r.FormValue("v")); err != nil {
			t.Error(err)
		}
	})
	mux.HandleFunc("GET /pop", func(w http.ResponseWriter, r *http.Request) {
		v, err := session.Pop[string](r.Context(), "flash")
		if err != nil {
			t.Error(err)
		}
		if r.FormValue("wait") == "1" {
			close(inA)
			<-releaseA
		}
		io.WriteString(w, v)
	})
	c := newClient(t, m.Middleware(mux))
	c.body("POST", "/flash?v=one")
	done := make(chan string)
	go func() { done <- c.body("GET", "/pop?wait=1") }()
	<-inA
	c.body("POST", "/flash?v=two")
	close(releaseA)
	if got := <-done; got != "one" {
		t.Fatalf("A popped %q", got)
	}
	if got := c.body("GET", "/pop"); got != "two" {
		t.Errorf("after concurrent pop, flash = %q, want two", got)
	}
}

func TestSizeCap(t *testing.T) {
	m := session.New(newMemory(t), session.Config{MaxSize: 1024})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if err := session.Set(ctx, "small", strings.Repeat("x", 100)); err != nil {
			t.Errorf("small value: %v", err)
		}
		err := session.Set(ctx, "big", strings.Repeat("x", 1000))
		if !errors.Is(err, session.ErrTooLarge) {
			t.Errorf("big value: %v, want ErrTooLarge", err)
		}
		if _, err := session.Get[string](ctx, "big"); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("refused value is visible: %v", err)
		}
		// Several values that together exceed the cap.
		var last error
		for i := range 20 {
			if last = session.Set(ctx, string(rune('a'+i)), strings.Repeat("y", 60)); last != nil {
				break
			}
		}
		if !errors.Is(last, session.ErrTooLarge) {
			t.Errorf("cumulative size: %v, want ErrTooLarge", last)
		}
		// Replacing a value with a smaller one is fine.
		if err := session.Set(ctx, "small", "x"); err != nil {
			t.Errorf("shrinking: %v", err)
		}
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		if v, err := session.Get[string](r.Context(), "small"); err != nil || v != "x" {
			t.Errorf("saved small = %q, %v", v, err)
		}
	})
	c := newClient(t, m.Middleware(mux))
	c.body("POST", "/")
	c.body("GET", "/")
}

func TestChangeAfterCommit(t *testing.T) {
	var logs logBuf
	m := session.New(newMemory(t), session.Config{Logger: logs.logger()})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /new-late", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "body first")
		if err := session.Set(r.Context(), "k", "v"); !errors.Is(err, session.ErrCommitted) {
			t.Errorf("Set creating a session after the response started: %v", err)
		}
	})
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		if err := session.Set(r.Context(), r.FormValue("k"), r.FormValue("v")); err != nil {
			t.Error(err)
		}
	})
	mux.HandleFunc("POST /existing-late", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "body first")
		// An existing session's data is saved when the handler returns.
		if err := session.Set(r.Context(), "late", "saved"); err != nil {
			t.Errorf("late Set on an existing session: %v", err)
		}
		if _, err := session.Pop[string](r.Context(), "flash"); err != nil {
			t.Errorf("late Pop: %v", err)
		}
		// Changes needing a header are refused.
		if err := m.Login(r.Context(), "alice"); !errors.Is(err, session.ErrCommitted) {
			t.Errorf("late Login: %v", err)
		}
		if err := m.RenewID(r.Context()); !errors.Is(err, session.ErrCommitted) {
			t.Errorf("late RenewID: %v", err)
		}
		if err := m.RememberMe(r.Context(), true); !errors.Is(err, session.ErrCommitted) {
			t.Errorf("late RememberMe: %v", err)
		}
	})
	var saved context.Context
	mux.HandleFunc("POST /after-return", func(w http.ResponseWriter, r *http.Request) {
		saved = r.Context()
	})
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		v, _ := session.Get[string](r.Context(), r.FormValue("k"))
		io.WriteString(w, v)
	})
	c := newClient(t, m.Middleware(mux))

	res, _ := c.do("POST", "/new-late")
	if len(res.Header.Values("Set-Cookie")) != 0 || c.cookie() != "" {
		t.Errorf("late Set created a cookie")
	}
	if !strings.Contains(logs.String(), "change refused") {
		t.Errorf("late change not logged: %s", logs.String())
	}

	c.body("POST", "/set?k=flash&v=hello")
	if res, _ := c.do("POST", "/existing-late"); res.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d", res.StatusCode)
	}
	if got := c.body("GET", "/get?k=late"); got != "saved" {
		t.Errorf("late Set lost: %q", got)
	}
	if got := c.body("GET", "/get?k=flash"); got != "" {
		t.Errorf("late Pop lost: flash still %q", got)
	}

	c.body("POST", "/after-return")
	if err := session.Set(saved, "k", "v"); !errors.Is(err, session.ErrCommitted) {
		t.Errorf("Set after the handler returned: %v", err)
	}
}

func TestSaveFailureReplacesResponse(t *testing.T) {
	fs := &failingStore{Store: newMemory(t)}
	var logs logBuf
	m := session.New(fs, session.Config{Logger: logs.logger()})
	c := newClient(t, app(m))
	c.body("POST", "/set?k=a&v=1")

	fs.broken.Store(true)
	// Reading fails loudly, never as "logged out".
	res, body := c.do("GET", "/whoami")
	if res.StatusCode != http.StatusInternalServerError || !strings.Contains(body, "store down") {
		t.Errorf("whoami with a broken store: %d %q", res.StatusCode, body)
	}
	fs.broken.Store(false)

	// A save that fails replaces the response with a 500.
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := session.Set(r.Context(), "k", "v"); err != nil {
			t.Error(err)
		}
		fs.broken.Store(true)
		w.WriteHeader(http.StatusCreated)
		if _, err := io.WriteString(w, "created"); err == nil {
			t.Error("Write after a failed save succeeded")
		}
	}))
	res, body = newClient(t, h).do("POST", "/")
	fs.broken.Store(false)
	if res.StatusCode != http.StatusInternalServerError || strings.Contains(body, "created") {
		t.Errorf("failed save: %d %q", res.StatusCode, body)
	}
	if len(res.Header.Values("Set-Cookie")) != 0 {
		t.Errorf("failed save set a cookie")
	}
	if !strings.Contains(logs.String(), "cannot save session") {
		t.Errorf("failure not logged: %s", logs.String())
	}
}

func TestCSRF(t *testing.T) {
	ev := &events{}
	st := newMemory(t)
	m := session.New(st, session.Config{Events: ev.fn, TrustedOrigins: []string{"https://partner.example"}})
	c := newClient(t, app(m))
	c.body("POST", "/login?u=alice")

	cases := []struct {
		name   string
		hdr    []string
		status int
	}{
		{"same-origin by Sec-Fetch-Site", []string{"Sec-Fetch-Site", "same-origin"}, 200},
		{"same-site", []string{"Sec-Fetch-Site", "same-site"}, 403},
		{"cross-site", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"other origin", []string{"Sec-Fetch-Site", "", "Origin", "https://evil.example"}, 403},
		{"sibling origin", []string{"Sec-Fetch-Site", "", "Origin", "https://sub.example.com"}, 403},
		{"same origin by Origin", []string{"Sec-Fetch-Site", "", "Origin", origin}, 200},
		{"non-browser (no headers)", []string{"Sec-Fetch-Site", ""}, 200},
		{"trusted origin", []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://partner.example"}, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := ev.count(authkit.EventCSRFRejected)
			res, _ := c.do("POST", "/set?k=x&v=1", tc.hdr...)
			if res.StatusCode != tc.status {
				t.Errorf("status %d, want %d", res.StatusCode, tc.status)
			}
			want := n
			if tc.status == 403 {
				want++
			}
			if got := ev.count(authkit.EventCSRFRejected); got != want {
				t.Errorf("%d csrf events, want %d", got, want)
			}
		})
	}
	// GET is never refused; the session still works.
	if got := c.body("GET", "/whoami", "Sec-Fetch-Site", "cross-site"); got != "alice" {
		t.Errorf("cross-site GET: %q", got)
	}

	t.Run("login CSRF", func(t *testing.T) {
		fresh := newClient(t, app(m))
		res, body := fresh.do("POST", "/login?u=mallory", "Sec-Fetch-Site", "cross-site")
		if res.StatusCode != 500 || !strings.Contains(body, session.ErrCrossOrigin.Error()) {
			t.Errorf("cross-site login: %d %q", res.StatusCode, body)
		}
		if fresh.cookie() != "" {
			t.Error("cross-site login set a cookie")
		}
		res, _ = fresh.do("POST", "/set?k=a&v=b", "Sec-Fetch-Site", "", "Origin", "https://evil.example")
		if res.StatusCode != 500 || fresh.cookie() != "" {
			t.Errorf("cross-origin session creation: %d", res.StatusCode)
		}
	})

	t.Run("opt-out", func(t *testing.T) {
		m := session.New(st, session.Config{InsecureSkipCSRFCheck: true})
		c := newClient(t, app(m))
		c.body("POST", "/login?u=alice", "Sec-Fetch-Site", "cross-site")
		if res, _ := c.do("POST", "/set?k=x&v=1", "Sec-Fetch-Site", "cross-site"); res.StatusCode != 200 {
			t.Errorf("opted-out check refused: %d", res.StatusCode)
		}
	})

	t.Run("Authenticate without middleware", func(t *testing.T) {
		h := authkit.Require(m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, _ := authkit.IdentityFrom(r.Context())
			io.WriteString(w, id.Subject)
		}))
		cc := newClient(t, h)
		cc.jar = c.jar
		if got := cc.body("POST", "/"); got != "alice" {
			t.Errorf("same-origin: %q", got)
		}
		if res, _ := cc.do("POST", "/", "Sec-Fetch-Site", "same-site"); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("same-site POST through Require alone: %d", res.StatusCode)
		}
	})
}

func TestHeaderTransport(t *testing.T) {
	st := &countingStore{Store: newMemory(t)}
	m := session.New(st, session.Config{Header: "session-token"})
	h := app(m)
	api := newClient(t, h)

	// Login over the API: the ID comes back in the header, no cookie.
	res, body := api.do("POST", "/login?u=bot&header=1", "Sec-Fetch-Site", "")
	if res.StatusCode != 200 {
		t.Fatalf("login: %d %s", res.StatusCode, body)
	}
	tok := res.Header.Get("Session-Token")
	if len(tok) != 43 || len(res.Header.Values("Set-Cookie")) != 0 {
		t.Fatalf("token %q, cookies %q", tok, res.Header.Values("Set-Cookie"))
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", res.Header.Get("Cache-Control"))
	}
	api.hdr.Set("Session-Token", tok)
	if got := api.body("GET", "/whoami"); got != "bot" {
		t.Errorf("whoami = %q", got)
	}
	// Header sessions are exempt from the cross-origin check.
	res, _ = api.do("POST", "/set?k=a&v=1", "Sec-Fetch-Site", "cross-site")
	if res.StatusCode != 200 {
		t.Errorf("cross-site header request: %d", res.StatusCode)
	}
	if vary := res.Header.Get("Vary"); !strings.Contains(vary, "Session-Token") {
		t.Errorf("Vary %q", vary)
	}
	// Renewal sends the new ID in the header.
	res, _ = api.do("POST", "/renew")
	if nt := res.Header.Get("Session-Token"); len(nt) != 43 || nt == tok {
		t.Errorf("renewed token %q", nt)
	} else {
		api.hdr.Set("Session-Token", nt)
	}
	if got := api.body("GET", "/get?k=a"); got != "1" {
		t.Errorf("data after renew: %q", got)
	}
	// A bad or repeated header is an invalid credential.
	api.hdr.Set("Session-Token", "nope")
	if got := api.body("GET", "/whoami"); got != "invalid" {
		t.Errorf("bad token: %q", got)
	}
	api.hdr["Session-Token"] = []string{tok, tok}
	if got := api.body("GET", "/whoami"); got != "invalid" {
		t.Errorf("repeated header: %q", got)
	}
	// A header request ignores the cookie.
	browser := newClient(t, h)
	browser.body("POST", "/login?u=human")
	browser.hdr.Set("Session-Token", strings.Repeat("A", 43))
	if got := browser.body("GET", "/whoami"); got != "invalid" {
		t.Errorf("header+cookie: %q", got)
	}
	// UseHeader without Config.Header fails.
	plain := session.New(newMemory(t), session.Config{})
	hh := plain.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := session.UseHeader(r.Context()); err == nil {
			t.Error("UseHeader without Config.Header succeeded")
		}
	}))
	newClient(t, hh).body("GET", "/")
}

func TestGuardIntegration(t *testing.T) {
	m := session.New(newMemory(t), session.Config{})
	mux := http.NewServeMux()
	mux.Handle("GET /private", authkit.Require(m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := authkit.IdentityFrom(r.Context())
		if id.Method != "session" || id.AuthTime.IsZero() || !id.Expires.After(time.Now()) {
			t.Errorf("identity %+v", id)
		}
		io.WriteString(w, "hello "+id.Subject)
	})))
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Login(r.Context(), "alice"); err != nil {
			t.Error(err)
		}
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Logout(r.Context()); err != nil {
			t.Error(err)
		}
	})
	c := newClient(t, m.Middleware(mux))
	if res, _ := c.do("GET", "/private"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous: %d", res.StatusCode)
	}
	c.body("POST", "/login")
	if got := c.body("GET", "/private"); got != "hello alice" {
		t.Errorf("logged in: %q", got)
	}
	old := c.cookie()
	c.body("POST", "/logout")
	if c.cookie() != "" {
		t.Error("logout left the cookie")
	}
	c.setCookie(old)
	// A refused cookie is answered as no credential: RFC 6750 keeps
	// error="invalid_token" for a bearer token that was sent.
	res, _ := c.do("GET", "/private")
	if res.StatusCode != http.StatusUnauthorized || strings.Contains(res.Header.Get("WWW-Authenticate"), "invalid_token") {
		t.Errorf("logged-out cookie: %d %q", res.StatusCode, res.Header.Get("WWW-Authenticate"))
	}
}

func TestResponseController(t *testing.T) {
	m := session.New(newMemory(t), session.Config{})
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := session.Set(r.Context(), "k", "v"); err != nil {
			t.Error(err)
		}
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetWriteDeadline through Unwrap: %v", err)
		}
		if err := rc.Flush(); err != nil {
			t.Errorf("Flush: %v", err)
		}
		// The flush committed: the cookie is already on the wire.
		if err := session.Set(r.Context(), "k2", "v"); err != nil {
			t.Errorf("Set on the now-existing session: %v", err)
		}
		if _, ok := w.(http.Flusher); !ok {
			t.Error("not a Flusher")
		}
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if len(res.Cookies()) != 1 {
		t.Errorf("cookies %v", res.Cookies())
	}
}

func TestNewPanicsOnMisconfiguration(t *testing.T) {
	st := newMemory(t)
	for name, cfg := range map[string]session.Config{
		"short idle":       {IdleTimeout: time.Millisecond},
		"long lifetime":    {Lifetime: 401 * 24 * time.Hour},
		"refresh zero+":    {IdleRefresh: 1.5},
		"refresh negative": {IdleRefresh: -0.1},
		"size":             {MaxSize: 10},
		"cap":              {MaxPerSubject: -1},
		"origin":           {TrustedOrigins: []string{"not an origin"}},
		"header":           {Header: "bad header"},
		"cookie max-age":   {Cookie: withMaxAge(cookie.New("__Host-s"))},
		"insecure cookie":  {Cookie: cookie.Template{Name: "s", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode}},
		"host prefix path": {Cookie: withPath(cookie.New("__Host-s"), "/app")},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			session.New(st, cfg)
		})
	}
	t.Run("nil store", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Error("no panic")
			}
		}()
		session.New(nil, session.Config{})
	})
}

func withMaxAge(t cookie.Template) cookie.Template { t.MaxAge = time.Hour; return t }

func withPath(t cookie.Template, p string) cookie.Template { t.Path = p; return t }

func TestCustomCookie(t *testing.T) {
	tmpl := cookie.New("__Secure-app")
	tmpl.SameSite = http.SameSiteStrictMode
	tmpl.Path = "/app"
	m := session.New(newMemory(t), session.Config{Cookie: tmpl})
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			if err := m.Login(r.Context(), "alice"); err != nil {
				t.Error(err)
			}
			return
		}
		id, err := m.Authenticate(r)
		if err != nil {
			io.WriteString(w, "anon")
			return
		}
		io.WriteString(w, id.Subject)
	}))
	c := newClient(t, h)
	res, _ := c.do("POST", "/app/login")
	sc := res.Header.Get("Set-Cookie")
	for _, want := range []string{"__Secure-app=", "Path=/app", "SameSite=Strict", "Secure", "HttpOnly"} {
		if !strings.Contains(sc, want) {
			t.Errorf("Set-Cookie %q lacks %q", sc, want)
		}
	}
	if got := c.body("GET", "/app/x"); got != "alice" {
		t.Errorf("whoami = %q", got)
	}
}

func TestStoreOutageIsNotLoggedOut(t *testing.T) {
	fs := &failingStore{Store: newMemory(t)}
	m := session.New(fs, session.Config{Logger: slog.New(slog.DiscardHandler)})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Login(r.Context(), "alice"); err != nil {
			t.Error(err)
		}
	})
	mux.Handle("GET /private", (&authkit.Guard{Logger: slog.New(slog.DiscardHandler)}).Require(m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secret")
	})))
	c := newClient(t, m.Middleware(mux))
	c.body("POST", "/login")
	fs.broken.Store(true)
	res, _ := c.do("GET", "/private")
	fs.broken.Store(false)
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("store down: %d, want 503", res.StatusCode)
	}
	if len(res.Header.Values("Set-Cookie")) != 0 {
		t.Error("store outage cleared the cookie")
	}
	if got := c.body("GET", "/private"); got != "secret" {
		t.Errorf("after recovery: %q", got)
	}
}

func equal(a, b any) bool { return reflect.DeepEqual(a, b) }

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
