package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/login"
	"github.com/authkit/authkit/throttle"
	"github.com/google/go-cmp/cmp"
)

// The sign-in section's flows, end to end through HTTP with cookie jars:
// each browser is a client with its own jar, links and codes are read
// from the outbox panel of the page, as a person would.

var (
	outboxLink = regexp.MustCompile(`class="mail-link" href="([^"]+)"`)
	outboxCode = regexp.MustCompile(`class="mail-code">([0-9]+)<`)
)

// newest returns the newest link or code in the outbox panel, or fails.
func newest(t *testing.T, c *client, re *regexp.Regexp) string {
	t.Helper()
	m := re.FindStringSubmatch(getPage(t, c, "/"))
	if m == nil {
		t.Fatal("the outbox panel shows no such message")
	}
	return html.UnescapeString(m[1])
}

func outboxCount(t *testing.T, c *client) int {
	t.Helper()
	return strings.Count(getPage(t, c, "/"), `<li class="mail `)
}

// signedIn reports the subject and method of c's credentials, or "".
func signedIn(t *testing.T, c *client) (subject, method string) {
	t.Helper()
	r := c.do("GET", "/api/me", nil)
	if r.status != http.StatusOK {
		return "", ""
	}
	m := r.json(t)
	return m["subject"].(string), m["method"].(string)
}

func hasEvent(ts *testServer, subject string, typ authkit.EventType, method string) bool {
	return slices.ContainsFunc(ts.events.recent(subject, 50), func(e authkit.Event) bool {
		return e.Type == typ && e.Method == method
	})
}

func TestSignInPassword(t *testing.T) {
	ts := newTestServer(t)
	c := ts.client(t)
	c.register("alice", "wonderland-42")

	wantRedirect(t, form(t, c, "/signin/password", loginForm("Alice", "not-her-password")), "/?e=bad-login&as=alice#signin")
	page := getPage(t, c, "/?as=alice")
	for _, want := range []string{
		"For <strong>alice</strong> from <code>127.0.0.1</code>",
		`<tr class="c-account"><td><code>account</code></td><td>attempts on alice from any address</td><td>1</td><td>10</td>`,
		`<tr class="c-pair"><td><code>pair</code></td><td>attempts on alice from 127.0.0.1</td><td>1</td><td>5</td>`,
		"an attempt is allowed now",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the throttle panel lacks %q", want)
		}
	}
	if !hasEvent(ts, "alice", authkit.EventLoginFailed, login.MethodPassword) {
		t.Error("no login_failed event for the wrong password")
	}

	r := form(t, c, "/signin/password", loginForm("alice", "wonderland-42"))
	wantRedirect(t, r, "/?m=signin-password&as=alice#signin")
	if setCookie(t, r, login.DefaultDeviceCookie) == nil {
		t.Errorf("no device cookie; Set-Cookie: %v", r.header.Values("Set-Cookie"))
	}
	if sub, method := signedIn(t, c); sub != "alice" || method != "session" {
		t.Fatalf("after the sign-in: %q %q, want a session for alice", sub, method)
	}
	page = getPage(t, c, "/")
	for _, want := range []string{"on a <strong>known device</strong>", `<tr class="c-device"><td><code>device</code></td><td>attempts on alice from this browser</td><td>0</td>`, "Signed in as <strong>alice</strong>"} {
		if !strings.Contains(page, want) {
			t.Errorf("after the sign-in the page lacks %q", want)
		}
	}
	if strings.Contains(page, `class="c-account"`) {
		t.Error("a known device is shown the account counter, which does not apply to it")
	}
	if !hasEvent(ts, "alice", authkit.EventLogin, login.MethodPassword) {
		t.Error("no login event with method password")
	}
	// Only valid user names reach the URL and the page.
	wantRedirect(t, form(t, c, "/signin/password", loginForm("<b>x</b> y", "whatever-pw")), "/?e=bad-login#signin")
}

type throttleJSON struct {
	Account     string        `json:"account"`
	Client      string        `json:"client"`
	KnownDevice bool          `json:"known_device"`
	RetryAfter  int           `json:"retry_after"`
	Counters    []counterJSON `json:"counters"`
}

