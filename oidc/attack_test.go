package oidc_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/internal/secret"
	"github.com/authkit/authkit/jwt"
	"github.com/authkit/authkit/oidc"
	"github.com/authkit/authkit/oidc/oidctest"
)

// tamper is a provider middleware that plays a compromised or confused
// provider: it records the ID tokens of token responses and can replace
// them.
type tamper struct {
	mu   sync.Mutex
	swap func(orig string) string
	seen []string
}

func (tp *tamper) set(swap func(string) string) {
	tp.mu.Lock()
	tp.swap = swap
	tp.mu.Unlock()
}

func (tp *tamper) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth/token" {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		var m map[string]any
		if json.Unmarshal(body, &m) == nil {
			if idt, ok := m["id_token"].(string); ok {
				tp.mu.Lock()
				tp.seen = append(tp.seen, idt)
				swap := tp.swap
				tp.mu.Unlock()
				if swap != nil {
					m["id_token"] = swap(idt)
					body, _ = json.Marshal(m)
				}
			}
		}
		for k, v := range rec.Header() {
			if k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(rec.Code)
		w.Write(body)
	})
}

// errCapture records the errors the RelyingParty's handler answers.
type errCapture struct {
	mu   sync.Mutex
	last error
}

func (c *errCapture) handler(w http.ResponseWriter, r *http.Request, err error) {
	c.mu.Lock()
	c.last = err
	c.mu.Unlock()
	oidc.ErrorPage(w, r, err)
}

func (c *errCapture) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// attackEnv is an env whose provider can be tampered with and whose
// errors are captured.
func attackEnv(t *testing.T, change ...func(*envConfig)) (*env, *tamper, *errCapture) {
	tp, ec := &tamper{}, &errCapture{}
	e := newEnv(t, append([]func(*envConfig){func(c *envConfig) {
		c.idp.Middleware = tp.middleware
		c.rp.ErrorHandler = ec.handler
	}}, change...)...)
	return e, tp, ec
}

// idClaims returns the claims of a valid ID token for u in a flow with
// nonce, as the provider would issue it.
func (e *env) idClaims(u oidctest.User, nonce string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": e.idp.Issuer(), "sub": u.Subject, "aud": clientID, "azp": clientID,
		"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "auth_time": now.Unix(), "nonce": nonce,
	}
}

