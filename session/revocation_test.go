package session_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authkit/authkit/internal/faultstore"
	"github.com/authkit/authkit/internal/keyhash"
	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store"
)

// The tests below force each interleaving of a session operation with a
// revocation, and each store failure, with internal/faultstore: a rule
// runs the revocation just before the Nth store call of the operation
// under test (or after its last), for every N. They check the revocation
// invariants on what came out: a revocation that returned nil leaves no
// session it covers valid, on any ID the operation handed out (R1, R2); a
// failed revocation, retried, finishes the job (R3); a session that
// authenticates is listed (R4).

// point is where in an operation's store calls an interleaving runs.
type point struct {
	nth   int  // the call, from 1
	after bool // after it took effect, rather than before it
}

func (p point) String() string {
	if p.after {
		return fmt.Sprintf("after call %d", p.nth)
	}
	return fmt.Sprintf("before call %d", p.nth)
}

// rule runs hook at p, once.
func (p point) rule(hook func()) faultstore.Rule {
	r := faultstore.Rule{Nth: p.nth}
	h := func(context.Context, faultstore.Call) { hook() }
	if p.after {
		r.After = h
	} else {
		r.Before = h
	}
	return r
}

// points returns every point of an operation that makes n store calls:
// before each, and after the last.
func points(n int) []point {
	var ps []point
	for k := 1; k <= n; k++ {
		ps = append(ps, point{nth: k})
	}
	return append(ps, point{nth: n, after: true})
}

// countCalls returns the number of store calls f makes.
func countCalls(fs *faultstore.Store, f func()) int {
	n := len(fs.Calls())
	f()
	return len(fs.Calls()) - n
}

func memoryStore(t *testing.T) store.Store { return newMemory(t) }

// handleOf returns the Handle of the session whose ID is id.
func handleOf(id string) string {
	return strings.TrimPrefix(keyhash.Key("sess:", id), "sess:")
}

// revokeApp is app(m) with a route running RememberMe and one that loads
// the session, waits, and logs out.
func revokeApp(m *session.Manager, loaded chan<- struct{}, proceed <-chan struct{}) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", app(m))
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		switch r.URL.Path {
		case "/remember":
			if r.FormValue("login") != "" {
				if err := m.Login(ctx, r.FormValue("login")); err != nil {
					http.Error(w, "error: "+err.Error(), http.StatusInternalServerError)
					return
				}
			}
			if err := m.RememberMe(ctx, true); err != nil {
				http.Error(w, "error: "+err.Error(), http.StatusInternalServerError)
				return
			}
		case "/slow-logout":
			if _, err := session.Get[string](ctx, "x"); !errors.Is(err, session.ErrNotFound) {
				http.Error(w, "error: load: "+fmt.Sprint(err), http.StatusInternalServerError)
				return
			}
			loaded <- struct{}{}
			<-proceed
			if err := m.Logout(ctx); err != nil {
				http.Error(w, "error: "+err.Error(), http.StatusInternalServerError)
				return
			}
		}
		io.WriteString(w, "ok")
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/remember" || r.URL.Path == "/slow-logout" {
			h.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// alive reports whether a client holding id is authenticated as alice.
func alive(t *testing.T, h http.Handler, id string) bool {
	t.Helper()
	c := newClient(t, h)
	c.setCookie(id)
	return c.body("GET", "/whoami") == "alice"
}

// listed reports whether id's session is in alice's Sessions.
func listed(t *testing.T, m *session.Manager, id string) bool {
	t.Helper()
	infos, err := m.Sessions(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range infos {
		if in.Handle == handleOf(id) {
			return true
		}
	}
	return false
}

// RememberMe after Login, in the same request or a later one, extends the
// session's lifetime: its index entry must follow, or the session outlives
// its entry, unlisted and beyond the reach of RevokeSubject.
func TestRememberMeAfterLoginStaysListed(t *testing.T) {
	for _, sameRequest := range []bool{false, true} {
		t.Run(fmt.Sprintf("same request %v", sameRequest), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				mem := store.NewMemory(store.MemoryConfig{})
				defer mem.Close()
				fs := faultstore.New(mem)
				m := session.New(fs, session.Config{}) // 30 min idle; remember-me 7 days idle
				h := revokeApp(m, nil, nil)
				c := newClient(t, h)
				if sameRequest {
					c.body("POST", "/remember?login=alice")
				} else {
					c.body("POST", "/login?u=alice")
					c.body("POST", "/remember")
				}
				id := c.cookie()
				// Past the normal idle timeout, within remember-me's.
				time.Sleep(31 * time.Minute)
				if !alive(t, h, id) {
					t.Fatal("remembered session ended after 31 idle minutes")
				}
				if !listed(t, m, id) {
					t.Error("a remembered session that authenticates is not listed (R4)")
				}
				if err := m.RevokeSubject(context.Background(), "alice"); err != nil {
					t.Fatal(err)
				}
				if alive(t, h, id) {
					t.Error("remembered session survived RevokeSubject (R1)")
				}
			})
		})
	}
}

