package oidc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/oidc"
)

func TestSignIn(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	if got := b.me(); got != "" {
		t.Fatalf("before sign-in: %q", got)
	}
	authURL := b.start("idp", "/inbox?tab=1")
	u, _ := url.Parse(authURL)
	q := u.Query()
	for k, want := range map[string]string{
		"response_type":         "code",
		"client_id":             clientID,
		"redirect_uri":          e.app.URL + "/auth/idp/callback",
		"code_challenge_method": "S256",
		"scope":                 "openid profile email",
	} {
		if q.Get(k) != want {
			t.Errorf("authorization request %s = %q, want %q", k, q.Get(k), want)
		}
	}
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if len(q.Get(k)) < 32 {
			t.Errorf("authorization request %s = %q: want a fresh random value", k, q.Get(k))
		}
	}
	var flowCookie *http.Cookie
	for _, c := range b.cookies() {
		if strings.HasPrefix(c.Name, "__Host-oidc-") {
			flowCookie = c
		}
	}
	if flowCookie == nil || flowCookie.Name != "__Host-oidc-"+q.Get("state") {
		t.Fatalf("flow cookie %v: want __Host-oidc-<state>", flowCookie)
	}
	for _, secret := range []string{q.Get("nonce"), "alice"} {
		if strings.Contains(flowCookie.Value, secret) {
			t.Errorf("flow cookie value shows %q in clear", secret)
		}
	}

	cb := b.authorize(authURL, alice)
	r := b.callback(cb)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/inbox?tab=1" {
		t.Fatalf("callback: %d %q %q", r.status, r.header.Get("Location"), r.body)
	}
	if got, want := b.me(), e.defaultSubject(alice); got != want {
		t.Fatalf("after sign-in the session is %q, want %q", got, want)
	}
	for _, c := range b.cookies() {
		if strings.HasPrefix(c.Name, "__Host-oidc-") {
			t.Errorf("flow cookie %s left after the callback", c.Name)
		}
	}
	if !e.events.has(authkit.EventLogin, "idp") {
		t.Error("no login event")
	}
	infos, err := e.sessions.Sessions(context.Background(), e.defaultSubject(alice))
	if err != nil || len(infos) != 1 || !strings.HasPrefix(infos[0].Tag, "oidc:") || strings.Contains(infos[0].Tag, alice.Subject) {
		t.Fatalf("sessions %+v, %v: want one, tagged with a hash of the provider account and session", infos, err)
	}
}

// TestSeveralTabs starts two sign-ins in one browser and completes them in
// the reverse order: each flow has its own cookie.
func TestSeveralTabs(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	first := b.start("idp", "/first")
	second := b.start("idp", "/second")
	cb2 := b.authorize(second, alice)
	cb1 := b.authorize(first, alice)
	for _, c := range []struct{ cb, to string }{{cb2, "/second"}, {cb1, "/first"}} {
		r := b.callback(c.cb)
		if r.status != http.StatusSeeOther || r.header.Get("Location") != c.to {
			t.Fatalf("callback: %d %q, want 303 to %s", r.status, r.header.Get("Location"), c.to)
		}
	}
	if b.me() != e.defaultSubject(alice) {
		t.Fatal("not signed in")
	}
}

func TestSubjectHook(t *testing.T) {
	var seen *oidc.IDToken
	e := newEnv(t, func(c *envConfig) {
		c.rp.Subject = func(_ context.Context, tok *oidc.IDToken) (string, error) {
			seen = tok
			if tok.Subject == bob.Subject {
				return "", errors.New("account disabled")
			}
			return "user-42", nil
		}
	})
	b := e.browser()
	if r := b.get("/idtoken"); r.status != http.StatusConflict || !strings.Contains(r.body, oidc.ErrNotSignedIn.Error()) {
		t.Fatalf("IDToken before sign-in: %d %q", r.status, r.body)
	}
	b.signIn(alice, "/")
	if got := b.me(); got != "user-42" {
		t.Fatalf("session subject %q, want the hook's user-42", got)
	}
	var later oidc.IDToken
	if r := b.get("/idtoken"); r.status != http.StatusOK || json.Unmarshal([]byte(r.body), &later) != nil {
		t.Fatalf("IDToken: %d %q", r.status, r.body)
	}
	if later.Subject != seen.Subject || later.Issuer != seen.Issuer || later.SessionID != seen.SessionID ||
		later.Email != seen.Email || !later.Expiry.Equal(seen.Expiry) || later.KeyID != seen.KeyID || later.Algorithm != "RS256" {
		t.Errorf("IDToken later %+v, want what the hook saw %+v", later, seen)
	}
	if seen.Issuer != e.idp.Issuer() || seen.Subject != alice.Subject || seen.Email != alice.Email ||
		!seen.EmailVerified || seen.Name != alice.Name || seen.SessionID == "" || seen.Provider != "idp" {
		t.Errorf("the hook saw %+v", seen)
	}

	b2 := e.browser()
	r := b2.callback(b2.authorize(b2.start("idp", "/"), bob))
	if r.status != http.StatusBadRequest && r.status != http.StatusServiceUnavailable {
		t.Fatalf("refused by the hook: status %d", r.status)
	}
	if b2.me() != "" {
		t.Fatal("a sign-in the hook refused logged the session in")
	}
}

