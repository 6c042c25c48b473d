package oidc_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/cookie"
	"github.com/authkit/authkit/oidc"
	"github.com/authkit/authkit/oidc/oidctest"
	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store"
)

// TestMain silences the provider library, which logs through slog's
// default logger.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}

// The test users of the stand-in provider.
var (
	alice = oidctest.User{Subject: "sub-alice", Username: "alice", Password: "alice-pw", Email: "alice@example.com", EmailVerified: true, Name: "Alice"}
	bob   = oidctest.User{Subject: "sub-bob", Username: "bob", Password: "bob-pw", Email: "bob@example.com", Name: "Bob"}
)

const (
	clientID     = "authkit-app"
	clientSecret = "app-secret-0123456789"
)

// env is a relying party application and its provider, on loopback.
type env struct {
	t        *testing.T
	idp      *oidctest.Server
	app      *httptest.Server
	rp       *oidc.RelyingParty
	sessions *session.Manager
	store    store.Store
	events   *eventLog
}

// envConfig adjusts a test environment before it starts.
type envConfig struct {
	idp     oidctest.Config
	rp      oidc.Config
	prov    func(p *oidc.Provider)
	store   store.Store
	session session.Config
}

// newEnv starts an application with a RelyingParty for one provider "idp"
// (and more when the config adds them), and the provider itself.
func newEnv(t *testing.T, change ...func(*envConfig)) *env {
	t.Helper()
	e := &env{t: t, events: &eventLog{}}
	// The application's URL must be known before the provider registers
	// its redirect URI: start it first with a handler set later.
	var handler http.Handler
	e.app = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(e.app.Close)

	ec := envConfig{
		idp: oidctest.Config{
			Clients: []oidctest.Client{{
				ID: clientID, Secret: clientSecret,
				RedirectURIs:           []string{e.app.URL + "/auth/idp/callback"},
				PostLogoutRedirectURIs: []string{e.app.URL + "/signed-out"},
				BackChannelLogoutURI:   e.app.URL + "/auth/idp/backchannel-logout",
			}},
			Users: []oidctest.User{alice, bob},
		},
		rp: oidc.Config{
			Logger: slog.New(slog.DiscardHandler),
			Events: e.events.add,
		},
	}
	for _, c := range change {
		c(&ec)
	}
	e.idp = oidctest.NewServer(ec.idp)
	t.Cleanup(e.idp.Close)
	p := oidc.Provider{
		Name:                  "idp",
		Issuer:                e.idp.Issuer(),
		ClientID:              clientID,
		ClientSecret:          clientSecret,
		RedirectURL:           e.app.URL + "/auth/idp/callback",
		PostLogoutRedirectURL: e.app.URL + "/signed-out",
	}
	if ec.prov != nil {
		ec.prov(&p)
	}
	ec.rp.Providers = append([]oidc.Provider{p}, ec.rp.Providers...)
	e.store = ec.store
	if e.store == nil {
		mem := store.NewMemory(store.MemoryConfig{})
		t.Cleanup(func() { mem.Close() })
		e.store = mem
	}
	ec.session.Logger = slog.New(slog.DiscardHandler)
	e.sessions = session.New(e.store, ec.session)
	e.rp = oidc.New(e.sessions, e.store, ec.rp)
	t.Cleanup(func() { e.rp.Close() })

	mux := http.NewServeMux()
	mux.Handle("/auth/", http.StripPrefix("/auth", e.rp.Handler()))
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		id, err := e.sessions.Authenticate(r)
		if err != nil {
			http.Error(w, "anonymous", http.StatusUnauthorized)
			return
		}
		io.WriteString(w, id.Subject)
	})
	// A sign-in by another mechanism (a password, say) for the same
	// application user, which back-channel logout must leave alone.
	mux.HandleFunc("POST /test-login", func(w http.ResponseWriter, r *http.Request) {
		if err := e.sessions.Login(r.Context(), r.FormValue("subject")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("GET /idtoken", func(w http.ResponseWriter, r *http.Request) {
		t, err := e.rp.IDToken(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		json.NewEncoder(w).Encode(t)
	})
	mux.HandleFunc("GET /token", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if i := r.Header.Get("X-Index"); i != "" && i != "-1" {
			ctx = context.WithValue(ctx, reqIndex{}, i)
		}
		tok, err := e.rp.Token(ctx)
		if err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		io.WriteString(w, tok.AccessToken)
	})
	handler = e.sessions.Middleware(mux)
	return e
}

// reqIndex is the context key of a request's X-Index header, for hooks.
type reqIndex struct{}

// eventLog records events.
type eventLog struct {
	mu  sync.Mutex
	all []authkit.Event
}

func (l *eventLog) add(_ context.Context, ev authkit.Event) {
	l.mu.Lock()
	l.all = append(l.all, ev)
	l.mu.Unlock()
}

func (l *eventLog) has(typ authkit.EventType, reason string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ev := range l.all {
		if ev.Type == typ && ev.Reason == reason {
			return true
		}
	}
	return false
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	t  *testing.T
	e  *env
	hc *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: e.t, e: e, hc: &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// response is a finished request.
type response struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, target string, form url.Values) response {
	b.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = b.e.app.URL + target
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.e.app.URL)
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(raw)}
}

