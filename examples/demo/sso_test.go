package main

import (
	"context"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/authkit/authkit/store"
)

// newSSOServer starts the demo with its SSO panel and stand-in provider:
// the panel needs the demo's URL before the server is built.
func newSSOServer(t *testing.T) *testServer {
	t.Helper()
	mem := store.NewMemory(store.MemoryConfig{})
	t.Cleanup(func() { mem.Close() })
	ts := httptest.NewUnstartedServer(nil)
	url := "http://" + ts.Listener.Addr().String()
	th := newTestHasher()
	s, err := newServer(config{Store: mem, Hasher: th, Logger: slog.New(slog.DiscardHandler), PublicURL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ts.Config.Handler = s
	ts.Start()
	t.Cleanup(ts.Close)
	return &testServer{server: s, hasher: th, mem: mem, url: url, ts: ts}
}

var continueLink = regexp.MustCompile(`href="([^"]+)" id="sso-continue"`)

// ssoSignIn runs the panel's sign-in as the stand-in user u with the
// demo's client c, and returns the page after it.
func (ts *testServer) ssoSignIn(t *testing.T, c *client, user, password string) string {
	t.Helper()
	r := c.do("GET", "/sso/start", nil)
	m := continueLink.FindSubmatch(r.body)
	if r.status != http.StatusOK || m == nil {
		t.Fatalf("GET /sso/start: %d, no continue link in %s", r.status, r.body)
	}
	for _, want := range []string{"code_challenge", "S256", "nonce", "Set-Cookie: __Host-oidc-"} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("the authorization request page does not show %q", want)
		}
	}
	cb, err := ts.sso.idp.Login(context.Background(), c.hc, html.UnescapeString(string(m[1])), user, password)
	if err != nil {
		t.Fatal(err)
	}
	r = c.do("GET", strings.TrimPrefix(cb, ts.url), nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/?m=sso-in#sso" {
		t.Fatalf("callback: %d %q", r.status, r.header.Get("Location"))
	}
	return string(c.do("GET", "/", nil).body)
}

func TestSSOPanel(t *testing.T) {
	ts := newSSOServer(t)
	c := ts.client(t)
	page := string(c.do("GET", "/", nil).body)
	for _, want := range []string{`id="sso"`, "local stand-in", "jane-password", `&#34;authorization_endpoint&#34;`, ts.sso.idp.Issuer()} {
		if !strings.Contains(page, want) {
			t.Errorf("the anonymous page does not show %q", want)
		}
	}
	page = ts.ssoSignIn(t, c, "jane", "jane-password")
	for _, want := range []string{"Signed in with SSO as <strong>Jane Doe</strong>", `&#34;nonce&#34;`, `&#34;sid&#34;`, "oidc:grant:", `id="sso-tag">oidc:`} {
		if !strings.Contains(page, want) {
			t.Errorf("the signed-in page does not show %q", want)
		}
	}
	if !strings.Contains(page, ts.sso.idp.Issuer()+"#corp-000-jane") {
		t.Error("the session subject is not the issuer and sub")
	}

	// The provider ends the session: back-channel logout ends it here.
	r := c.do("POST", "/sso/end-idp-session", nil)
	if r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "sso-idp-ended") {
		t.Fatalf("end-idp-session: %d %q", r.status, r.header.Get("Location"))
	}
	page = string(c.do("GET", "/", nil).body)
	if strings.Contains(page, "Signed in with SSO") || !strings.Contains(page, `id="sso-start"`) {
		t.Fatal("still signed in after the provider's back-channel logout")
	}
}

func TestSSOLogout(t *testing.T) {
	ts := newSSOServer(t)
	c := ts.client(t)
	ts.ssoSignIn(t, c, "sam", "sam-password")
	r := c.do("POST", "/sso/logout", nil)
	m := continueLink.FindSubmatch(r.body)
	if r.status != http.StatusOK || m == nil || !strings.Contains(string(r.body), "id_token_hint") {
		t.Fatalf("POST /sso/logout: %d %s", r.status, r.body)
	}
	if strings.Contains(string(c.do("GET", "/", nil).body), "Signed in with SSO") {
		t.Fatal("still signed in after logout")
	}
	// The provider accepts the request and sends the browser back.
	resp, err := c.hc.Get(html.UnescapeString(string(m[1])))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != ts.url+"/sso/signed-out" {
		t.Fatalf("end_session: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestSSOErrorsShowNoProviderText(t *testing.T) {
	ts := newSSOServer(t)
	c := ts.client(t)
	r := c.do("GET", "/sso/corp/callback?state=x&error=access_denied&error_description=%3Cscript%3E", nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/?e=sso-expired#sso" {
		t.Fatalf("forged callback: %d %q", r.status, r.header.Get("Location"))
	}
	if page := string(c.do("GET", "/?e=sso-expired#sso", nil).body); strings.Contains(page, "<script>") {
		t.Fatal("the page echoes the provider's text")
	}
}
