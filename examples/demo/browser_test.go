package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// chromiumPath finds a Chromium or Chrome binary, or skips the test — unless
// AUTHKIT_CI=1, where a missing browser is a failure.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("AUTHKIT_CI") == "1" {
		t.Fatal("no chromium on PATH, and AUTHKIT_CI=1: the browser test must run in CI (apt-get install chromium)")
	}
	t.Skip("no chromium on PATH: install it (apt-get install chromium) to run the browser test; with AUTHKIT_CI=1 this is a failure")
	return ""
}

// browser starts a headless Chromium with a fresh profile and returns a
// context for its first tab.
func browser(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancel)
	bctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	if err := chromedp.Do(bctx); err != nil { // start the browser
		t.Fatalf("starting chromium: %v", err)
	}
	watchConsole(t, bctx)
	reduceMotion(t, bctx)
	return bctx
}

// reduceMotion asks the page for no animations, as a user can: no smooth
// scrolling to a panel while the test clicks in it.
func reduceMotion(t *testing.T, ctx context.Context) {
	t.Helper()
	_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-reduced-motion", Value: "reduce"}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// watchConsole fails the test on any uncaught exception in the tab: the
// page's script must run cleanly.
func watchConsole(t *testing.T, ctx context.Context) {
	messages := chromedp.Console(ctx)
	var mu sync.Mutex
	var bad []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() {
				mu.Lock()
				bad = append(bad, m.String())
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range bad {
			t.Errorf("browser console: %s", m)
		}
	})
}

// step runs actions and fails the test with what it was doing.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// staleRetry runs a DOM query again while it fails because the page was
// replaced under it ("No node with given id found": the query ran on the
// document of before a navigation), a few times.
func staleRetry[T any](ctx context.Context, query func() (T, error)) (T, error) {
	for i := 0; ; i++ {
		v, err := query()
		if err == nil || i == 20 || ctx.Err() != nil || !strings.Contains(err.Error(), "No node with given id") {
			return v, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := staleRetry(ctx, func() (string, error) { return chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel))) })
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// waitText waits until the element's text contains want.
func waitText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.textContent.replace(/\\s+/g, " ").includes(%q); })()`, sel, want)
	deadline := time.Now().Add(10 * time.Second)
	for {
		// A poll does not survive a navigation: poll again after one.
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingInterval(25*time.Millisecond), chromedp.WithPollingTimeout(time.Until(deadline))))
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			where, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + " | " + (document.querySelector(".flash") || {}).textContent`))
			t.Fatalf("waiting for %q in %s: %v; at %s it shows %q", want, sel, err, where, text(t, ctx, sel))
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// press clicks an element with the mouse, after scrolling it to the middle
// of the viewport (at the top, the page's sticky bar would take the click).
func press(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		center := fmt.Sprintf(`document.querySelector(%q).scrollIntoView({block: "center", behavior: "instant"})`, sel)
		if _, err := chromedp.Evaluate[chromedp.Void](center)(ctx, t); err != nil {
			return err
		}
		_, err := chromedp.Click(chromedp.CSS(sel))(ctx, t)
		return err
	})
}

// signIn fills a panel's form and submits it. The caller waits for what
// should follow.
func signIn(t *testing.T, ctx context.Context, form, user, pw string) {
	t.Helper()
	waitLoaded(t, ctx)
	step(t, ctx, "sign in on "+form,
		chromedp.SetValue(chromedp.CSS(form+` input[name="username"]`), user),
		chromedp.SetValue(chromedp.CSS(form+` input[name="password"]`), pw),
		press(form+` button[type="submit"]`),
	)
}

