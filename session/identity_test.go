package session_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/internal/index"
	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store"
)

func TestFixation(t *testing.T) {
	st := newMemory(t)
	ev := &events{}
	m := session.New(st, session.Config{Events: ev.fn})
	victim := newClient(t, app(m))
	victim.body("POST", "/set?k=cart&v=3")
	pre := victim.cookie()
	if pre == "" {
		t.Fatal("no pre-login cookie")
	}
	// The attacker holds the pre-login ID (planted or observed).
	attacker := newClient(t, app(m))
	attacker.setCookie(pre)
	if got := attacker.body("GET", "/get?k=cart"); got != "3" {
		t.Fatalf("attacker before login: %q", got)
	}

	res, _ := victim.do("POST", "/login?u=alice")
	post := victim.cookie()
	if post == "" || post == pre {
		t.Fatalf("login did not renew the ID: %q", res.Header.Values("Set-Cookie"))
	}
	if got := victim.body("GET", "/whoami"); got != "alice" {
		t.Errorf("victim whoami = %q", got)
	}
	if got := victim.body("GET", "/get?k=cart"); got != "3" {
		t.Errorf("login lost the data: cart = %q", got)
	}
	if got := attacker.body("GET", "/whoami"); got != "invalid" {
		t.Errorf("pre-login ID after login: whoami = %q", got)
	}
	attacker.setCookie(pre)
	if got := attacker.body("GET", "/get?k=cart"); got != "-" {
		t.Errorf("pre-login ID still reads data: %q", got)
	}
	if ev.count(authkit.EventLogin) != 1 {
		t.Errorf("%d login events", ev.count(authkit.EventLogin))
	}
	for _, e := range ev.evs {
		if strings.Contains(e.Reason+e.Subject, post) || strings.Contains(e.Reason+e.Subject, pre) {
			t.Errorf("event carries a session ID: %+v", e)
		}
	}

	// At rest: no session ID in the store, keys are hashes.
	d := dump(st)
	if strings.Contains(d, post) || strings.Contains(d, pre) {
		t.Errorf("store dump shows a session ID:\n%s", d)
	}
	keyRE := regexp.MustCompile(`^(sess|sidx):[A-Za-z0-9_-]{43}$`)
	for k := range st.All() {
		if !keyRE.MatchString(k) {
			t.Errorf("unexpected store key %q", k)
		}
	}
}

func TestLoginAsAnotherSubjectDropsData(t *testing.T) {
	m := session.New(newMemory(t), session.Config{})
	c := newClient(t, app(m))
	c.body("POST", "/login?u=alice")
	c.body("POST", "/set?k=secret&v=alice-only")
	c.body("POST", "/login?u=alice")
	if got := c.body("GET", "/get?k=secret"); got != "alice-only" {
		t.Errorf("re-login as the same subject lost data: %q", got)
	}
	c.body("POST", "/login?u=bob")
	if got := c.body("GET", "/whoami"); got != "bob" {
		t.Errorf("whoami = %q", got)
	}
	if got := c.body("GET", "/get?k=secret"); got != "-" {
		t.Errorf("bob sees alice's data: %q", got)
	}
	infos, err := m.Sessions(context.Background(), "alice")
	if err != nil || len(infos) != 0 {
		t.Errorf("alice's sessions after switching to bob: %v, %v", infos, err)
	}
}

func TestRenewID(t *testing.T) {
	ev := &events{}
	m := session.New(newMemory(t), session.Config{Events: ev.fn})
	c := newClient(t, app(m))
	c.body("POST", "/login?u=alice")
	c.body("POST", "/set?k=a&v=1")
	before := c.cookie()
	c.body("POST", "/renew")
	after := c.cookie()
	if after == before {
		t.Fatal("RenewID kept the ID")
	}
	if got := c.body("GET", "/whoami"); got != "alice" {
		t.Errorf("whoami = %q", got)
	}
	if got := c.body("GET", "/get?k=a"); got != "1" {
		t.Errorf("data = %q", got)
	}
	old := newClient(t, app(m))
	old.setCookie(before)
	if got := old.body("GET", "/whoami"); got != "invalid" {
		t.Errorf("old ID: %q", got)
	}
	if ev.count(authkit.EventRenew) != 1 {
		t.Errorf("%d renew events", ev.count(authkit.EventRenew))
	}
	infos, _ := m.Sessions(context.Background(), "alice")
	if len(infos) != 1 {
		t.Errorf("index after renew: %d sessions, want 1", len(infos))
	}
	// Renewing an anonymous visit does nothing.
	anon := newClient(t, app(m))
	if res, _ := anon.do("POST", "/renew"); len(res.Header.Values("Set-Cookie")) != 0 {
		t.Error("renew of no session set a cookie")
	}
}

