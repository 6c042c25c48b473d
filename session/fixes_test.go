package session_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/cookie"
	"github.com/authkit/authkit/internal/faultstore"
	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store"
)

// within runs f and fails the test if it has not returned after a long
// while: f deadlocked. (A deadlocked f is left blocked.)
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s deadlocked", what)
	}
}

// An EventFunc may read the session of the request it is told about: the
// Manager sends events after releasing the request's session.
func TestEventFuncMayUseSession(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	cfg := session.Config{MaxPerSubject: 1, Events: func(ctx context.Context, e authkit.Event) {
		tenant, err := session.Get[string](ctx, "tenant")
		if err != nil {
			tenant = fmt.Sprint(err)
		}
		mu.Lock()
		seen = append(seen, string(e.Type)+":"+tenant)
		mu.Unlock()
	}}
	m := session.New(newMemory(t), cfg)
	h := app(m)
	c := newClient(t, h)
	c.body("POST", "/set?k=tenant&v=acme")
	within(t, "Login", func() { c.body("POST", "/login?u=alice") })
	within(t, "RenewID", func() { c.body("POST", "/renew") })
	within(t, "a cap eviction", func() { newClient(t, h).body("POST", "/login?u=alice") })
	d := newClient(t, h)
	d.body("POST", "/login?u=bob")
	within(t, "Logout", func() { d.body("POST", "/logout") })
	bad := newClient(t, h)
	bad.setCookie(strings.Repeat("A", 43))
	within(t, "a rejected cookie", func() { bad.body("GET", "/whoami") })

	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{"login:acme", "renew:acme", "revoke:", "logout:", "rejected:"} {
		if !slices.ContainsFunc(seen, func(s string) bool { return strings.HasPrefix(s, want) }) {
			t.Errorf("no event %q in %q", want, seen)
		}
	}
}

// IdleRefresh 1 would extend the idle deadline only once it had passed:
// never. It is treated as MaxIdleRefresh, so an active session lives on.
func TestIdleRefreshOneKeepsSessionsSliding(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := store.NewMemory(store.MemoryConfig{})
		defer mem.Close()
		m := session.New(mem, session.Config{IdleTimeout: 10 * time.Minute, IdleRefresh: 1})
		c := newClient(t, app(m))
		c.body("POST", "/login?u=alice")
		// A request every 6 minutes for an hour: within the idle timeout.
		for i := range 10 {
			time.Sleep(6 * time.Minute)
			if got := c.body("GET", "/whoami"); got != "alice" {
				t.Fatalf("active session ended after %d minutes: %q", 6*(i+1), got)
			}
		}
		time.Sleep(10*time.Minute + time.Second)
		if got := c.body("GET", "/whoami"); got != "invalid" {
			t.Errorf("after 10 idle minutes: %q", got)
		}
	})
}

// The 500 that replaces a response after a failed save carries none of
// the handler's headers.
func TestSaveFailureResponseIsClean(t *testing.T) {
	for _, custom := range []bool{false, true} {
		t.Run(fmt.Sprintf("ErrorHandler %v", custom), func(t *testing.T) {
			fs := faultstore.New(newMemory(t))
			var cfg session.Config
			if custom {
				cfg.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
					if n := len(w.Header()); n != 0 {
						t.Errorf("ErrorHandler got %d headers of the handler's: %v", n, w.Header())
					}
					w.WriteHeader(http.StatusServiceUnavailable)
				}
			}
			m := session.New(fs, cfg)
			h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "public, max-age=3600")
				w.Header().Set("Content-Encoding", "gzip")
				w.Header().Set("X-Handler", "1")
				http.SetCookie(w, &http.Cookie{Name: "theirs", Value: "1"})
				if err := session.Set(r.Context(), "k", "v"); err != nil {
					t.Error(err)
				}
				io.WriteString(w, "created")
			}))
			fs.On(faultstore.Rule{KeyPrefix: "sess:", Fail: true, Match: func(c faultstore.Call) bool {
				return c.Op == faultstore.OpSet || c.Op == faultstore.OpCAS
			}})
			res, body := newClient(t, h).do("POST", "/")
			if res.StatusCode < 500 || strings.Contains(body, "created") {
				t.Fatalf("failed save: %d %q", res.StatusCode, body)
			}
			for _, k := range []string{"Content-Encoding", "X-Handler", "Set-Cookie"} {
				if v := res.Header.Values(k); len(v) != 0 {
					t.Errorf("%s: %q kept from the handler", k, v)
				}
			}
			if cc := res.Header.Get("Cache-Control"); !custom && cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", cc)
			} else if custom && cc != "" {
				t.Errorf("Cache-Control %q kept from the handler", cc)
			}
		})
	}
}

