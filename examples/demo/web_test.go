package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func loginForm(u, p string) url.Values { return url.Values{"username": {u}, "password": {p}} }

// wantRedirect checks a 303 to path with the given query code.
func wantRedirect(t *testing.T, r response, want string) {
	t.Helper()
	if r.status != http.StatusSeeOther {
		t.Fatalf("status %d, want 303 (body %s)", r.status, r.body)
	}
	if loc := r.header.Get("Location"); !strings.HasPrefix(loc, want) {
		t.Fatalf("redirect to %q, want %q…", loc, want)
	}
}

func getPage(t *testing.T, c *client, path string) string {
	t.Helper()
	r := c.do("GET", path, nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: %d", path, r.status)
	}
	return string(r.body)
}

func TestWebForms(t *testing.T) {
	ts := newTestServer(t)
	c := ts.client(t)

	wantRedirect(t, form(t, c, "/register", loginForm("alice", "wonderland-42")), "/?m=registered")
	wantRedirect(t, form(t, c, "/register", loginForm("alice", "wonderland-42")), "/?e=taken")
	wantRedirect(t, form(t, c, "/register", loginForm("bob", "password")), "/?e=invalid_password")
	wantRedirect(t, form(t, c, "/register", url.Values{}), "/?e=bad-request")
	if !strings.Contains(getPage(t, c, "/?e=taken"), "That username is taken") {
		t.Error("the page does not show the message")
	}
	if strings.Contains(getPage(t, c, "/?e=<script>"), "<script>") {
		t.Error("an unknown message code is echoed")
	}

	t.Run("sealed cookie", func(t *testing.T) {
		wantRedirect(t, form(t, c, "/cookie/login", loginForm("alice", "wrong-password")), "/?e=bad-login")
		r := form(t, c, "/cookie/login", loginForm("alice", "wonderland-42"))
		wantRedirect(t, r, "/?m=cookie-in")
		ck := setCookie(t, r, demoCookieName)
		if ck == nil || !ck.HttpOnly || !ck.Secure || ck.MaxAge != int(demoCookieTTL.Seconds()) {
			t.Fatalf("cookie %v", r.header.Values("Set-Cookie"))
		}
		body := getPage(t, c, "/")
		for _, want := range []string{"Signed in as <strong>alice</strong>", "Set-Cookie: " + demoCookieName + "=" + ck.Value[:8] + "…", "1 = sealed", `&#34;sub&#34;: &#34;alice&#34;`} {
			if !strings.Contains(body, want) {
				t.Errorf("the cookie panel lacks %q", want)
			}
		}
		if strings.Contains(body, ck.Value) {
			t.Error("the page shows the whole sealed value")
		}
		wantRedirect(t, form(t, c, "/cookie/logout", nil), "/?m=cookie-out")
	})

	t.Run("session", func(t *testing.T) {
		wantRedirect(t, form(t, c, "/session/login", loginForm("alice", "wonderland-42")), "/?m=session-in")
		sid := ""
		for _, ck := range c.hc.Jar.Cookies(mustURL(ts.url)) {
			if ck.Name == "__Host-session" {
				sid = ck.Value
			}
		}
		body := getPage(t, c, "/")
		key := storeKey("sess:", sid)
		if _, err := ts.mem.Get(context.Background(), key); err != nil {
			t.Fatalf("the page's store key is not where the session is: %v", err)
		}
		for _, want := range []string{key, "Set-Cookie: __Host-session=" + sid[:8] + "…", `&#34;alice&#34;`, "signed_in_via", storeKey("sidx:", "alice")} {
			if !strings.Contains(body, want) {
				t.Errorf("the session panel lacks %q", want)
			}
		}
		if strings.Contains(body, sid) {
			t.Error("the page shows the whole session ID")
		}
	})

	t.Run("devices", func(t *testing.T) {
		other := ts.client(t)
		form(t, other, "/session/login", loginForm("alice", "wonderland-42"))
		tokenLogin(t, other, "alice", "wonderland-42")
		body := getPage(t, c, "/devices")
		if n := strings.Count(body, `name="handle"`); n != 1 {
			t.Errorf("%d revocable sessions listed, want 1 (the other device)", n)
		}
		if !strings.Contains(body, "this browser") || !strings.Contains(body, `name="id"`) {
			t.Error("devices page lacks this browser or the token client")
		}
		// Sign out the other session by its handle.
		var devs struct{ Sessions []deviceJSON }
		json.Unmarshal(c.do("GET", "/api/session/devices", nil).body, &devs)
		for _, d := range devs.Sessions {
			if !d.Current {
				wantRedirect(t, form(t, c, "/devices/revoke", url.Values{"handle": {d.Handle}}), "/devices?m=revoked")
			}
		}
		if r := other.do("GET", "/api/me", nil); r.status != http.StatusUnauthorized {
			t.Errorf("revoked session still works: %d", r.status)
		}
		// A handle of someone else's session does nothing.
		wantRedirect(t, form(t, c, "/devices/revoke", url.Values{"handle": {"nope"}}), "/devices?m=revoked")
		if r := c.do("GET", "/api/me", nil); r.status != http.StatusOK {
			t.Fatal("own session ended")
		}
	})

	t.Run("devices needs a session", func(t *testing.T) {
		wantRedirect(t, ts.client(t).do("GET", "/devices", nil), "/?e=need-session")
		wantRedirect(t, form(t, ts.client(t), "/devices/logout-all", nil), "/?e=need-session")
	})
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// everything signs alice in with every mechanism on new clients and returns
// a check that the session, token and JWT credentials are dead or alive,
// and the sealed cookie too.
func everything(t *testing.T, ts *testServer, pw string) func(alive, cookieAlive bool) {
	t.Helper()
	web := ts.client(t)
	wantRedirect(t, form(t, web, "/session/login", loginForm("alice", pw)), "/?m=session-in")
	wantRedirect(t, form(t, web, "/cookie/login", loginForm("alice", pw)), "/?m=cookie-in")
	p := tokenLogin(t, ts.client(t), "alice", pw)
	jc := ts.client(t)
	var j jwtJSON
	json.Unmarshal(jc.do("POST", "/api/jwt/login", creds("alice", pw)).body, &j)
	return func(alive, cookieAlive bool) {
		t.Helper()
		want := http.StatusUnauthorized
		if alive {
			want = http.StatusOK
		}
		checks := map[string]response{
			"session":       web.do("GET", "/api/me", nil),
			"access token":  me(ts.client(t), p.AccessToken),
			"refresh token": ts.client(t).do("POST", "/api/token/refresh", map[string]string{"refresh_token": p.RefreshToken}),
			"JWT":           me(ts.client(t), j.AccessToken),
			"JWT refresh":   jc.do("POST", "/api/jwt/refresh", nil),
		}
		if r := checks["refresh token"]; r.status == http.StatusOK {
			json.Unmarshal(r.body, &p) // the refresh token rotated: keep the new one
		}
		for name, r := range checks {
			ok := r.status == http.StatusOK
			if ok != alive {
				t.Errorf("%s: %d, want %d", name, r.status, want)
			}
		}
		if got := strings.Contains(getPage(t, web, "/"), "Delete the cookie"); got != cookieAlive {
			t.Errorf("sealed cookie accepted: %v, want %v", got, cookieAlive)
		}
	}
}

func TestLogoutEverywhere(t *testing.T) {
	ts := newTestServer(t)
	c := ts.client(t)
	c.register("alice", "wonderland-42")
	check := everything(t, ts, "wonderland-42")
	check(true, true)
	form(t, c, "/session/login", loginForm("alice", "wonderland-42"))
	wantRedirect(t, form(t, c, "/devices/logout-all", nil), "/?m=logged-out-all")
	if r := c.do("GET", "/api/me", nil); r.status != http.StatusUnauthorized {
		t.Errorf("this browser's session survived: %d", r.status)
	}
	// The sealed cookie carries no server state, so "log out everywhere"
	// cannot end it: that is the lesson of the cookie panel. A password
	// change does, through the version the cookie carries.
	check(false, true)
}

func TestPasswordChange(t *testing.T) {
	ts := newTestServer(t)
	c := ts.client(t)
	c.register("alice", "wonderland-42")
	check := everything(t, ts, "wonderland-42")
	check(true, true)
	form(t, c, "/session/login", loginForm("alice", "wonderland-42"))

	pw := func(cur, next, confirm string) response {
		return form(t, c, "/password", url.Values{"current": {cur}, "new": {next}, "confirm": {confirm}})
	}
	wantRedirect(t, pw("wrong-password", "looking-glass-7", "looking-glass-7"), "/devices?e=bad-password")
	wantRedirect(t, pw("wonderland-42", "looking-glass-7", "looking-glass-8"), "/devices?e=password-mismatch")
	wantRedirect(t, pw("wonderland-42", "password1", "password1"), "/devices?e=invalid_password")
	check(true, true)

	wantRedirect(t, pw("wonderland-42", "looking-glass-7", "looking-glass-7"), "/devices?m=password-changed")
	check(false, false)
	// This browser got a new session; the old password is gone.
	if r := c.do("GET", "/api/me", nil); r.status != http.StatusOK {
		t.Errorf("the browser that changed the password was signed out: %d", r.status)
	}
	wantError(t, ts.client(t).do("POST", "/api/token/login", creds("alice", "wonderland-42")), http.StatusUnauthorized, "invalid_credentials")
	everything(t, ts, "looking-glass-7")(true, true)
}

// TestRevokeFamilyFromDevices signs out one JWT client from the devices
// page: its refresh cookie and the JWTs issued from its family stop
// working at once, and another client's do not.
func TestRevokeFamilyFromDevices(t *testing.T) {
	ts := newTestServer(t)
	c := ts.client(t)
	c.register("alice", "wonderland-42")
	wantRedirect(t, form(t, c, "/session/login", loginForm("alice", "wonderland-42")), "/?m=session-in")

	type jwtClient struct {
		c   *client
		jwt string
		fid string
	}
	var clients [2]jwtClient
	for i := range clients {
		jc := ts.client(t)
		var j jwtJSON
		json.Unmarshal(jc.do("POST", "/api/jwt/login", creds("alice", "wonderland-42")).body, &j)
		parts := strings.Split(j.AccessToken, ".")
		if len(parts) != 3 {
			t.Fatalf("login %d: no JWT", i)
		}
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		var claims struct {
			FID string `json:"fid"`
		}
		if err != nil || json.Unmarshal(payload, &claims) != nil || claims.FID == "" {
			t.Fatalf("JWT claims %s: no fid", payload)
		}
		clients[i] = jwtClient{jc, j.AccessToken, claims.FID}
	}
	page := getPage(t, c, "/devices")
	for _, cl := range clients {
		if !strings.Contains(page, `name="id" value="`+cl.fid+`"`) {
			t.Fatalf("the devices page does not list family %s", cl.fid)
		}
	}

	wantRedirect(t, form(t, c, "/devices/revoke-family", url.Values{"id": {clients[0].fid}}), "/devices?m=revoked")
	if r := me(ts.client(t), clients[0].jwt); r.status != http.StatusUnauthorized {
		t.Errorf("JWT of the signed-out family: %d", r.status)
	}
	wantError(t, clients[0].c.do("POST", "/api/jwt/refresh", nil), http.StatusBadRequest, "invalid_grant")
	if r := me(ts.client(t), clients[1].jwt); r.status != http.StatusOK {
		t.Errorf("JWT of the other family: %d", r.status)
	}
	if r := clients[1].c.do("POST", "/api/jwt/refresh", nil); r.status != http.StatusOK {
		t.Errorf("refresh of the other family: %d %s", r.status, r.body)
	}
}