func throttleOf(t *testing.T, c *client, name string, headers ...string) throttleJSON {
	t.Helper()
	r := c.do("GET", "/api/signin/throttle?username="+url.QueryEscape(name), nil, headers...)
	if r.status != http.StatusOK {
		t.Fatalf("throttle status: %d %s", r.status, r.body)
	}
	var v throttleJSON
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSignInUnderAttack: an attack on alice's account from many addresses
// puts the account in back-off — 429 with Retry-After, no password
// checked — while alice, from a browser that signed in before, gets
// through, from her usual address and from a new one.
func TestSignInUnderAttack(t *testing.T) {
	ts := newTestServer(t, func(c *config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.Throttle = throttle.Config{Now: stoppedClock()}
	})
	from := func(ip string) []string { return []string{"X-Forwarded-For", ip} }
	owner := ts.client(t)
	owner.register("alice", "wonderland-42")
	if r := owner.do("POST", "/api/session/login", creds("alice", "wonderland-42"), from("198.51.100.7")...); r.status != http.StatusOK || setCookie(t, r, login.DefaultDeviceCookie) == nil {
		t.Fatalf("the owner's first sign-in: %d, Set-Cookie %v", r.status, r.header.Values("Set-Cookie"))
	}

	// The account counter has 10 free failures; the eleventh is checked,
	// then the account waits. One guess from each of 40 addresses.
	checked, refused := 0, 0
	var retryAfter string
	for i := range 40 {
		ts.hasher.counts()
		r := ts.client(t).do("POST", "/api/session/login", creds("alice", fmt.Sprintf("guess-%d", i)), from(fmt.Sprintf("203.0.113.%d", i+1))...)
		_, verify, dummy := ts.hasher.counts()
		switch r.status {
		case http.StatusUnauthorized:
			checked++
		case http.StatusTooManyRequests:
			refused++
			retryAfter = r.header.Get("Retry-After")
			if verify+dummy != 0 {
				t.Errorf("a refused attempt verified a password (%d, %d)", verify, dummy)
			}
		default:
			t.Fatalf("attempt %d: %d %s", i, r.status, r.body)
		}
	}
	if checked != 11 || refused != 29 || retryAfter != "2" {
		t.Errorf("%d guesses checked and %d refused (last Retry-After %q), want 11, 29 and 2 (the account's first delay)", checked, refused, retryAfter)
	}
	st := throttleOf(t, ts.client(t), "alice", from("203.0.113.99")...)
	if st.KnownDevice || st.RetryAfter != 2 || len(st.Counters) != 3 {
		t.Errorf("status from a new browser: %+v, want three counters and a 2 s wait", st)
	}

	// The owner's browser is a known device: only its own counter applies.
	for _, ip := range []string{"198.51.100.7", "192.0.2.55"} {
		st := throttleOf(t, owner, "alice", from(ip)...)
		if !st.KnownDevice || st.RetryAfter != 0 || len(st.Counters) != 1 || st.Counters[0].Scope != "device" {
			t.Errorf("status from the owner's browser at %s: %+v, want only the device counter, no wait", ip, st)
		}
		if r := owner.do("POST", "/api/session/login", creds("alice", "wonderland-42"), from(ip)...); r.status != http.StatusOK {
			t.Errorf("the owner from a known device at %s: %d %s", ip, r.status, r.body)
		}
	}
	// The same password from a browser that never signed in waits.
	r := ts.client(t).do("POST", "/api/session/login", creds("alice", "wonderland-42"), from("198.51.100.7")...)
	wantError(t, r, http.StatusTooManyRequests, "too_many_attempts")

	// The web form says so, and the page shows the wait.
	web := ts.client(t)
	wantRedirect(t, form(t, web, "/signin/password", loginForm("alice", "wonderland-42")), "/?e=throttled&as=alice#signin")
	if page := getPage(t, web, "/?as=alice"); !strings.Contains(page, "the next attempt waits 2s") || !strings.Contains(page, `<tr class="c-account waiting">`) {
		t.Error("the throttle panel does not show the account's wait")
	}
}

// TestSignInLink: a login link sent to the outbox; opening it shows a
// confirmation page and changes nothing; only the POST signs in, once;
// another browser must confirm; an unknown address gets the same answer.
func TestSignInLink(t *testing.T) {
	ts := newTestServer(t)
	a := ts.client(t)
	a.register("alice", "wonderland-42")

	r := form(t, a, "/signin/link/send", url.Values{"address": {"Alice@Example.com"}})
	wantRedirect(t, r, "/?m=link-sent&as=alice#signin")
	unknown := form(t, ts.client(t), "/signin/link/send", url.Values{"address": {"nobody@example.com"}})
	wantRedirect(t, unknown, "/?m=link-sent&as=nobody#signin")
	if !cmp.Equal(cookieNames(r), cookieNames(unknown)) || len(cookieNames(r)) != 1 {
		t.Errorf("cookies set for a known address %v and an unknown one %v differ", cookieNames(r), cookieNames(unknown))
	}
	if n := outboxCount(t, a); n != 1 {
		t.Fatalf("%d messages in the outbox, want 1 (none for an unknown address)", n)
	}
	link := newest(t, a, outboxLink)
	if !strings.HasPrefix(link, linkPath+"?token=ak_ot_") {
		t.Fatalf("link %q", link)
	}
	tok := strings.TrimPrefix(link, linkPath+"?token=")

	// Opening the link — as a mail scanner would — changes nothing.
	before := snapshot(ts)
	page := getPage(t, a, link)
	if !strings.Contains(page, "Sign in with this link?") || strings.Contains(page, "another browser") || !strings.Contains(page, `value="`+tok+`"`) {
		t.Errorf("the confirmation page for the browser that asked:\n%s", page)
	}
	other := ts.client(t)
	if page := getPage(t, other, link); !strings.Contains(page, "This link was asked for in another browser") {
		t.Error("opened in another browser, the page does not ask for confirmation")
	}
	if diff := cmp.Diff(before, snapshot(ts)); diff != "" {
		t.Errorf("opening the link changed the store:\n%s", diff)
	}
	// Another browser's POST without the confirmation does not sign in,
	// and leaves the link valid.
	if r := form(t, other, linkPath, url.Values{"token": {tok}}); r.status != http.StatusOK || !strings.Contains(string(r.body), "I asked for this link") {
		t.Errorf("unconfirmed POST from another browser: %d", r.status)
	}
	if sub, _ := signedIn(t, other); sub != "" {
		t.Fatal("another browser signed in without confirming")
	}

	wantRedirect(t, form(t, a, linkPath, url.Values{"token": {tok}}), "/?m=signin-link&as=alice#signin")
	if sub, method := signedIn(t, a); sub != "alice" || method != "session" {
		t.Fatalf("after the link: %q %q, want a session for alice", sub, method)
	}
	if !hasEvent(ts, "alice", authkit.EventLogin, login.MethodLink) {
		t.Error("no login event with method link")
	}
	// Used: refused, also with the confirmation from the other browser.
	for _, c := range []*client{a, other} {
		r := form(t, c, linkPath, url.Values{"token": {tok}, "confirm": {"other-browser"}})
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "invalid or has expired") {
			t.Errorf("a used link: %d", r.status)
		}
	}
	if sub, _ := signedIn(t, other); sub != "" {
		t.Error("the used link signed in another browser")
	}
}

