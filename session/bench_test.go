package session_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store"
)

// The benchmarks run requests through the Middleware on a store.Memory with
// an idle timeout of 30 minutes and a lifetime of 24 hours, each with a new
// httptest request and recorder. BenchmarkBareHandler measures that harness
// alone, so the Middleware's own cost is the difference.
//
//	go test -run x -bench . -benchmem ./session/

func benchManager(b *testing.B) (*session.Manager, *http.Cookie) {
	b.Helper()
	st := store.NewMemory(store.MemoryConfig{})
	b.Cleanup(func() { st.Close() })
	m := session.New(st, session.Config{IdleTimeout: 30 * time.Minute, Lifetime: 24 * time.Hour})
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := session.Set(r.Context(), "user", "alice"); err != nil {
			b.Fatal(err)
		}
		if err := session.Set(r.Context(), "n", 1); err != nil {
			b.Fatal(err)
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	cs := rec.Result().Cookies()
	if len(cs) != 1 {
		b.Fatalf("cookies: %v", cs)
	}
	return m, cs[0]
}

var sink string

func BenchmarkBareHandler(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok"))
	})
	c := &http.Cookie{Name: session.DefaultCookieName, Value: "0123456789012345678901234567890123456789012"}
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", "/", nil)
		req.AddCookie(c)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}

func BenchmarkReadRequest(b *testing.B) {
	m, c := benchManager(b)
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := session.Get[string](r.Context(), "user")
		if err != nil {
			b.Fatal(err)
		}
		sink = v
		_, _ = w.Write([]byte("ok"))
	}))
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", "/", nil)
		req.AddCookie(c)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

func BenchmarkWriteRequest(b *testing.B) {
	m, c := benchManager(b)
	i := 0
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i++
		if err := session.Set(r.Context(), "n", i); err != nil {
			b.Fatal(err)
		}
		_, _ = w.Write([]byte("ok"))
	}))
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", "/", nil)
		req.AddCookie(c)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

// BenchmarkAuthenticate measures Manager.Authenticate called without the
// Middleware (as authkit.Require does when a route has no session
// middleware) on a logged-in session.
func BenchmarkAuthenticate(b *testing.B) {
	st := store.NewMemory(store.MemoryConfig{})
	b.Cleanup(func() { st.Close() })
	m := session.New(st, session.Config{})
	login := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := m.Login(r.Context(), "alice"); err != nil {
			b.Fatal(err)
		}
	}))
	rec := httptest.NewRecorder()
	login.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	cs := rec.Result().Cookies()
	if len(cs) != 1 {
		b.Fatalf("cookies: %v", cs)
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(cs[0])
	b.ReportAllocs()
	for b.Loop() {
		id, err := m.Authenticate(req)
		if err != nil {
			b.Fatal(err)
		}
		sink = id.Subject
	}
}