// With a cookie name that allows a Domain attribute, a sibling subdomain
// can plant a second session cookie (cookie tossing). The request then
// authenticates nobody, and the Manager deletes nothing: a host-only
// deletion would remove the victim's genuine cookie and leave the planted
// one, making the next request the attacker's session.
func TestDuplicateCookieDeletesNothing(t *testing.T) {
	m := session.New(newMemory(t), session.Config{Cookie: cookie.New("sid")})
	h := app(m)
	login := httptest.NewRequest("POST", origin+"/login?u=alice", nil)
	login.Header.Set("Sec-Fetch-Site", "same-origin")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, login)
	var genuine string
	for _, c := range rec.Result().Cookies() {
		genuine = c.Value
	}
	for _, tc := range []struct{ method, target string }{
		{"GET", "/whoami"},
		{"POST", "/logout"},
		{"GET", "/get?k=x"},
	} {
		req := httptest.NewRequest(tc.method, origin+tc.target, nil)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("Cookie", "sid="+genuine+"; sid="+strings.Repeat("A", 43))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if tc.target == "/whoami" && rec.Body.String() != "invalid" {
			t.Errorf("duplicate cookies authenticate: %q", rec.Body.String())
		}
		if sc := rec.Result().Header.Values("Set-Cookie"); len(sc) != 0 {
			t.Errorf("%s %s with duplicate cookies sent %q", tc.method, tc.target, sc)
		}
	}
	// Outside the Middleware too.
	req := httptest.NewRequest("GET", origin+"/", nil)
	req.Header.Set("Cookie", "sid="+genuine+"; sid="+strings.Repeat("A", 43))
	if _, err := m.Authenticate(req); !errors.Is(err, authkit.ErrInvalidCredentials) {
		t.Errorf("Authenticate with duplicate cookies: %v", err)
	}
	// The genuine session itself is intact.
	one := httptest.NewRequest("GET", origin+"/", nil)
	one.Header.Set("Cookie", "sid="+genuine)
	if id, err := m.Authenticate(one); err != nil || id.Subject != "alice" {
		t.Errorf("genuine cookie alone: %v, %v", id, err)
	}
}

// A response that read a session is marked private for caches, unless
// the handler chose something stricter.
func TestCacheControlPrivate(t *testing.T) {
	m := session.New(newMemory(t), session.Config{})
	var set string
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if set != "" {
			w.Header().Set("Cache-Control", set)
		}
		if r.Method == "POST" {
			_ = session.Set(r.Context(), "k", "v")
		}
		_, _ = session.Get[string](r.Context(), "k")
	}))
	c := newClient(t, h)
	c.do("POST", "/") // creates the session
	for _, tc := range []struct{ set, want string }{
		{"", "private"},
		{"no-store", "no-store"},
		{"private, max-age=60", "private, max-age=60"},
		{"public, max-age=60", "private, max-age=60"},
		{"max-age=60, must-revalidate", "private, max-age=60, must-revalidate"},
	} {
		set = tc.set
		res, _ := c.do("GET", "/")
		if got := strings.Join(res.Header.Values("Cache-Control"), ", "); got != tc.want {
			t.Errorf("handler's %q: Cache-Control %q, want %q", tc.set, got, tc.want)
		}
	}
	// A request without a session is not marked.
	set = ""
	res, _ := newClient(t, h).do("GET", "/")
	if cc := res.Header.Get("Cache-Control"); cc != "" {
		t.Errorf("no session: Cache-Control %q", cc)
	}
}

func TestDelete(t *testing.T) {
	st := &countingStore{Store: newMemory(t)}
	m := session.New(st, session.Config{})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /delete", func(w http.ResponseWriter, r *http.Request) {
		for _, k := range r.Form["k"] {
			if err := session.Delete(r.Context(), k); err != nil {
				http.Error(w, "error: "+err.Error(), http.StatusInternalServerError)
				return
			}
		}
		io.WriteString(w, "ok")
	})
	mux.Handle("/", app(m))
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mux.ServeHTTP(w, r)
	}))
	c := newClient(t, h)
	c.body("POST", "/set?k=a&v=1")
	c.body("POST", "/set?k=b&v=2")
	c.body("POST", "/delete?k=a&k=absent")
	if got := c.body("GET", "/get?k=a"); got != "-" {
		t.Errorf("deleted key reads %q", got)
	}
	if got := c.body("GET", "/get?k=b"); got != "2" {
		t.Errorf("other key reads %q", got)
	}
	// Deleting what is not there writes nothing.
	w0 := st.writes.Load()
	c.body("POST", "/delete?k=absent")
	if st.writes.Load() != w0 {
		t.Error("deleting an absent key wrote to the store")
	}
	// On an anonymous visitor it creates no session.
	anon := newClient(t, h)
	anon.body("POST", "/delete?k=a")
	if anon.cookie() != "" {
		t.Error("Delete created a session")
	}
	// Invalid keys and a missing Middleware are refused.
	if res, _ := c.do("POST", "/delete?k="+strings.Repeat("x", session.MaxKeyLen+1)); res.StatusCode != 500 {
		t.Error("a key over MaxKeyLen was accepted")
	}
	if err := session.Delete(context.Background(), "a"); !errors.Is(err, session.ErrNoMiddleware) {
		t.Errorf("Delete without the Middleware: %v", err)
	}
	// A Set then Delete in one request leaves nothing; a Delete then Set
	// leaves the value.
	h2 := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		_ = session.Set(ctx, "x", "1")
		_ = session.Delete(ctx, "x")
		_ = session.Delete(ctx, "y")
		_ = session.Set(ctx, "y", "2")
	}))
	c.h = h2
	c.do("POST", "/")
	c.h = h
	if got := c.body("GET", "/get?k=x"); got != "-" {
		t.Errorf("set then deleted: %q", got)
	}
	if got := c.body("GET", "/get?k=y"); got != "2" {
		t.Errorf("deleted then set: %q", got)
	}
}