// RememberMe racing RevokeSubject: whenever the revocation runs, the
// session is refused once both are done.
func TestRememberMeRacingRevokeSubject(t *testing.T) {
	setup := func(t *testing.T) (*faultstore.Store, *session.Manager, http.Handler, *client) {
		fs := faultstore.New(newMemory(t))
		m := session.New(fs, session.Config{})
		h := revokeApp(m, nil, nil)
		c := newClient(t, h)
		c.body("POST", "/login?u=alice")
		return fs, m, h, c
	}
	fs, _, _, c := setup(t)
	n := countCalls(fs, func() { c.body("POST", "/remember") })
	for _, p := range points(n) {
		t.Run(p.String(), func(t *testing.T) {
			fs, m, h, c := setup(t)
			id := c.cookie()
			var revokeErr error
			fs.On(p.rule(func() { revokeErr = m.RevokeSubject(context.Background(), "alice") }))
			c.do("POST", "/remember")
			if revokeErr != nil {
				t.Fatal(revokeErr)
			}
			if alive(t, h, id) || c.cookie() != "" && alive(t, h, c.cookie()) {
				t.Error("the session survived RevokeSubject")
			}
		})
	}
}

// renewRace runs a RenewID of alice's session A (created first) with
// revoke run at every point of its store calls, and checks that whenever
// revoke reports that it covered A, neither A's old ID nor any ID the
// renewal handed out is valid, and none is listed.
func renewRace(t *testing.T, newStore func(*testing.T) store.Store, cfg session.Config, revoke func(t *testing.T, m *session.Manager, h http.Handler, oldID string) (covered bool)) {
	setup := func(t *testing.T) (*faultstore.Store, *session.Manager, http.Handler, *client) {
		fs := faultstore.New(newStore(t))
		m := session.New(fs, cfg)
		h := app(m)
		a := newClient(t, h)
		a.body("POST", "/login?u=alice")
		newClient(t, h).body("POST", "/login?u=alice") // B, a second device
		return fs, m, h, a
	}
	fs, _, _, a := setup(t)
	n := countCalls(fs, func() { a.body("POST", "/renew") })
	for _, p := range points(n) {
		t.Run(p.String(), func(t *testing.T) {
			fs, m, h, a := setup(t)
			old := a.cookie()
			covered := false
			fs.On(p.rule(func() { covered = revoke(t, m, h, old) }))
			a.do("POST", "/renew")
			if !covered {
				return
			}
			for _, id := range []string{old, a.cookie()} {
				if id == "" {
					continue
				}
				if alive(t, h, id) {
					t.Errorf("a session ID survived a revocation that covered it (renewed: %v)", id != old)
				}
				if listed(t, m, id) {
					t.Errorf("a revoked session is still listed (renewed: %v)", id != old)
				}
			}
		})
	}
}

func TestRenewIDRacingRevokeSubject(t *testing.T) {
	renewRace(t, memoryStore, session.Config{}, func(t *testing.T, m *session.Manager, _ http.Handler, _ string) bool {
		if err := m.RevokeSubject(context.Background(), "alice"); err != nil {
			t.Fatal(err)
		}
		return true
	})
}

