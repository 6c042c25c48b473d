package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserSSO signs in with SSO in headless Chromium: the panel, the
// authorization request page, the stand-in provider's login page, the
// callback, the decoded ID token and session, the flow cookie gone, and
// the provider's back-channel logout ending the session.
func TestBrowserSSO(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bctx := browser(t, ctx)
	ts := newSSOServer(t)
	base := ts.url
	shots := t.TempDir()

	step(t, bctx, "open the page", chromedp.Navigate(base+"/#sso"))
	waitText(t, bctx, "#sso", "local stand-in")
	step(t, bctx, "start", press("#sso-start"))
	waitText(t, bctx, "#sso-step", "code_challenge_method")
	waitText(t, bctx, "#sso-step", "Set-Cookie: __Host-oidc-")
	screenshot(t, bctx, shots, "sso-request", "#sso-step")
	step(t, bctx, "go to the provider", press("#sso-continue"))

	// The stand-in provider's own login page, on another port.
	waitText(t, bctx, "body", "Local stand-in for a company identity provider")
	step(t, bctx, "sign in at the provider",
		chromedp.SetValue(chromedp.CSS("#idp-username"), "jane"),
		chromedp.SetValue(chromedp.CSS("#idp-password"), "jane-password"),
		press("#idp-submit"),
	)
	waitText(t, bctx, ".flash", "Signed in with SSO")
	waitText(t, bctx, "#sso-state", "Jane Doe")
	waitText(t, bctx, "#sso-claims", `"nonce"`)
	waitText(t, bctx, "#sso-claims", `"sub": "corp-000-jane"`)
	waitText(t, bctx, "#sso-tag", "oidc:")
	waitText(t, bctx, "#session", "Signed in as "+ts.sso.issuer+"#corp-000-jane")
	for name := range cookiesOf(t, bctx, base) {
		if strings.HasPrefix(name, "__Host-oidc-") {
			t.Errorf("flow cookie %s left after the callback", name)
		}
	}
	if c := cookiesOf(t, bctx, base)["__Host-session"]; c == nil || !c.HTTPOnly || !c.Secure {
		t.Errorf("session cookie after SSO: %+v", c)
	}
	step(t, bctx, "unstick the bar", chromedp.Evaluate[chromedp.Void](`document.querySelector(".bar").style.position = "static"`))
	screenshot(t, bctx, shots, "panel-sso", "#sso")

	step(t, bctx, "end the session at the provider", press("#sso-end-idp"))
	waitText(t, bctx, ".flash", "told this server over the back channel")
	waitText(t, bctx, "#sso", "Sign in with SSO")
	if got := text(t, bctx, "#session .act"); strings.Contains(got, "Signed in as") {
		t.Errorf("the session survived back-channel logout: %q", got)
	}
}
