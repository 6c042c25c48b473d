package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/authkit/authkit/login"
	"github.com/chromedp/chromedp"
)

// TestBrowserSignIn signs in with an email login link in headless
// Chromium: the link from the outbox panel opens a confirmation page that
// signs in only when its button is pressed, in the browser that asked for
// the link (its binding cookie), and the session panel shows the session.
// A wrong password first fills the throttle panel.
func TestBrowserSignIn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bctx := browser(t, ctx)
	ts := newTestServer(t)
	ts.client(t).register("alice", "wonderland-42")
	base := ts.url
	shots := t.TempDir()

	step(t, bctx, "open the page", chromedp.Navigate(base+"/#signin"))
	signIn(t, bctx, "#signin-password-form", "alice", "not-her-password")
	waitText(t, bctx, ".flash", "Wrong username or password")
	waitText(t, bctx, "#throttle", "attempts on alice from any address")

	waitLoaded(t, bctx)
	step(t, bctx, "ask for a link",
		chromedp.SetValue(chromedp.CSS(`#signin-link-form input[name="address"]`), "alice@example.com"),
		press(`#signin-link-form button[type="submit"]`),
	)
	waitText(t, bctx, ".flash", "a login link is in the outbox")
	waitText(t, bctx, "#outbox", "To alice@example.com")
	if cookiesOf(t, bctx, base)[login.DefaultLinkCookie] == nil {
		t.Fatalf("no %s cookie binds the link to this browser", login.DefaultLinkCookie)
	}
	waitLoaded(t, bctx)
	step(t, bctx, "unstick the bar", chromedp.Evaluate[chromedp.Void](`document.querySelector(".bar").style.position = "static"`))
	screenshot(t, bctx, shots, "panel-signin", "#signin")

	step(t, bctx, "open the link", press("#outbox .mail-link"))
	waitText(t, bctx, "#link-confirm", "Sign in with this link?")
	waitLoaded(t, bctx)
	if got := text(t, bctx, "#link-confirm"); strings.Contains(got, "another browser") {
		t.Errorf("the browser that asked is told it is another one: %q", got)
	}
	screenshot(t, bctx, shots, "link-confirm", "viewport")
	step(t, bctx, "sign in", press(`#link-form button[type="submit"]`))
	waitText(t, bctx, ".flash", "Signed in with the login link")
	waitText(t, bctx, "#session", "Signed in as alice")
	if cookiesOf(t, bctx, base)[login.DefaultLinkCookie] != nil {
		t.Errorf("the %s cookie outlived the sign-in", login.DefaultLinkCookie)
	}
}