func TestAccessDenied(t *testing.T) {
	var got error
	e := newEnv(t, func(c *envConfig) {
		c.rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			got = err
			oidc.ErrorPage(w, r, err)
		}
	})
	b := e.browser()
	cb, err := e.idp.Deny(context.Background(), b.hc, b.start("idp", "/"))
	if err != nil {
		t.Fatal(err)
	}
	cu, _ := url.Parse(cb)
	q := cu.Query()
	if q.Get("error") != "access_denied" {
		t.Fatalf("provider answered %q", cb)
	}
	q.Set("error_description", "<script>alert(1)</script>")
	cu.RawQuery = q.Encode()
	r := b.callback(cu.String())
	if r.status != http.StatusForbidden {
		t.Fatalf("denied: status %d", r.status)
	}
	if strings.Contains(r.body, "<") || strings.Contains(r.body, "cancelled the sign-in") {
		t.Errorf("the error page repeats provider text: %q", r.body)
	}
	var pe *oidc.ProviderError
	if !errors.As(got, &pe) || !pe.AccessDenied() || pe.Provider != "idp" {
		t.Fatalf("error %v: want a *ProviderError access_denied", got)
	}
	if b.me() != "" {
		t.Fatal("signed in after access_denied")
	}
}

func TestUnknownProvider(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	if r := b.get("/auth/nope/login"); r.status != http.StatusNotFound {
		t.Fatalf("unknown provider: status %d", r.status)
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.signIn(alice, "/")
	r := b.do("POST", "/auth/logout", url.Values{})
	if r.status != http.StatusSeeOther {
		t.Fatalf("logout: status %d %q", r.status, r.body)
	}
	if b.me() != "" {
		t.Fatal("still signed in after logout")
	}
	loc, err := url.Parse(r.header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), e.idp.Issuer()+"/end_session") {
		t.Fatalf("logout redirect %q: want the provider's end_session endpoint", r.header.Get("Location"))
	}
	q := loc.Query()
	if q.Get("id_token_hint") == "" || q.Get("client_id") != clientID || q.Get("post_logout_redirect_uri") != e.app.URL+"/signed-out" {
		t.Fatalf("end-session request %v", q)
	}
	// The provider accepts the hint and sends the browser back.
	pr := b.get(loc.String())
	if pr.status != http.StatusFound || pr.header.Get("Location") != e.app.URL+"/signed-out" {
		t.Fatalf("provider end_session: %d %q %q", pr.status, pr.header.Get("Location"), pr.body)
	}
}

func TestLogoutCrossOrigin(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.signIn(alice, "/")
	req, _ := http.NewRequest("POST", e.app.URL+"/auth/logout", strings.NewReader(""))
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := b.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin logout: status %d", resp.StatusCode)
	}
	if b.me() == "" {
		t.Fatal("a cross-origin POST signed the user out")
	}
}

func TestErrorPage(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
	}{
		{oidc.ErrUnknownProvider, http.StatusNotFound},
		{fmt.Errorf("x: %w", &oidc.ProviderError{Code: "access_denied", Description: "<b>no</b>"}), http.StatusForbidden},
		{fmt.Errorf("%w: %w", oidc.ErrExchange, &oidc.ProviderError{Code: "invalid_grant"}), http.StatusBadRequest},
		{fmt.Errorf("%w: dial tcp: refused", oidc.ErrExchange), http.StatusServiceUnavailable},
		{oidc.ErrState, http.StatusBadRequest},
		{oidc.ErrReplay, http.StatusBadRequest},
		{oidc.ErrIDToken, http.StatusBadRequest},
		{oidc.ErrDiscovery, http.StatusServiceUnavailable},
		{errors.New("store down"), http.StatusServiceUnavailable},
	} {
		w := httptest.NewRecorder()
		oidc.ErrorPage(w, httptest.NewRequest("GET", "/", nil), c.err)
		if w.Code != c.status || strings.Contains(w.Body.String(), "<") || w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%v: %d %q, want %d, no markup", c.err, w.Code, w.Body.String(), c.status)
		}
	}
}