func (e *env) sign(claims map[string]any) string {
	e.t.Helper()
	tok, err := e.idp.Sign(map[string]any{"typ": "JWT"}, claims)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func nonceOf(authURL string) string {
	u, _ := url.Parse(authURL)
	return u.Query().Get("nonce")
}

// refused runs the callback cb in b and checks it fails with want, leaving
// the session anonymous.
func refused(t *testing.T, b *browser, ec *errCapture, cb string, want error, wantText string) {
	t.Helper()
	r := b.callback(cb)
	if r.status < 400 {
		t.Fatalf("callback answered %d (Location %q): want a refusal", r.status, r.header.Get("Location"))
	}
	if err := ec.err(); !errors.Is(err, want) || !strings.Contains(err.Error(), wantText) {
		t.Fatalf("error %v: want %v containing %q", err, want, wantText)
	}
	if got := b.me(); got != "" {
		t.Fatalf("the refused callback signed the session in as %q", got)
	}
}

// TestTamperControl proves the tampering machinery alone refuses nothing:
// a well-formed ID token swapped in by the provider is accepted.
func TestTamperControl(t *testing.T) {
	e, tp, _ := attackEnv(t)
	b := e.browser()
	authURL := b.start("idp", "/")
	claims := e.idClaims(alice, nonceOf(authURL))
	claims["sub"] = "forged-but-valid"
	tp.set(func(string) string { return e.sign(claims) })
	if r := b.callback(b.authorize(authURL, alice)); r.status != http.StatusSeeOther {
		t.Fatalf("control: status %d %q", r.status, r.body)
	}
	if got := b.me(); got != e.idp.Issuer()+"#forged-but-valid" {
		t.Fatalf("control: session %q", got)
	}
}

func TestAttackMissingState(t *testing.T) {
	e, _, ec := attackEnv(t)
	b := e.browser()
	cb := b.authorize(b.start("idp", "/"), alice)
	u, _ := url.Parse(cb)
	q := u.Query()
	q.Del("state")
	u.RawQuery = q.Encode()
	refused(t, b, ec, u.String(), oidc.ErrState, "state")
	if !e.events.has(authkit.EventLoginFailed, "state") {
		t.Error("no login_failed event")
	}
}

// TestAttackMismatchedState covers login CSRF: an attacker's callback
// (their own code and state) opened in the victim's browser, and a state
// that names no flow at all.
func TestAttackMismatchedState(t *testing.T) {
	e, _, ec := attackEnv(t)
	attacker, victim := e.browser(), e.browser()
	victim.start("idp", "/")
	attackerCB := attacker.authorize(attacker.start("idp", "/"), bob)
	refused(t, victim, ec, attackerCB, oidc.ErrState, "no flow cookie")

	cb := victim.authorize(victim.start("idp", "/"), alice)
	u, _ := url.Parse(cb)
	q := u.Query()
	q.Set("state", secret.Base62(32))
	u.RawQuery = q.Encode()
	refused(t, victim, ec, u.String(), oidc.ErrState, "no flow cookie")

	q.Add("state", q.Get("state"))
	u.RawQuery = q.Encode()
	refused(t, victim, ec, u.String(), oidc.ErrState, "repeated")
}

// TestAttackReplayedCallback replays a used callback, with and without a
// copy of its flow cookie.
func TestAttackReplayedCallback(t *testing.T) {
	e, _, ec := attackEnv(t)
	b := e.browser()
	authURL := b.start("idp", "/")
	var flowCookie *http.Cookie
	for _, c := range b.cookies() {
		if strings.HasPrefix(c.Name, "__Host-oidc-") {
			flowCookie = c
		}
	}
	cb := b.authorize(authURL, alice)
	b.signInWith(cb)

	thief := e.browser()
	refused(t, thief, ec, cb, oidc.ErrState, "no flow cookie")

	appURL, _ := url.Parse(e.app.URL)
	thief.hc.Jar.SetCookies(appURL, []*http.Cookie{{Name: flowCookie.Name, Value: flowCookie.Value, Path: "/", Secure: true}})
	refused(t, thief, ec, cb, oidc.ErrReplay, "already used")
	if !e.events.has(authkit.EventLoginFailed, "replay") {
		t.Error("no replay event")
	}
}

// signInWith completes a callback that must succeed.
func (b *browser) signInWith(cb string) {
	b.t.Helper()
	if r := b.callback(cb); r.status != http.StatusSeeOther {
		b.t.Fatalf("callback: %d %q", r.status, r.body)
	}
}

// TestAttackNonceFromAnotherFlow swaps in a genuine ID token the provider
// issued in another flow (another nonce).
func TestAttackNonceFromAnotherFlow(t *testing.T) {
	e, tp, ec := attackEnv(t)
	other := e.browser()
	other.signIn(alice, "/")
	tp.mu.Lock()
	stolen := tp.seen[len(tp.seen)-1]
	tp.mu.Unlock()
	tp.set(func(string) string { return stolen })
	b := e.browser()
	refused(t, b, ec, b.authorize(b.start("idp", "/"), alice), oidc.ErrIDToken, "nonce")
}

func TestAttackIDTokenForAnotherClient(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(map[string]any)
		want   string
	}{
		{"aud", func(m map[string]any) { m["aud"] = "other-app"; m["azp"] = "other-app" }, "aud"},
		{"extra aud", func(m map[string]any) { m["aud"] = []string{clientID, "other-app"} }, "untrusted audience"},
		{"azp", func(m map[string]any) { m["azp"] = "other-app" }, "azp"},
		{"no azp with several audiences", func(m map[string]any) { m["aud"] = []string{clientID, clientID}; delete(m, "azp") }, "no azp"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, tp, ec := attackEnv(t)
			b := e.browser()
			authURL := b.start("idp", "/")
			claims := e.idClaims(alice, nonceOf(authURL))
			c.change(claims)
			tp.set(func(string) string { return e.sign(claims) })
			refused(t, b, ec, b.authorize(authURL, alice), oidc.ErrIDToken, c.want)
		})
	}
}

