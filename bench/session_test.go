package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/gorilla/sessions"

	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/token"
)

// Session benchmarks: one request through each library's middleware, on an
// in-memory store, with the session cookie created in setup. The read
// handler reads one string value; the write handler sets one int value.
// Every side gets the same request shape: httptest.NewRequest, one cookie,
// httptest.NewRecorder, a handler that writes "ok".
//
// BenchmarkHarness measures that shape with a bare handler; the report
// subtracts its median from the session figures ("net of harness").
//
// Configurations (idle=30m: idle timeout 30 min, lifetime 24 h;
// idle=none: lifetime 24 h only):
//   - authkit: session.NewWithConfig(store.NewMemory(), Config{IdleTimeout,
//     Lifetime}). authkit has no "no idle timeout" setting (IdleTimeout must
//     be 1 s..400 days), so idle=none uses IdleTimeout = Lifetime = 24 h,
//     which expires a session at the same moment.
//   - scs: scs.New() with memstore.New(), IdleTimeout and Lifetime as above
//     (IdleTimeout 0 for idle=none), Cookie.Secure = true.
//   - gorilla: sessions.NewCookieStore(hashKey, blockKey) (HMAC-SHA256 +
//     AES-256). gorilla has no idle timeout; the documented way to get one
//     is a MaxAge of 30 min renewed by saving the session on every request
//     (the cookie's signed timestamp then is the last activity), with the
//     24 h lifetime checked against a "created" value. idle=none uses
//     MaxAge 24 h and saves only on writes.

const (
	benchIdle     = 30 * time.Minute
	benchLifetime = 24 * time.Hour
)

var (
	sinkString string
	sinkBytes  []byte
)

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

// sessionSide is one library's read and write handlers and the cookie of a
// session created in setup.
type sessionSide struct {
	read, write http.Handler
	cookie      *http.Cookie
}

var ok = []byte("ok")

func okWrite(w http.ResponseWriter) { _, _ = w.Write(ok) }

// firstCookie runs h once on a fresh request and returns the cookie it set.
func firstCookie(tb testing.TB, h http.Handler) *http.Cookie {
	tb.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	cs := rec.Result().Cookies()
	if rec.Code != http.StatusOK || len(cs) != 1 {
		tb.Fatalf("setup request: status %d, cookies %v", rec.Code, cs)
	}
	return cs[0]
}

func authkitSessionSide(tb testing.TB, idle bool) sessionSide {
	st := store.NewMemory(store.MemoryConfig{})
	tb.Cleanup(func() { st.Close() })
	cfg := session.Config{IdleTimeout: benchIdle, Lifetime: benchLifetime}
	if !idle {
		cfg.IdleTimeout = benchLifetime
	}
	m := session.New(st, cfg)
	c := firstCookie(tb, m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := session.Set(r.Context(), "user", "alice"); err != nil {
			tb.Error(err)
		}
		okWrite(w)
	})))
	n := 0
	return sessionSide{
		cookie: c,
		read: m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v, err := session.Get[string](r.Context(), "user")
			if err != nil || v != "alice" {
				http.Error(w, "bad session", http.StatusInternalServerError)
				return
			}
			sinkString = v
			okWrite(w)
		})),
		write: m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n++
			if err := session.Set(r.Context(), "n", n); err != nil {
				http.Error(w, "bad session", http.StatusInternalServerError)
				return
			}
			okWrite(w)
		})),
	}
}

func scsSessionSide(tb testing.TB, idle bool) sessionSide {
	ms := memstore.New()
	tb.Cleanup(ms.StopCleanup)
	sm := scs.New()
	sm.Store = ms
	sm.Lifetime = benchLifetime
	if idle {
		sm.IdleTimeout = benchIdle
	}
	sm.Cookie.Secure = true
	c := firstCookie(tb, sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sm.Put(r.Context(), "user", "alice")
		okWrite(w)
	})))
	n := 0
	return sessionSide{
		cookie: c,
		read: sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v := sm.GetString(r.Context(), "user")
			if v != "alice" {
				http.Error(w, "bad session", http.StatusInternalServerError)
				return
			}
			sinkString = v
			okWrite(w)
		})),
		write: sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n++
			sm.Put(r.Context(), "n", n)
			okWrite(w)
		})),
	}
}

func gorillaSessionSide(tb testing.TB, idle bool) sessionSide {
	cs := sessions.NewCookieStore(randomBytes(32), randomBytes(32))
	maxAge := int(benchLifetime / time.Second)
	if idle {
		maxAge = int(benchIdle / time.Second)
	}
	cs.Options = &sessions.Options{Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}
	cs.MaxAge(maxAge) // the cookie's Max-Age and securecookie's timestamp check
	const name = "session"
	// load returns the session if it exists and is within its lifetime.
	load := func(r *http.Request) (*sessions.Session, bool) {
		s, err := cs.Get(r, name)
		if err != nil || s.IsNew {
			return s, false
		}
		created, _ := s.Values["created"].(int64)
		if time.Since(time.Unix(created, 0)) > benchLifetime {
			return s, false
		}
		return s, true
	}
	c := firstCookie(tb, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := cs.Get(r, name)
		s.Values["created"] = time.Now().Unix()
		s.Values["user"] = "alice"
		if err := s.Save(r, w); err != nil {
			tb.Error(err)
		}
		okWrite(w)
	}))
	n := 0
	return sessionSide{
		cookie: c,
		read: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, live := load(r)
			v, _ := s.Values["user"].(string)
			if !live || v != "alice" {
				http.Error(w, "bad session", http.StatusInternalServerError)
				return
			}
			sinkString = v
			if idle { // renew the idle deadline
				if err := s.Save(r, w); err != nil {
					http.Error(w, "save", http.StatusInternalServerError)
					return
				}
			}
			okWrite(w)
		}),
		write: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, live := load(r)
			if !live {
				http.Error(w, "bad session", http.StatusInternalServerError)
				return
			}
			n++
			s.Values["n"] = n
			if err := s.Save(r, w); err != nil {
				http.Error(w, "save", http.StatusInternalServerError)
				return
			}
			okWrite(w)
		}),
	}
}