func TestLogout(t *testing.T) {
	st := &countingStore{Store: newMemory(t)}
	m := session.New(st, session.Config{})
	c := newClient(t, app(m))
	c.body("POST", "/login?u=alice")
	id := c.cookie()
	res, _ := c.do("POST", "/logout")
	sc := res.Header.Get("Set-Cookie")
	if !strings.Contains(sc, "Max-Age=0") || !strings.Contains(sc, "__Host-session=;") {
		t.Errorf("logout cookie %q", sc)
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", res.Header.Get("Cache-Control"))
	}
	other := newClient(t, app(m))
	other.setCookie(id)
	if got := other.body("GET", "/whoami"); got != "invalid" {
		t.Errorf("copied cookie after logout: %q", got)
	}
	infos, _ := m.Sessions(context.Background(), "alice")
	if len(infos) != 0 {
		t.Errorf("index after logout: %v", infos)
	}
	for k := range st.Store.(*store.Memory).All() {
		t.Errorf("store not empty after logout: %s", k)
	}
}

// loginClients logs n clients in as subject, oldest first.
func loginClients(t *testing.T, h http.Handler, subject string, n int, agent string) []*client {
	var cs []*client
	for i := range n {
		c := newClient(t, h)
		c.hdr.Set("User-Agent", agent+string(rune('0'+i)))
		c.body("POST", "/login?u="+subject)
		cs = append(cs, c)
	}
	return cs
}

func TestRevokeOthersAndAll(t *testing.T) {
	ev := &events{}
	m := session.New(newMemory(t), session.Config{Events: ev.fn})
	h := app(m)
	cs := loginClients(t, h, "alice", 3, "device")
	bob := loginClients(t, h, "bob", 1, "bob")[0]

	var infos []session.Info
	if err := json.Unmarshal([]byte(cs[0].body("GET", "/sessions?u=alice")), &infos); err != nil {
		t.Fatal(err)
	}
	if len(infos) != 3 {
		t.Fatalf("%d sessions listed, want 3", len(infos))
	}
	for i, in := range infos {
		if want := "device" + string(rune('0'+i)); in.UserAgent != want {
			t.Errorf("session %d user agent %q, want %q", i, in.UserAgent, want)
		}
		if in.Current != (i == 0) || in.ClientIP != "192.0.2.1" || in.Created.IsZero() || in.LastSeen.IsZero() || !in.Expires.After(in.Created) {
			t.Errorf("session %d: %+v", i, in)
		}
		if len(in.Handle) != 43 {
			t.Errorf("handle %q", in.Handle)
		}
	}

	cs[0].body("POST", "/revoke-others")
	want := []string{"alice", "invalid", "invalid"}
	for i, c := range cs {
		if got := c.body("GET", "/whoami"); got != want[i] {
			t.Errorf("after revoke-others, client %d: %q, want %q", i, got, want[i])
		}
	}
	if got := bob.body("GET", "/whoami"); got != "bob" {
		t.Errorf("bob after alice's revoke-others: %q", got)
	}

	cs[1].body("POST", "/login?u=alice")
	if err := m.RevokeSubject(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	// Client 2's cookie was cleared when it was found revoked.
	want = []string{"invalid", "invalid", "anon"}
	for i, c := range cs {
		if got := c.body("GET", "/whoami"); got != want[i] {
			t.Errorf("after revoke-all, client %d: %q, want %q", i, got, want[i])
		}
	}
	if got := bob.body("GET", "/whoami"); got != "bob" {
		t.Errorf("bob after alice's revoke-all: %q", got)
	}
	if infos, err := m.Sessions(context.Background(), "alice"); err != nil || len(infos) != 0 {
		t.Errorf("sessions after revoke-all: %v %v", infos, err)
	}
	if ev.count(authkit.EventRevoke) != 2 {
		t.Errorf("%d revoke events, want 2", ev.count(authkit.EventRevoke))
	}
	// An anonymous request cannot revoke others.
	anon := newClient(t, h)
	if res, body := anon.do("POST", "/revoke-others"); res.StatusCode != 500 || !strings.Contains(body, "not found") {
		t.Errorf("anonymous revoke-others: %d %s", res.StatusCode, body)
	}
}

func TestRevokeOne(t *testing.T) {
	m := session.New(newMemory(t), session.Config{})
	h := app(m)
	cs := loginClients(t, h, "alice", 2, "d")
	ctx := context.Background()
	infos, err := m.Sessions(ctx, "alice")
	if err != nil || len(infos) != 2 {
		t.Fatalf("sessions: %v %v", infos, err)
	}
	// Another subject cannot revoke alice's session by its handle.
	if err := m.RevokeID(ctx, "bob", infos[1].Handle); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("revoke by another subject: %v", err)
	}
	for _, bad := range []string{"", "x", strings.Repeat("!", 43)} {
		if err := m.RevokeID(ctx, "alice", bad); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("revoke %q: %v", bad, err)
		}
	}
	if err := m.RevokeID(ctx, "alice", infos[1].Handle); err != nil {
		t.Fatal(err)
	}
	if got := cs[1].body("GET", "/whoami"); got != "invalid" {
		t.Errorf("revoked session: %q", got)
	}
	if got := cs[0].body("GET", "/whoami"); got != "alice" {
		t.Errorf("other session: %q", got)
	}
	// The handle is not the session ID.
	if infos[0].Handle == cs[0].cookie() {
		t.Error("handle equals the session ID")
	}
}