// TestAttackMixUp covers responses and tokens from another issuer.
func TestAttackMixUp(t *testing.T) {
	t.Run("ID token signed by another provider", func(t *testing.T) {
		e, tp, ec := attackEnv(t)
		other := oidctest.NewServer(oidctest.Config{})
		defer other.Close()
		b := e.browser()
		authURL := b.start("idp", "/")
		claims := e.idClaims(alice, nonceOf(authURL))
		claims["iss"] = other.Issuer()
		forged, err := other.Sign(map[string]any{"typ": "JWT"}, claims)
		if err != nil {
			t.Fatal(err)
		}
		tp.set(func(string) string { return forged })
		refused(t, b, ec, b.authorize(authURL, alice), oidc.ErrIDToken, "")
	})
	t.Run("ID token naming another issuer", func(t *testing.T) {
		e, tp, ec := attackEnv(t)
		b := e.browser()
		authURL := b.start("idp", "/")
		claims := e.idClaims(alice, nonceOf(authURL))
		claims["iss"] = "https://other.example"
		tp.set(func(string) string { return e.sign(claims) })
		refused(t, b, ec, b.authorize(authURL, alice), oidc.ErrIDToken, "iss")
	})
	t.Run("iss parameter of another issuer", func(t *testing.T) {
		e, _, ec := attackEnv(t, func(c *envConfig) { c.idp.IssParameter = true })
		b := e.browser()
		cb := b.authorize(b.start("idp", "/"), alice)
		u, _ := url.Parse(cb)
		q := u.Query()
		if q.Get("iss") != e.idp.Issuer() {
			t.Fatalf("the provider sent iss %q", q.Get("iss"))
		}
		q.Set("iss", "https://attacker.example")
		u.RawQuery = q.Encode()
		refused(t, b, ec, u.String(), oidc.ErrIssuer, "")
	})
	t.Run("iss parameter missing although advertised", func(t *testing.T) {
		e, _, ec := attackEnv(t, func(c *envConfig) { c.idp.IssParameter = true })
		b := e.browser()
		cb := b.authorize(b.start("idp", "/"), alice)
		u, _ := url.Parse(cb)
		q := u.Query()
		q.Del("iss")
		u.RawQuery = q.Encode()
		refused(t, b, ec, u.String(), oidc.ErrIssuer, "")
	})
	t.Run("response of one provider at another's callback", func(t *testing.T) {
		var idp2 *oidctest.Server
		e, _, ec := attackEnv(t, func(c *envConfig) {
			app := strings.TrimSuffix(c.idp.Clients[0].RedirectURIs[0], "/auth/idp/callback")
			idp2 = oidctest.NewServer(oidctest.Config{
				Users:   []oidctest.User{alice},
				Clients: []oidctest.Client{{ID: clientID, Secret: clientSecret, RedirectURIs: []string{app + "/auth/idp2/callback"}}},
			})
			t.Cleanup(idp2.Close)
			c.rp.Providers = append(c.rp.Providers, oidc.Provider{
				Name: "idp2", Issuer: idp2.Issuer(), ClientID: clientID, ClientSecret: clientSecret,
				RedirectURL: app + "/auth/idp2/callback",
			})
		})
		b := e.browser()
		cb, err := idp2.Login(context.Background(), b.hc, b.start("idp2", "/"), alice.Username, alice.Password)
		if err != nil {
			t.Fatal(err)
		}
		mixed := strings.Replace(cb, "/auth/idp2/callback", "/auth/idp/callback", 1)
		refused(t, b, ec, mixed, oidc.ErrState, "another provider")
		// The same response at its own callback signs in: two providers
		// work side by side.
		b2 := e.browser()
		cb2, err := idp2.Login(context.Background(), b2.hc, b2.start("idp2", "/"), alice.Username, alice.Password)
		if err != nil {
			t.Fatal(err)
		}
		b2.signInWith(cb2)
		if got := b2.me(); got != idp2.Issuer()+"#"+alice.Subject {
			t.Fatalf("signed in with the second provider as %q", got)
		}
	})
}

// TestAttackCodeInjection injects the code of the attacker's own flow into
// the victim's callback: the victim's PKCE verifier does not match it, and
// the provider refuses the exchange.
func TestAttackCodeInjection(t *testing.T) {
	e, _, ec := attackEnv(t)
	attacker, victim := e.browser(), e.browser()
	attackerCB := attacker.authorize(attacker.start("idp", "/"), bob)
	victimCB := victim.authorize(victim.start("idp", "/"), alice)
	au, _ := url.Parse(attackerCB)
	vu, _ := url.Parse(victimCB)
	q := vu.Query()
	q.Set("code", au.Query().Get("code"))
	vu.RawQuery = q.Encode()
	refused(t, victim, ec, vu.String(), oidc.ErrExchange, "")
	var pe *oidc.ProviderError
	if !errors.As(ec.err(), &pe) || pe.Code != "invalid_grant" {
		t.Fatalf("error %v: want the token endpoint's invalid_grant", ec.err())
	}
}