func (b *browser) get(target string) response { b.t.Helper(); return b.do("GET", target, nil) }

// start begins a sign-in and returns the authorization request URL.
func (b *browser) start(provider, returnTo string) string {
	b.t.Helper()
	r := b.get("/auth/" + provider + "/login?return_to=" + url.QueryEscape(returnTo))
	if r.status != http.StatusFound {
		b.t.Fatalf("login: status %d %q", r.status, r.body)
	}
	return r.header.Get("Location")
}

// authorize signs in at the provider and returns the callback URL, not
// yet requested.
func (b *browser) authorize(authURL string, u oidctest.User) string {
	b.t.Helper()
	cb, err := b.e.idp.Login(context.Background(), b.hc, authURL, u.Username, u.Password)
	if err != nil {
		b.t.Fatal(err)
	}
	return cb
}

// signIn runs the whole flow and checks it lands on returnTo.
func (b *browser) signIn(u oidctest.User, returnTo string) {
	b.t.Helper()
	cb := b.authorize(b.start("idp", returnTo), u)
	r := b.get(cb)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != returnTo {
		b.t.Fatalf("callback: status %d, Location %q, body %q; want 303 to %q", r.status, r.header.Get("Location"), r.body, returnTo)
	}
}

// passwordLogin signs b in as subject without the provider.
func (b *browser) passwordLogin(subject string) {
	b.t.Helper()
	if r := b.do("POST", "/test-login", url.Values{"subject": {subject}}); r.status != http.StatusOK {
		b.t.Fatalf("test login: %d %q", r.status, r.body)
	}
}

// me returns the session's subject, or "" when anonymous.
func (b *browser) me() string {
	b.t.Helper()
	r := b.get("/me")
	if r.status != http.StatusOK {
		return ""
	}
	return r.body
}

// cookies returns the browser's cookies for the application.
func (b *browser) cookies() []*http.Cookie {
	u, _ := url.Parse(b.e.app.URL)
	return b.hc.Jar.Cookies(u)
}

// testCodec returns a Codec with a fixed test key.
func testCodec(t *testing.T) *cookie.Codec {
	t.Helper()
	c, err := cookie.NewCodec(cookie.Key{ID: 1, Secret: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// callbackStatus requests a callback URL and returns its response.
func (b *browser) callback(cb string) response { b.t.Helper(); return b.get(cb) }

// defaultSubject is the subject DefaultSubject gives u at e's provider.
func (e *env) defaultSubject(u oidctest.User) string { return e.idp.Issuer() + "#" + u.Subject }