// TestSignInLinkOtherBrowser: a link opened in another browser signs in
// there after an explicit confirmation.
func TestSignInLinkOtherBrowser(t *testing.T) {
	ts := newTestServer(t)
	a := ts.client(t)
	a.register("alice", "wonderland-42")
	wantRedirect(t, form(t, a, "/signin/link/send", url.Values{"address": {"alice@example.com"}}), "/?m=link-sent")
	tok := strings.TrimPrefix(newest(t, a, outboxLink), linkPath+"?token=")
	phone := ts.client(t)
	wantRedirect(t, form(t, phone, linkPath, url.Values{"token": {tok}, "confirm": {"other-browser"}}), "/?m=signin-link")
	if sub, _ := signedIn(t, phone); sub != "alice" {
		t.Errorf("the confirmed link did not sign in the other browser: %q", sub)
	}
	if sub, _ := signedIn(t, a); sub != "" {
		t.Error("the browser that asked was signed in too")
	}
}

// TestSignInLinkAPI: the JSON route answers the same for known and unknown
// addresses, and requests are throttled per address with Retry-After.
func TestSignInLinkAPI(t *testing.T) {
	ts := newTestServer(t, func(c *config) { c.Throttle.Now = stoppedClock() })
	c := ts.client(t)
	c.register("alice", "wonderland-42")
	known := c.do("POST", "/api/signin/link", map[string]string{"address": "alice@example.com"})
	unknown := ts.client(t).do("POST", "/api/signin/link", map[string]string{"address": "nobody@example.com"})
	if known.status != http.StatusAccepted || !bytes.Equal(known.body, unknown.body) || unknown.status != known.status {
		t.Errorf("known address %d %s, unknown %d %s: want the same 202", known.status, known.body, unknown.status, unknown.body)
	}
	wantError(t, c.do("POST", "/api/signin/link", map[string]string{}), http.StatusBadRequest, "invalid_request")
	// Three links per address per 15 minutes (the library's default).
	for range 2 {
		if r := c.do("POST", "/api/signin/link", map[string]string{"address": "alice@example.com"}); r.status != http.StatusAccepted {
			t.Fatalf("link request: %d %s", r.status, r.body)
		}
	}
	r := c.do("POST", "/api/signin/link", map[string]string{"address": "alice@example.com"})
	wantError(t, r, http.StatusTooManyRequests, "too_many_requests")
	if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 || ra > 900 {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	if n := outboxCount(t, c); n != 3 {
		t.Errorf("%d links in the outbox, want 3", n)
	}
}

// TestSignInCode: the web form sends a code and keeps the challenge in a
// cookie; a wrong code fails, the right one signs in once.
func TestSignInCode(t *testing.T) {
	ts := newTestServer(t)
	c := ts.client(t)
	c.register("alice", "wonderland-42")
	if strings.Contains(getPage(t, c, "/"), `id="signin-code-verify"`) {
		t.Fatal("the code form shows before a code was sent")
	}
	r := form(t, c, "/signin/code/send", url.Values{"address": {"alice@example.com"}})
	wantRedirect(t, r, "/?m=code-sent&as=alice#signin")
	if setCookie(t, r, codeCookieName) == nil {
		t.Fatal("no challenge cookie")
	}
	if !strings.Contains(getPage(t, c, "/"), `id="signin-code-verify"`) {
		t.Fatal("no form for the code")
	}
	code := newest(t, c, outboxCode)
	if len(code) != login.DefaultCodeDigits {
		t.Fatalf("code %q", code)
	}
	wrong := fmt.Sprintf("%06d", (mustAtoi(t, code)+1)%1000000)
	wantRedirect(t, form(t, c, "/signin/code/verify", url.Values{"code": {wrong}}), "/?e=bad-code#signin")
	if sub, _ := signedIn(t, c); sub != "" {
		t.Fatal("a wrong code signed in")
	}
	r = form(t, c, "/signin/code/verify", url.Values{"code": {code}})
	wantRedirect(t, r, "/?m=signin-code&as=alice#signin")
	if ck := setCookie(t, r, codeCookieName); ck == nil || ck.MaxAge >= 0 {
		t.Error("the challenge cookie was not deleted")
	}
	if sub, method := signedIn(t, c); sub != "alice" || method != "session" {
		t.Fatalf("after the code: %q %q", sub, method)
	}
	if !hasEvent(ts, "alice", authkit.EventLogin, login.MethodCode) {
		t.Error("no login event with method code")
	}
	// Without the cookie, or used, a code is refused.
	wantRedirect(t, form(t, c, "/signin/code/verify", url.Values{"code": {code}}), "/?e=bad-code#signin")
}

// TestSignInCodeAPI: five wrong codes end a challenge, so the right code
// fails after them; a new challenge ends the previous one; an unknown
// address gets a challenge no code verifies.
func TestSignInCodeAPI(t *testing.T) {
	ts := newTestServer(t)
	c := ts.client(t)
	c.register("alice", "wonderland-42")
	start := func(addr string) string {
		t.Helper()
		r := c.do("POST", "/api/signin/code", map[string]string{"address": addr})
		if r.status != http.StatusAccepted {
			t.Fatalf("code request: %d %s", r.status, r.body)
		}
		m := r.json(t)
		if m["expires_in"] != float64(600) {
			t.Errorf("expires_in %v, want 600", m["expires_in"])
		}
		return m["challenge"].(string)
	}
	verify := func(ch, code string) response {
		return c.do("POST", "/api/signin/code/verify", map[string]string{"challenge": ch, "code": code})
	}

	ch := start("alice@example.com")
	code := newest(t, c, outboxCode)
	for i := range 5 {
		wrong := fmt.Sprintf("%06d", (mustAtoi(t, code)+1+i)%1000000)
		wantError(t, verify(ch, wrong), http.StatusUnauthorized, "invalid_code")
	}
	wantError(t, verify(ch, code), http.StatusUnauthorized, "invalid_code")

	first := start("alice@example.com")
	firstCode := newest(t, c, outboxCode)
	second := start("alice@example.com")
	wantError(t, verify(first, firstCode), http.StatusUnauthorized, "invalid_code")
	r := verify(second, newest(t, c, outboxCode))
	if r.status != http.StatusOK || r.json(t)["subject"] != "alice" {
		t.Fatalf("the right code: %d %s", r.status, r.body)
	}
	if sub, method := signedIn(t, c); sub != "alice" || method != "session" {
		t.Errorf("after the code: %q %q", sub, method)
	}

	n := outboxCount(t, c)
	ghost := start("nobody@example.com")
	if outboxCount(t, c) != n {
		t.Error("a code was sent to an address without an account")
	}
	wantError(t, verify(ghost, "000000"), http.StatusUnauthorized, "invalid_code")
	wantError(t, verify("not-a-challenge", "12"), http.StatusUnauthorized, "invalid_code")
}

// TestSignInSecretsNotLogged runs the link and code flows with a logger
// that keeps all it is given, at every level — the server's and the
// process's default — and checks no link token or code is in it.
func TestSignInSecretsNotLogged(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(logger)
	ts := newTestServer(t, func(c *config) { c.Logger = logger })
	c := ts.client(t)
	c.register("alice", "wonderland-42")
	c.do("POST", "/api/signin/link", map[string]string{"address": "alice@example.com"})
	tok := strings.TrimPrefix(newest(t, c, outboxLink), linkPath+"?token=")
	form(t, c, linkPath, url.Values{"token": {tok}})
	form(t, c, linkPath, url.Values{"token": {tok}}) // used: a failure event
	r := c.do("POST", "/api/signin/code", map[string]string{"address": "alice@example.com"})
	code := newest(t, c, outboxCode)
	ch, _ := r.json(t)["challenge"].(string)
	c.do("POST", "/api/signin/code/verify", map[string]string{"challenge": ch, "code": "000000"})
	c.do("POST", "/api/signin/code/verify", map[string]string{"challenge": ch, "code": code})
	if logs.Len() == 0 {
		t.Fatal("nothing was logged: the test checks nothing")
	}
	for _, secret := range []string{tok, tok[len("ak_ot_"):], code, "wonderland-42"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds a secret (%.8s…)", secret)
		}
	}
}

func cookieNames(r response) []string {
	var names []string
	for _, line := range r.header.Values("Set-Cookie") {
		if c, err := http.ParseSetCookie(line); err == nil {
			names = append(names, c.Name)
		}
	}
	slices.Sort(names)
	return names
}

func snapshot(ts *testServer) map[string]string {
	m := map[string]string{}
	for k, v := range ts.mem.All() {
		m[k] = string(v)
	}
	return m
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