func TestRenewIDRacingRevokeID(t *testing.T) {
	renewRace(t, memoryStore, session.Config{}, func(t *testing.T, m *session.Manager, _ http.Handler, old string) bool {
		// The handle the user saw may have been renewed away meanwhile:
		// then RevokeID reports ErrNotFound and covers nothing.
		err := m.RevokeID(context.Background(), "alice", handleOf(old))
		if err != nil && !errors.Is(err, session.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	})
}

func TestRenewIDRacingRevokeOthers(t *testing.T) {
	renewRace(t, memoryStore, session.Config{}, func(t *testing.T, m *session.Manager, h http.Handler, _ string) bool {
		c := newClient(t, h)
		c.body("POST", "/login?u=alice")
		c.body("POST", "/revoke-others")
		return true
	})
}

func TestRenewIDRacingCapEviction(t *testing.T) {
	// With two devices at a cap of two, a third login evicts the oldest: A.
	renewRace(t, memoryStore, session.Config{MaxPerSubject: 2}, func(t *testing.T, m *session.Manager, h http.Handler, _ string) bool {
		newClient(t, h).body("POST", "/login?u=alice")
		return true
	})
}

// A revocation whose marker (or, before, its record delete) fails returns
// an error and keeps the member, so that the retry ends the session; a cap
// eviction that fails leaves the session listed, and the next update of
// the index ends it.
func TestRevokeFailuresAreRetried(t *testing.T) {
	// Fails the first write to key's record that is not its creation.
	failEnd := func(fs *faultstore.Store, key string) {
		fs.On(faultstore.Rule{Nth: 1, Fail: true, Match: func(c faultstore.Call) bool {
			return c.Key == key && (c.Op == faultstore.OpSet || c.Op == faultstore.OpDelete)
		}})
	}
	t.Run("RevokeSubject", func(t *testing.T) {
		fs := faultstore.New(newMemory(t))
		m := session.New(fs, session.Config{})
		h := app(m)
		cs := loginClients(t, h, "alice", 3, "d")
		failEnd(fs, keyhash.Key("sess:", cs[1].cookie()))
		if err := m.RevokeSubject(context.Background(), "alice"); err == nil {
			t.Fatal("RevokeSubject with a failing write returned nil")
		}
		if alive(t, h, cs[1].cookie()) && !listed(t, m, cs[1].cookie()) {
			t.Error("a session whose revocation failed is valid but not listed (R4)")
		}
		if err := m.RevokeSubject(context.Background(), "alice"); err != nil {
			t.Fatal(err)
		}
		for i, c := range cs {
			if alive(t, h, c.cookie()) {
				t.Errorf("session %d survived a retried RevokeSubject (R3)", i)
			}
		}
	})
	t.Run("cap eviction", func(t *testing.T) {
		fs := faultstore.New(newMemory(t))
		m := session.New(fs, session.Config{MaxPerSubject: 1})
		h := app(m)
		a := loginClients(t, h, "alice", 1, "a")[0]
		failEnd(fs, keyhash.Key("sess:", a.cookie()))
		newClient(t, h).body("POST", "/login?u=alice") // evicts A, whose end fails
		if alive(t, h, a.cookie()) && !listed(t, m, a.cookie()) {
			t.Error("an evicted session whose end failed is valid but not listed (R4)")
		}
		newClient(t, h).body("POST", "/login?u=alice") // the next update of the index
		if alive(t, h, a.cookie()) {
			t.Error("an evicted session whose end failed survived the next login (R3)")
		}
	})
	t.Run("index finish", func(t *testing.T) {
		fs := faultstore.New(newMemory(t))
		m := session.New(fs, session.Config{})
		h := app(m)
		cs := loginClients(t, h, "alice", 2, "d")
		// The last index write of the revocation fails.
		fs.On(faultstore.Rule{Op: faultstore.OpCAS, KeyPrefix: "sidx:", Nth: 2, Fail: true})
		err := m.RevokeSubject(context.Background(), "alice")
		if err := m.RevokeSubject(context.Background(), "alice"); err != nil {
			t.Fatal(err)
		}
		_ = err // a failure of the first call is allowed; the retry must finish
		for i, c := range cs {
			if alive(t, h, c.cookie()) {
				t.Errorf("session %d survived", i)
			}
		}
	})
}

// Logout racing a renewal of the same session in a parallel request (same
// browser, two tabs): the Logout loaded the session before the renewal
// began, and runs at every point of the renewal's store calls. Once both
// are done and the Logout reported success, neither ID is valid.
func TestLogoutRacingRenewal(t *testing.T) { logoutRace(t, memoryStore) }

func logoutRace(t *testing.T, newStore func(*testing.T) store.Store) {
	for _, renew := range []string{"/renew", "/login?u=alice"} {
		t.Run(renew, func(t *testing.T) {
			setup := func(t *testing.T) (*faultstore.Store, http.Handler, *client, chan struct{}, chan struct{}) {
				fs := faultstore.New(newStore(t))
				m := session.New(fs, session.Config{})
				loaded, proceed := make(chan struct{}), make(chan struct{})
				h := revokeApp(m, loaded, proceed)
				a := newClient(t, h)
				a.body("POST", "/login?u=alice")
				return fs, h, a, loaded, proceed
			}
			fs, _, a, _, _ := setup(t)
			oldKey := keyhash.Key("sess:", a.cookie())
			start := len(fs.Calls())
			n := countCalls(fs, func() { a.body("POST", renew) })
			// The call that ends the old ID: a Login that begins after the
			// Logout ended the session starts afresh, as a login after a
			// logout does, so its new session may stay.
			take := 0
			for i, c := range fs.Calls()[start:] {
				if c.Op == faultstore.OpCAS && c.Key == oldKey {
					take = i + 1
					break
				}
			}
			if take == 0 {
				t.Fatal("the renewal never swapped the old record")
			}
			for _, p := range points(n) {
				t.Run(p.String(), func(t *testing.T) {
					fs, h, a, loaded, proceed := setup(t)
					old := a.cookie()
					tab := newClient(t, h)
					tab.setCookie(old)
					done := make(chan string)
					go func() {
						_, body := tab.do("POST", "/slow-logout")
						done <- body
					}()
					<-loaded
					var logout string
					fs.On(p.rule(func() {
						close(proceed)
						logout = <-done
					}))
					a.do("POST", renew)
					if logout != "ok" {
						t.Fatalf("logout: %q", logout)
					}
					fresh := renew != "/renew" && !p.after && p.nth <= take
					for _, id := range []string{old, a.cookie()} {
						if id != "" && alive(t, h, id) && !(fresh && id != old) {
							t.Errorf("a session ID survived the Logout (renewed: %v)", id != old)
						}
					}
				})
			}
		})
	}
}

// A fresh Login (an anonymous visitor signing in) with RevokeSubject run
// before each of its store calls and after the last (TestLoginRacingRevokeSubject
// checks the point between the index and the record in detail): the new session may
// survive only if the revocation ran before the Login's swap of the
// subject's index — a sign-in that took effect after the revocation, as
// one just after it would. Otherwise the revocation covered it and it must
// be refused (R2). A session that survives is listed (R4).
func TestLoginRacingRevokeSubjectAtEveryCall(t *testing.T) {
	setup := func(t *testing.T) (*faultstore.Store, *session.Manager, http.Handler, *client) {
		fs := faultstore.New(newMemory(t))
		m := session.New(fs, session.Config{})
		h := app(m)
		newClient(t, h).body("POST", "/login?u=alice") // another device: the index exists
		return fs, m, h, newClient(t, h)
	}
	fs, _, _, c := setup(t)
	start := len(fs.Calls())
	n := countCalls(fs, func() { c.body("POST", "/login?u=alice") })
	index := 0 // the Login's swap of alice's index, from 1
	for i, call := range fs.Calls()[start:] {
		if call.Op == faultstore.OpCAS && strings.HasPrefix(call.Key, "sidx:") {
			index = i + 1
			break
		}
	}
	if index == 0 {
		t.Fatal("the Login never swapped the subject's index")
	}
	for _, p := range points(n) {
		t.Run(p.String(), func(t *testing.T) {
			fs, m, h, c := setup(t)
			fs.On(p.rule(func() {
				if err := m.RevokeSubject(context.Background(), "alice"); err != nil {
					t.Error(err)
				}
			}))
			c.do("POST", "/login?u=alice")
			id := c.cookie()
			if id == "" || !alive(t, h, id) {
				return
			}
			if after := p.after || p.nth > index; after {
				t.Errorf("the new session survived a RevokeSubject that ran after the Login swapped the index")
			}
			if !listed(t, m, id) {
				t.Error("a live session is not listed")
			}
		})
	}
}