var sessionSides = []struct {
	name string
	new  func(testing.TB, bool) sessionSide
}{
	{"authkit", authkitSessionSide},
	{"scs", scsSessionSide},
	{"gorilla", gorillaSessionSide},
}

var idleModes = []struct {
	name string
	idle bool
}{{"30m", true}, {"none", false}}

// serve runs h on a new request carrying c, the loop body of every
// session benchmark and of BenchmarkHarness.
func serve(b *testing.B, h http.Handler, c *http.Cookie) {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(c)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("status %d", rec.Code)
	}
}

// BenchmarkHarness is the cost of the request shape alone: what the
// session benchmarks spend outside the library under test.
func BenchmarkHarness(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { okWrite(w) })
	c := &http.Cookie{Name: session.DefaultCookieName, Value: "0123456789012345678901234567890123456789012"}
	b.ReportAllocs()
	for b.Loop() {
		serve(b, h, c)
	}
}

func BenchmarkSessionRead(b *testing.B) {
	for _, mode := range idleModes {
		for _, side := range sessionSides {
			b.Run("idle="+mode.name+"/impl="+side.name, func(b *testing.B) {
				s := side.new(b, mode.idle)
				b.ReportAllocs()
				for b.Loop() {
					serve(b, s.read, s.cookie)
				}
			})
		}
	}
}

func BenchmarkSessionWrite(b *testing.B) {
	for _, mode := range idleModes {
		for _, side := range sessionSides {
			b.Run("idle="+mode.name+"/impl="+side.name, func(b *testing.B) {
				s := side.new(b, mode.idle)
				b.ReportAllocs()
				for b.Loop() {
					serve(b, s.write, s.cookie)
				}
			})
		}
	}
}

// countingStore counts a Store's reads and writes.
type countingStore struct {
	store.Store
	gets, writes int
}

func (s *countingStore) Get(ctx context.Context, key string) ([]byte, error) {
	s.gets++
	return s.Store.Get(ctx, key)
}

func (s *countingStore) Set(ctx context.Context, key string, v []byte, exp time.Time) error {
	s.writes++
	return s.Store.Set(ctx, key, v, exp)
}

func (s *countingStore) Delete(ctx context.Context, key string) error {
	s.writes++
	return s.Store.Delete(ctx, key)
}

func (s *countingStore) CompareAndSwap(ctx context.Context, key string, old, new []byte, exp time.Time) (bool, error) {
	s.writes++
	return s.Store.CompareAndSwap(ctx, key, old, new, exp)
}

// TestOneStoreReadPerLoad checks the premise of the Redis benchmarks,
// which compare a session load and a token verification with one raw GET:
// each is exactly one store read and no write, and a read request through
// the Middleware with the default idle refresh is one read too.
func TestOneStoreReadPerLoad(t *testing.T) {
	ctx := context.Background()
	mem := store.NewMemory(store.MemoryConfig{})
	t.Cleanup(func() { mem.Close() })
	st := &countingStore{Store: mem}
	m := session.New(st, session.Config{IdleTimeout: benchIdle, Lifetime: benchLifetime})
	ck := firstCookie(t, m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := m.Login(r.Context(), "user-1"); err != nil {
			t.Error(err)
		}
		okWrite(w)
	})))
	tm := token.New(st, token.Config{})
	tok, _, err := tm.Issue(ctx, "user-1", token.IssueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	read := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := m.Authenticate(r); err != nil {
			t.Error(err)
		}
		okWrite(w)
	}))
	cases := []struct {
		name string
		op   func() error
	}{
		{"session.Manager.Authenticate", func() error {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.AddCookie(ck)
			_, err := m.Authenticate(req)
			return err
		}},
		{"read request through the Middleware", func() error {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.AddCookie(ck)
			rec := httptest.NewRecorder()
			read.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				return fmt.Errorf("status %d", rec.Code)
			}
			return nil
		}},
		{"token.Manager.Verify", func() error {
			_, err := tm.Verify(ctx, tok)
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st.gets, st.writes = 0, 0
			if err := tc.op(); err != nil {
				t.Fatal(err)
			}
			if st.gets != 1 || st.writes != 0 {
				t.Errorf("%d store reads and %d writes, want 1 and 0", st.gets, st.writes)
			}
		})
	}
}