// TestAttackUnadvertisedAlgorithm signs an ID token with a key the
// provider publishes but for an algorithm its discovery document does not
// advertise.
func TestAttackUnadvertisedAlgorithm(t *testing.T) {
	e, tp, ec := attackEnv(t)
	kid, err := e.idp.AddKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	md, err := e.rp.Discovery(context.Background(), "idp")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(md.IDTokenSigningAlgValuesSupported, ",") != "RS256" {
		t.Fatalf("advertised %v", md.IDTokenSigningAlgValuesSupported)
	}
	b := e.browser()
	authURL := b.start("idp", "/")
	claims := e.idClaims(alice, nonceOf(authURL))
	forged, err := e.idp.SignWith(kid, map[string]any{"typ": "JWT"}, claims)
	if err != nil {
		t.Fatal(err)
	}
	tp.set(func(string) string { return forged })
	refused(t, b, ec, b.authorize(authURL, alice), oidc.ErrIDToken, "")
	if !errors.Is(ec.err(), jwt.ErrUnknownKey) {
		t.Fatalf("error %v: want the ES256 key ignored (unknown key)", ec.err())
	}
}

func TestAttackReturnToOffSite(t *testing.T) {
	e := newEnv(t)
	for _, to := range []string{
		"//evil.example", "/\\evil.example", "https://evil.example/", "http:evil.example", "javascript:alert(1)",
		"/\t/evil.example", "/\n/evil.example", "evil.example", "\\\\evil.example",
		"/ok path", "/caf\u00e9", "///evil.example", "/" + strings.Repeat("a", oidc.MaxReturnToLen),
	} {
		b := e.browser()
		r := b.get("/auth/idp/login?return_to=" + url.QueryEscape(to))
		if r.status != http.StatusBadRequest || r.header.Get("Location") != "" || r.header.Get("Set-Cookie") != "" {
			t.Errorf("return_to %q: status %d, Location %q, Set-Cookie %q: want 400 and nothing set",
				to, r.status, r.header.Get("Location"), r.header.Get("Set-Cookie"))
		}
	}
}

func TestLocalPath(t *testing.T) {
	for s, want := range map[string]bool{
		"/": true, "/a/b?c=d#e": true, "/a//b": true, "/%2F%2Fevil": false, "/%0d%0a": true,
		"": false, "a": false, "//a": false, "/\\a": false, "/a\\b": false, "https://a": false,
		"/a b": false, "/a\x00": false, "/a\x7f": false, "/\u00e9": false, "/%zz": false,
	} {
		if got := oidc.LocalPath(s); got != want {
			t.Errorf("LocalPath(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestVerifyIDToken checks an ID token obtained outside the flow: the
// nonce must match, and every other check still applies.
func TestVerifyIDToken(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	good := e.sign(e.idClaims(alice, "n-123"))
	tok, err := e.rp.VerifyIDToken(ctx, "idp", good, "n-123")
	if err != nil || tok.Subject != alice.Subject {
		t.Fatalf("VerifyIDToken: %+v, %v", tok, err)
	}
	if _, err := e.rp.VerifyIDToken(ctx, "idp", good, "n-456"); !errors.Is(err, oidc.ErrIDToken) {
		t.Fatalf("another nonce: %v", err)
	}
	other := e.idClaims(alice, "n-123")
	other["aud"] = "other-app"
	if _, err := e.rp.VerifyIDToken(ctx, "idp", e.sign(other), ""); !errors.Is(err, oidc.ErrIDToken) {
		t.Fatalf("another audience without a nonce check: %v", err)
	}
	if _, err := e.rp.VerifyIDToken(ctx, "nope", good, ""); !errors.Is(err, oidc.ErrUnknownProvider) {
		t.Fatalf("unknown provider: %v", err)
	}
}

// TestAttackMixUpErrorResponse: an error response naming another issuer
// is a mix-up, not the provider's error.
func TestAttackMixUpErrorResponse(t *testing.T) {
	e, _, ec := attackEnv(t, func(c *envConfig) { c.idp.IssParameter = true })
	b := e.browser()
	cb, err := e.idp.Deny(context.Background(), b.hc, b.start("idp", "/"))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(cb)
	q := u.Query()
	if q.Get("error") != "access_denied" || q.Get("iss") != e.idp.Issuer() {
		t.Fatalf("provider answered %q", cb)
	}
	q.Set("iss", "https://attacker.example")
	u.RawQuery = q.Encode()
	refused(t, b, ec, u.String(), oidc.ErrIssuer, "")
}