// indexMembers returns the members of subject's raw index record.
func indexMembers(t *testing.T, st *store.Memory, subject string) []index.Member {
	t.Helper()
	x := index.Index{Prefix: "sidx:"}
	raw, err := st.Get(context.Background(), x.Key(subject))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	ms, err := index.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestIndexCapped(t *testing.T) {
	st := newMemory(t)
	ev := &events{}
	m := session.New(st, session.Config{MaxPerSubject: 3, Events: ev.fn})
	h := app(m)
	cs := loginClients(t, h, "alice", 5, "d")
	want := []string{"invalid", "invalid", "alice", "alice", "alice"}
	for i, c := range cs {
		if got := c.body("GET", "/whoami"); got != want[i] {
			t.Errorf("client %d: %q, want %q", i, got, want[i])
		}
	}
	if n := len(indexMembers(t, st, "alice")); n != 3 {
		t.Errorf("index holds %d members, want 3", n)
	}
	if ev.count(authkit.EventRevoke) != 2 {
		t.Errorf("%d eviction events, want 2", ev.count(authkit.EventRevoke))
	}
	// Re-login of a listed session replaces its entry instead of evicting.
	cs[4].body("POST", "/login?u=alice")
	for i, c := range cs[2:] {
		if got := c.body("GET", "/whoami"); got != "alice" {
			t.Errorf("after re-login, client %d: %q", i+2, got)
		}
	}
	if n := len(indexMembers(t, st, "alice")); n != 3 {
		t.Errorf("index holds %d members after re-login, want 3", n)
	}
}

func TestLoginRacingRevokeSubject(t *testing.T) {
	mem := newMemory(t)
	st := &countingStore{Store: mem}
	m := session.New(st, session.Config{})
	c := newClient(t, app(m))
	// Revoke all of alice's sessions between the index update and the
	// session record write of her login (a create-only-if-absent swap).
	var fired atomic.Bool
	st.setHook(func(op, key string) {
		if (op == "set" || op == "cas") && strings.HasPrefix(key, "sess:") && fired.CompareAndSwap(false, true) {
			if err := m.RevokeSubject(context.Background(), "alice"); err != nil {
				t.Error(err)
			}
		}
	})
	res, body := c.do("POST", "/login?u=alice")
	st.setHook(nil)
	if res.StatusCode != 500 || !strings.Contains(body, session.ErrEnded.Error()) {
		t.Errorf("login racing revoke: %d %q", res.StatusCode, body)
	}
	if got := c.body("GET", "/whoami"); got == "alice" {
		t.Error("a session created during a revoke-all survived unlisted")
	}
	// No session record and no index is left: only the revoked marker
	// that made the login's record creation fail, until it expires.
	for k, v := range mem.All() {
		if !strings.HasPrefix(k, "sess:") || v[0] == 1 {
			t.Errorf("store not empty: %s", k)
		}
	}
	// Without the race, login works.
	c.body("POST", "/login?u=alice")
	if got := c.body("GET", "/whoami"); got != "alice" {
		t.Errorf("login: %q", got)
	}
}

func TestClientIP(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	cases := []struct {
		name, remote string
		xff          []string
		trusted      bool
		want         string
	}{
		{"direct", "203.0.113.9:5000", nil, true, "203.0.113.9"},
		{"direct, forged XFF ignored", "203.0.113.9:5000", []string{"1.2.3.4"}, true, "203.0.113.9"},
		{"proxy", "10.1.2.3:5000", []string{"198.51.100.7"}, true, "198.51.100.7"},
		{"proxy chain", "10.1.2.3:5000", []string{"6.6.6.6, 198.51.100.7, 10.9.9.9"}, true, "198.51.100.7"},
		{"several header lines", "10.1.2.3:5000", []string{"6.6.6.6", "198.51.100.7"}, true, "198.51.100.7"},
		{"garbage hop", "10.1.2.3:5000", []string{"198.51.100.7, nonsense"}, true, "10.1.2.3"},
		{"all trusted", "10.1.2.3:5000", []string{"10.4.4.4"}, true, "10.4.4.4"},
		{"no proxies configured", "10.1.2.3:5000", []string{"198.51.100.7"}, false, "10.1.2.3"},
		{"ipv6 proxy", "[::1]:5000", []string{"2001:db8::1"}, true, "2001:db8::1"},
		{"mapped v4", "[::ffff:203.0.113.9]:5000", nil, true, "203.0.113.9"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := &events{}
			cfg := session.Config{Events: ev.fn}
			if tc.trusted {
				cfg.TrustedProxies = proxies
			}
			m := session.New(newMemory(t), cfg)
			h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if err := m.Login(r.Context(), "u"); err != nil {
					t.Error(err)
				}
			}))
			req := httptest.NewRequest("GET", origin+"/", nil)
			req.RemoteAddr = tc.remote
			for _, x := range tc.xff {
				req.Header.Add("X-Forwarded-For", x)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			if len(ev.evs) != 1 || ev.evs[0].ClientIP != tc.want {
				t.Errorf("events %+v, want client IP %s", ev.evs, tc.want)
			}
		})
	}
}