// waitLoaded waits until the tab's document has finished loading.
func waitLoaded(t *testing.T, ctx context.Context) {
	t.Helper()
	waitText(t, ctx, "html", "")
	deadline := time.Now().Add(10 * time.Second)
	for {
		done, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.readyState === "complete"`))
		if err == nil && done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page did not finish loading: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func cookiesOf(t *testing.T, ctx context.Context, url string) map[string]*network.Cookie {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]*network.Cookie{}
	for _, c := range res.Cookies {
		m[c.Name] = c
	}
	return m
}

// screenshot saves a PNG of one element (the whole page for sel == "", the
// visible part for sel == "viewport")
// into dir, and into $AUTHKIT_DEMO_SCREENSHOTS when that is set.
func screenshot(t *testing.T, ctx context.Context, dir, name, sel string) {
	t.Helper()
	var png []byte
	var err error
	switch sel {
	case "":
		png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
	case "viewport":
		png, err = chromedp.Run(ctx, chromedp.CaptureScreenshot())
	default:
		png, err = staleRetry(ctx, func() ([]byte, error) { return chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(sel))) })
	}
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dirs := []string{dir}
	if extra := os.Getenv("AUTHKIT_DEMO_SCREENSHOTS"); extra != "" {
		dirs = append(dirs, extra)
	}
	for _, d := range dirs {
		if err := os.WriteFile(filepath.Join(d, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBrowser drives the demo in headless Chromium: sign-ins on the four
// panels, the session cookie as the browser stored it, a cross-origin form
// post from another origin of the same site, and "log out everywhere" from
// a second browser profile.
func TestBrowser(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bctx := browser(t, ctx)
	ts := newTestServer(t)
	base := ts.url // http://127.0.0.1:<port>
	shots := t.TempDir()
	t.Logf("screenshots in %s", shots)

	// Register through the page's form (no JavaScript needed).
	step(t, bctx, "open the page",
		chromedp.Navigate(base),
		press("details.register summary"),
	)
	signIn(t, bctx, "details.register form", "alice", "wonderland-42")
	waitText(t, bctx, ".flash", "Account created")

	// 1. Sealed cookie.
	signIn(t, bctx, "#cookie-form", "alice", "wonderland-42")
	waitText(t, bctx, "#cookie", "Signed in as alice")
	waitText(t, bctx, "#cookie", "Set-Cookie: __Host-demo-auth=")

	// 2. Session.
	signIn(t, bctx, "#session-form", "alice", "wonderland-42")
	waitText(t, bctx, "#session", "Signed in as alice")
	waitText(t, bctx, "#session", "sess:")

	t.Run("session cookie as stored", func(t *testing.T) {
		c := cookiesOf(t, bctx, base)["__Host-session"]
		if c == nil {
			t.Fatalf("no __Host-session cookie; the browser holds %v", cookiesOf(t, bctx, base))
		}
		if !c.HTTPOnly || !c.Secure || c.SameSite != network.CookieSameSiteLax || c.Path != "/" || !c.Session {
			t.Errorf("cookie attributes: HttpOnly=%v Secure=%v SameSite=%q Path=%q Session=%v; want HttpOnly, Secure, Lax, /, a browser-session cookie",
				c.HTTPOnly, c.Secure, c.SameSite, c.Path, c.Session)
		}
		if len(c.Value) < 40 {
			t.Errorf("session ID %d characters long, want a 256-bit random value", len(c.Value))
		}
		seen, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.cookie`))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(seen, "session") || strings.Contains(seen, "demo-auth") || strings.Contains(seen, c.Value) {
			t.Errorf("document.cookie = %q: scripts can read an HttpOnly cookie", seen)
		}
	})

	// 3. Opaque tokens: sign in, call, rotate, replay the spent token.
	signIn(t, bctx, "#token-form", "alice", "wonderland-42")
	waitText(t, bctx, "#token-log", "tok:")
	step(t, bctx, "token panel signed in", chromedp.WaitVisible(chromedp.ID("token-actions")))
	step(t, bctx, "call /api/me", press("#token-me"))
	waitText(t, bctx, "#token-log", `"method": "token"`)
	step(t, bctx, "refresh", press("#token-refresh"))
	waitText(t, bctx, "#token-log", "1 rotation")
	step(t, bctx, "replay", press("#token-reuse"))
	waitText(t, bctx, "#token-log", "family has been revoked")
	waitText(t, bctx, "#token-log", "state revoked")

	// 4. JWT: sign in, call, rotate from the HttpOnly cookie.
	signIn(t, bctx, "#jwt-form", "alice", "wonderland-42")
	waitText(t, bctx, "#jwt-log", `"typ": "at+jwt"`)
	step(t, bctx, "JWT panel signed in", chromedp.WaitVisible(chromedp.ID("jwt-actions")))
	waitText(t, bctx, "#jwt-log", "Set-Cookie: __Secure-jwt-refresh=")
	step(t, bctx, "call /api/me with the JWT", press("#jwt-me"))
	waitText(t, bctx, "#jwt-log", `"method": "jwt"`)
	step(t, bctx, "refresh the JWT", press("#jwt-refresh"))
	waitText(t, bctx, "#jwt-log", "A new JWT, and a new refresh token")
	if rc := cookiesOf(t, bctx, base+refreshCookiePath)[refreshCookieName]; rc == nil || !rc.HTTPOnly || rc.Path != refreshCookiePath || rc.SameSite != network.CookieSameSiteStrict {
		t.Errorf("refresh cookie as stored: %+v; want HttpOnly, Path=%s, SameSite=Strict", rc, refreshCookiePath)
	}

	// The sticky top bar would be drawn over the element screenshots.
	step(t, bctx, "unstick the bar", chromedp.Evaluate[chromedp.Void](`document.querySelector(".bar").style.position = "static"`))
	for _, p := range []string{"cookie", "session", "token", "jwt", "events", "api"} {
		screenshot(t, bctx, shots, "panel-"+p, "#"+p)
	}
	screenshot(t, bctx, shots, "page", "")
	step(t, bctx, "back to the top", chromedp.Evaluate[chromedp.Void](`window.scrollTo({top: 0, behavior: "instant"})`))
	screenshot(t, bctx, shots, "top", "viewport")

	t.Run("cross-origin form post from the same site is refused", func(t *testing.T) {
		// Another origin of the same site: same host, another port. The
		// browser sends the SameSite=Lax session cookie along (same site),
		// so only the cross-origin check stands between this page and the
		// user's account.
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<!doctype html><title>win a prize</title>
<form method="post" action="%s/devices/logout-all"><button id="go" type="submit">Claim your prize</button></form>`, base)
		}))
		defer evil.Close()
		if !strings.HasPrefix(evil.URL, "http://127.0.0.1:") || evil.URL == base {
			t.Fatalf("attacker at %s, demo at %s: want the same host on another port", evil.URL, base)
		}
		step(t, bctx, "open the attacker's page", chromedp.Navigate(evil.URL), press("#go"))
		waitText(t, bctx, "body", "403 Forbidden")
		if loc, err := chromedp.Run(bctx, chromedp.Location()); err != nil || loc != base+"/devices/logout-all" {
			t.Errorf("after the attack the browser is at %q (%v)", loc, err)
		}
		step(t, bctx, "back to the demo", chromedp.Navigate(base))
		waitText(t, bctx, "#session", "Signed in as alice")
	})

	t.Run("log out everywhere from another browser", func(t *testing.T) {
		other, cancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
		defer cancel()
		reduceMotion(t, other)
		step(t, other, "open the page in a second profile", chromedp.Navigate(base))
		if c := cookiesOf(t, other, base)["__Host-session"]; c != nil {
			t.Fatal("the second browser context shares the first one's cookies")
		}
		signIn(t, other, "#session-form", "alice", "wonderland-42")
		waitText(t, other, "#session", "Signed in as alice")
		step(t, other, "open the devices page", chromedp.Navigate(base+"/devices"))
		waitText(t, other, "#sessions", "this browser")
		if n := strings.Count(text(t, other, "#sessions tbody"), "Chrome"); n != 2 {
			t.Errorf("devices page lists %d browser sessions, want 2", n)
		}
		screenshot(t, other, shots, "devices", "")
		step(t, other, "log out everywhere", press("#logout-all"))
		waitText(t, other, ".flash", "Signed out everywhere")

		step(t, bctx, "reload the first browser", chromedp.Reload())
		waitText(t, bctx, "#session", "Sign in with a session")
		if got := text(t, bctx, "#session .act"); strings.Contains(got, "Signed in as") {
			t.Errorf("the first browser is still signed in: %q", got)
		}
	})
}
