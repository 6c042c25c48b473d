package session_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store"
)

// Expiry tests run in a synctest bubble: the memory store is created inside
// it (and closed), handlers are called in-process, and time.Sleep advances
// the fake clock at once.

func TestIdleExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := store.NewMemory(store.MemoryConfig{})
		defer mem.Close()
		st := &countingStore{Store: mem}
		m := session.New(st, session.Config{}) // 30 min idle, 24 h lifetime, refresh every 3 min
		c := newClient(t, app(m))
		c.body("POST", "/login?u=alice")

		// Active every 30 s for an hour: the session lives on, and the idle
		// deadline is extended about every 3 minutes, not on every request.
		w0 := st.writes.Load()
		requests := 0
		for range 120 {
			time.Sleep(30 * time.Second)
			if got := c.body("GET", "/whoami"); got != "alice" {
				t.Fatalf("active session ended: %q", got)
			}
			requests++
		}
		writes := st.writes.Load() - w0
		// One record write and one index write per extension.
		if writes > 2*21 || writes < 2*19 {
			t.Errorf("%d writes for %d requests over an hour, want about 40", writes, requests)
		}

		// Idle just under the timeout minus the refresh slack: alive.
		time.Sleep(26 * time.Minute)
		if got := c.body("GET", "/whoami"); got != "alice" {
			t.Fatalf("after 26 idle minutes: %q", got)
		}
		// Idle past the timeout: gone.
		time.Sleep(30*time.Minute + time.Second)
		if got := c.body("GET", "/whoami"); got != "invalid" {
			t.Errorf("after 30 idle minutes: %q", got)
		}
		// And its index entry is pruned on the next update.
		d := newClient(t, app(m))
		d.body("POST", "/login?u=alice")
		if n := len(indexMembers(t, mem, "alice")); n != 1 {
			t.Errorf("index holds %d members after expiry and a new login, want 1", n)
		}
		// The expired session's record is gone from the store as well.
		n := 0
		for k := range mem.All() {
			if strings.HasPrefix(k, "sess:") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d session records, want 1", n)
		}
	})
}

func TestAbsoluteExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := store.NewMemory(store.MemoryConfig{})
		defer mem.Close()
		m := session.New(mem, session.Config{})
		c := newClient(t, app(m))
		c.body("POST", "/login?u=alice")
		start := time.Now()
		for time.Since(start) < 24*time.Hour-10*time.Minute {
			time.Sleep(10 * time.Minute)
			if got := c.body("GET", "/whoami"); got != "alice" {
				t.Fatalf("at %v: %q", time.Since(start), got)
			}
		}
		time.Sleep(10*time.Minute + time.Second)
		if got := c.body("GET", "/whoami"); got != "invalid" {
			t.Errorf("past the absolute lifetime (%v): %q", time.Since(start), got)
		}
	})
}

// immortalStore keeps every entry for a year, whatever expiry it is given:
// the session must still end on the deadlines in its own record.
type immortalStore struct{ store.Store }

func (s immortalStore) Set(ctx context.Context, k string, v []byte, _ time.Time) error {
	return s.Store.Set(ctx, k, v, time.Now().Add(365*24*time.Hour))
}

func (s immortalStore) CompareAndSwap(ctx context.Context, k string, o, n []byte, _ time.Time) (bool, error) {
	return s.Store.CompareAndSwap(ctx, k, o, n, time.Now().Add(365*24*time.Hour))
}

func TestDeadlinesFromRecord(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := store.NewMemory(store.MemoryConfig{})
		defer mem.Close()
		m := session.New(immortalStore{mem}, session.Config{})
		c := newClient(t, app(m))
		c.body("POST", "/login?u=alice")
		id := c.cookie()
		time.Sleep(31 * time.Minute)
		if got := c.body("GET", "/whoami"); got != "invalid" {
			t.Errorf("idle-expired session in a store that kept it: %q", got)
		}
		// Requests with the expired ID write nothing that revives it.
		c.setCookie(id)
		c.body("POST", "/set?k=a&v=b")
		if c.cookie() == id {
			t.Error("the expired ID was revived")
		}
	})
}

func TestRememberMe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := store.NewMemory(store.MemoryConfig{})
		defer mem.Close()
		m := session.New(mem, session.Config{})
		h := app(m)

		normal := newClient(t, h)
		normal.body("POST", "/login?u=alice")
		remembered := newClient(t, h)
		res, _ := remembered.do("POST", "/login?u=alice&remember=1")
		sc := res.Header.Get("Set-Cookie")
		if !strings.Contains(sc, "Max-Age="+strconv.Itoa(int((30*24*time.Hour).Seconds()))) {
			t.Errorf("remember-me cookie %q, want Max-Age of 30 days", sc)
		}

		// Two idle hours: the normal session ended, the remembered one lives.
		time.Sleep(2 * time.Hour)
		if got := normal.body("GET", "/whoami"); got != "invalid" {
			t.Errorf("normal session after 2 idle hours: %q", got)
		}
		if got := remembered.body("GET", "/whoami"); got != "alice" {
			t.Errorf("remembered session after 2 idle hours: %q", got)
		}
		infos, err := m.Sessions(context.Background(), "alice")
		if err != nil || len(infos) != 1 || !infos[0].Remember {
			t.Errorf("sessions: %+v %v", infos, err)
		}
		// Seven idle days end it too.
		time.Sleep(7*24*time.Hour + time.Minute)
		if got := remembered.body("GET", "/whoami"); got != "invalid" {
			t.Errorf("remembered session after 7 idle days: %q", got)
		}

		// Turning remember-me on after login re-sends the cookie, and off
		// makes it a browser-session cookie again.
		toggle := newClient(t, h)
		toggle.body("POST", "/login?u=bob")
		mux := http.NewServeMux()
		mux.HandleFunc("POST /remember", func(w http.ResponseWriter, r *http.Request) {
			if err := m.RememberMe(r.Context(), r.FormValue("on") == "1"); err != nil {
				t.Error(err)
			}
		})
		toggle.h = m.Middleware(mux)
		res, _ = toggle.do("POST", "/remember?on=1")
		if sc := res.Header.Get("Set-Cookie"); !strings.Contains(sc, "Max-Age=") {
			t.Errorf("remember on: %q", sc)
		}
		res, _ = toggle.do("POST", "/remember?on=1")
		if sc := res.Header.Values("Set-Cookie"); len(sc) != 0 {
			t.Errorf("remember on again: %q", sc)
		}
		res, _ = toggle.do("POST", "/remember?on=0")
		if sc := res.Header.Get("Set-Cookie"); sc == "" || strings.Contains(sc, "Max-Age") {
			t.Errorf("remember off: %q", sc)
		}
		toggle.h = h
		if got := toggle.body("GET", "/whoami"); got != "bob" {
			t.Errorf("after toggling: %q", got)
		}
	})
}