// A RenewID that loses the race to a parallel renewal of the same session
// must leave the browser's cookie alone: deleting it could land after the
// winner's new cookie and log the user out.
func TestRenewIDLosingRaceKeepsCookie(t *testing.T) {
	m := session.New(newMemory(t), session.Config{})
	loaded, release := make(chan struct{}), make(chan struct{})
	var slowErr error
	mux := http.NewServeMux()
	mux.HandleFunc("POST /slow-renew", func(w http.ResponseWriter, r *http.Request) {
		_, _ = session.Get[string](r.Context(), "x") // load the session now
		close(loaded)
		<-release
		slowErr = m.RenewID(r.Context())
	})
	c := newClient(t, app(m))
	c.body("POST", "/login?u=alice")
	slow := newClient(t, m.Middleware(mux))
	slow.setCookie(c.cookie())
	done := make(chan *http.Response)
	go func() { res, _ := slow.do("POST", "/slow-renew"); done <- res }()
	<-loaded
	c.body("POST", "/renew") // wins the race
	close(release)
	res := <-done
	if !errors.Is(slowErr, session.ErrEnded) {
		t.Fatalf("losing RenewID: %v, want ErrEnded", slowErr)
	}
	if sc := res.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Fatalf("the losing request sent Set-Cookie %q; it must leave the winner's cookie alone", sc)
	}
}
