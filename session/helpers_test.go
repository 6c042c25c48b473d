package session_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store"
)

const origin = "https://example.com"

// countingStore counts the operations on a Store and can run a hook before
// each write.
type countingStore struct {
	store.Store
	gets, writes atomic.Int64
	mu           sync.Mutex
	beforeWrite  func(op, key string)
}

func (s *countingStore) hook(op, key string) {
	s.writes.Add(1)
	s.mu.Lock()
	h := s.beforeWrite
	s.mu.Unlock()
	if h != nil {
		h(op, key)
	}
}

func (s *countingStore) setHook(h func(op, key string)) {
	s.mu.Lock()
	s.beforeWrite = h
	s.mu.Unlock()
}

func (s *countingStore) Get(ctx context.Context, key string) ([]byte, error) {
	s.gets.Add(1)
	return s.Store.Get(ctx, key)
}

func (s *countingStore) Set(ctx context.Context, key string, v []byte, exp time.Time) error {
	s.hook("set", key)
	return s.Store.Set(ctx, key, v, exp)
}

func (s *countingStore) Delete(ctx context.Context, key string) error {
	s.hook("delete", key)
	return s.Store.Delete(ctx, key)
}

func (s *countingStore) CompareAndSwap(ctx context.Context, key string, old, new []byte, exp time.Time) (bool, error) {
	s.hook("cas", key)
	return s.Store.CompareAndSwap(ctx, key, old, new, exp)
}

// failingStore fails every operation once broken is set.
type failingStore struct {
	store.Store
	broken atomic.Bool
}

var errDown = errors.New("store down")

func (s *failingStore) Get(ctx context.Context, key string) ([]byte, error) {
	if s.broken.Load() {
		return nil, errDown
	}
	return s.Store.Get(ctx, key)
}

func (s *failingStore) Set(ctx context.Context, key string, v []byte, exp time.Time) error {
	if s.broken.Load() {
		return errDown
	}
	return s.Store.Set(ctx, key, v, exp)
}

func (s *failingStore) CompareAndSwap(ctx context.Context, key string, old, new []byte, exp time.Time) (bool, error) {
	if s.broken.Load() {
		return false, errDown
	}
	return s.Store.CompareAndSwap(ctx, key, old, new, exp)
}

// events records security events.
type events struct {
	mu  sync.Mutex
	evs []authkit.Event
}

func (e *events) fn(_ context.Context, ev authkit.Event) {
	e.mu.Lock()
	e.evs = append(e.evs, ev)
	e.mu.Unlock()
}

func (e *events) count(typ authkit.EventType) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.evs {
		if ev.Type == typ {
			n++
		}
	}
	return n
}

// logBuf is a concurrency-safe log destination.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuf) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// app is a small application used by most tests.
func app(m *session.Manager) http.Handler {
	mux := http.NewServeMux()
	fail := func(w http.ResponseWriter, err error) {
		http.Error(w, "error: "+err.Error(), http.StatusInternalServerError)
	}
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		v, err := session.Get[string](r.Context(), r.FormValue("k"))
		switch {
		case errors.Is(err, session.ErrNotFound):
			io.WriteString(w, "-")
		case err != nil:
			fail(w, err)
		default:
			io.WriteString(w, v)
		}
	})
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		if err := session.Set(r.Context(), r.FormValue("k"), r.FormValue("v")); err != nil {
			fail(w, err)
			return
		}
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("remember") == "1" {
			if err := m.RememberMe(r.Context(), true); err != nil {
				fail(w, err)
				return
			}
		}
		if r.FormValue("header") == "1" {
			if err := session.UseHeader(r.Context()); err != nil {
				fail(w, err)
				return
			}
		}
		if err := m.Login(r.Context(), r.FormValue("u")); err != nil {
			fail(w, err)
			return
		}
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Logout(r.Context()); err != nil {
			fail(w, err)
			return
		}
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("POST /renew", func(w http.ResponseWriter, r *http.Request) {
		if err := m.RenewID(r.Context()); err != nil {
			fail(w, err)
			return
		}
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		id, err := m.Authenticate(r)
		switch {
		case errors.Is(err, authkit.ErrNoCredentials):
			io.WriteString(w, "anon")
		case errors.Is(err, authkit.ErrInvalidCredentials):
			io.WriteString(w, "invalid")
		case err != nil:
			fail(w, err)
		default:
			io.WriteString(w, id.Subject)
		}
	})
	mux.HandleFunc("POST /revoke-others", func(w http.ResponseWriter, r *http.Request) {
		if err := m.RevokeOthers(r.Context()); err != nil {
			fail(w, err)
			return
		}
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /sessions", func(w http.ResponseWriter, r *http.Request) {
		infos, err := m.Sessions(r.Context(), r.FormValue("u"))
		if err != nil {
			fail(w, err)
			return
		}
		json.NewEncoder(w).Encode(infos)
	})
	return m.Middleware(mux)
}

// client is an in-process browser: it calls a handler directly (so it works
// inside a synctest bubble) and keeps cookies in a jar.
type client struct {
	t   testing.TB
	h   http.Handler
	jar *cookiejar.Jar
	// extra headers on every request
	hdr http.Header
}

func newClient(t testing.TB, h http.Handler) *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, h: h, jar: jar, hdr: http.Header{}}
}

// do sends a same-origin request and returns the response with its body.
func (c *client) do(method, target string, hdr ...string) (*http.Response, string) {
	c.t.Helper()
	req := httptest.NewRequest(method, origin+target, nil)
	if method != "GET" && method != "HEAD" {
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for k, v := range c.hdr {
		req.Header[k] = v
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	for _, ck := range c.jar.Cookies(req.URL) {
		req.AddCookie(ck)
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	res := rec.Result()
	c.jar.SetCookies(req.URL, res.Cookies())
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

// body sends a request and returns only the body, failing on a non-200.
func (c *client) body(method, target string, hdr ...string) string {
	c.t.Helper()
	res, body := c.do(method, target, hdr...)
	if res.StatusCode != http.StatusOK {
		c.t.Fatalf("%s %s: %d %s", method, target, res.StatusCode, body)
	}
	return body
}

// cookie returns the session cookie value in the jar, or "".
func (c *client) cookie() string {
	u, _ := url.Parse(origin)
	for _, ck := range c.jar.Cookies(u) {
		if ck.Name == session.DefaultCookieName {
			return ck.Value
		}
	}
	return ""
}

// setCookie replaces the session cookie in the jar.
func (c *client) setCookie(v string) {
	u, _ := url.Parse(origin)
	c.jar.SetCookies(u, []*http.Cookie{{Name: session.DefaultCookieName, Value: v, Path: "/", Secure: true}})
}

// dump returns every key and value of a memory store as text.
func dump(st *store.Memory) string {
	var b strings.Builder
	for k, v := range st.All() {
		fmt.Fprintf(&b, "%s=%q\n", k, v)
	}
	return b.String()
}
