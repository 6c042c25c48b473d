package main

import (
	"bytes"
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authkit/authkit/throttle"
	"github.com/google/go-cmp/cmp"
)

func setCookie(t *testing.T, r response, name string) *http.Cookie {
	t.Helper()
	for _, line := range r.header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err == nil && c.Name == name {
			c.Raw = line
			return c
		}
	}
	return nil
}

func wantError(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if code == "" {
		return
	}
	if ct, _, _ := mime.ParseMediaType(r.header.Get("Content-Type")); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", r.header.Get("Content-Type"))
	}
	if got := r.json(t)["error"]; got != code {
		t.Errorf("error %q, want %q (body %s)", got, code, r.body)
	}
}

func TestRegister(t *testing.T) {
	ts := newTestServer(t)
	c := ts.client(t)
	c.register("alice", "wonderland-42")

	tests := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"taken", creds("alice", "another-password"), http.StatusConflict, "username_taken"},
		{"taken, other case", creds("ALICE", "another-password"), http.StatusConflict, "username_taken"},
		{"short password", creds("bob", "short"), http.StatusBadRequest, "invalid_password"},
		{"common password", creds("bob", "Password123"), http.StatusBadRequest, "invalid_password"},
		{"password holds the name", creds("bobby", "xx-bobby-xx"), http.StatusBadRequest, "invalid_password"},
		{"one repeated character", creds("bob", "aaaaaaaaaaaa"), http.StatusBadRequest, "invalid_password"},
		{"password too long", creds("bob", strings.Repeat("x", maxPasswordLen+1)), http.StatusBadRequest, "invalid_password"},
		{"short name", creds("bo", "wonderland-42"), http.StatusBadRequest, "invalid_username"},
		{"long name", creds(strings.Repeat("b", 33), "wonderland-42"), http.StatusBadRequest, "invalid_username"},
		{"name with a space", creds("bob smith", "wonderland-42"), http.StatusBadRequest, "invalid_username"},
		{"name with unicode", creds("bøb", "wonderland-42"), http.StatusBadRequest, "invalid_username"},
		{"oversized body", `{"username":"bob","password":"` + strings.Repeat("x", maxBody) + `"}`, http.StatusBadRequest, "invalid_request"},
		{"not JSON", `username=bob`, http.StatusBadRequest, "invalid_request"},
		{"unknown field", `{"username":"bob","password":"wonderland-42","admin":true}`, http.StatusBadRequest, "invalid_request"},
		{"two objects", `{"username":"bob","password":"wonderland-42"}{}`, http.StatusBadRequest, "invalid_request"},
		{"wrong type", `{"username":1,"password":"wonderland-42"}`, http.StatusBadRequest, "invalid_request"},
		{"empty", ``, http.StatusBadRequest, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, c.do("POST", "/api/register", tt.body), tt.status, tt.code)
		})
	}
	t.Run("nothing stored for refused names", func(t *testing.T) {
		if _, err := ts.users.get(context.Background(), "bob"); err != errNoUser {
			t.Errorf("bob: %v, want no such user", err)
		}
	})
	t.Run("GET is not allowed", func(t *testing.T) {
		wantError(t, c.do("GET", "/api/register", nil), http.StatusMethodNotAllowed, "")
	})
	t.Run("the name is folded", func(t *testing.T) {
		r := c.do("POST", "/api/register", creds("Carol.B", "wonderland-42"))
		if r.status != http.StatusCreated || r.json(t)["username"] != "carol.b" {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if r := c.do("POST", "/api/session/login", creds("CAROL.b", "wonderland-42")); r.status != http.StatusOK {
			t.Errorf("login with another case: %d %s", r.status, r.body)
		}
	})
}

func TestSessionAPI(t *testing.T) {
	ts := newTestServer(t)
	c := ts.client(t)
	c.register("alice", "wonderland-42")

	r := c.do("POST", "/api/session/login", creds("alice", "wonderland-42"))
	if r.status != http.StatusOK {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	if got := r.json(t); got["subject"] != "alice" || got["method"] != "session" {
		t.Errorf("login body %v", got)
	}
	ck := setCookie(t, r, "__Host-session")
	if ck == nil {
		t.Fatalf("no session cookie in %v", r.header.Values("Set-Cookie"))
	}
	if !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Domain != "" {
		t.Errorf("session cookie %q: want HttpOnly, Secure, SameSite=Lax, Path=/, no Domain", ck.Raw)
	}
	t.Run("stored under a hash of the ID, not the ID", func(t *testing.T) {
		for k, v := range ts.mem.All() {
			if strings.Contains(k, ck.Value) || bytes.Contains(v, []byte(ck.Value)) {
				t.Errorf("the store holds the session ID in clear under %q", k)
			}
		}
		if _, err := ts.mem.Get(context.Background(), storeKey("sess:", ck.Value)); err != nil {
			t.Errorf("no record under sess:SHA-256(ID): %v", err)
		}
	})

	if r := c.do("GET", "/api/me", nil); r.status != http.StatusOK || r.json(t)["method"] != "session" {
		t.Fatalf("me: %d %s", r.status, r.body)
	}

	// A second device.
	c2 := ts.client(t)
	if r := c2.do("POST", "/api/session/login", creds("alice", "wonderland-42")); r.status != http.StatusOK {
		t.Fatal(r.status)
	}
	var devs struct {
		Sessions []deviceJSON `json:"sessions"`
	}
	r = c.do("GET", "/api/session/devices", nil)
	if r.status != http.StatusOK {
		t.Fatalf("devices: %d %s", r.status, r.body)
	}
	if err := json.Unmarshal(r.body, &devs); err != nil || len(devs.Sessions) != 2 {
		t.Fatalf("devices: %s (%v)", r.body, err)
	}
	if n := countFunc(devs.Sessions, func(d deviceJSON) bool { return d.Current }); n != 1 {
		t.Errorf("%d sessions marked current, want 1", n)
	}
	if devs.Sessions[0].ClientIP != "127.0.0.1" || devs.Sessions[0].Handle == "" {
		t.Errorf("device %+v", devs.Sessions[0])
	}

	t.Run("logout", func(t *testing.T) {
		r := c2.do("POST", "/api/session/logout", nil)
		if r.status != http.StatusNoContent {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if ck := setCookie(t, r, "__Host-session"); ck == nil || ck.MaxAge >= 0 {
			t.Errorf("logout did not clear the cookie: %v", r.header.Values("Set-Cookie"))
		}
		wantError(t, c2.do("GET", "/api/me", nil), http.StatusUnauthorized, "")
		// Without a session, logout is a no-op.
		if r := c2.do("POST", "/api/session/logout", nil); r.status != http.StatusNoContent {
			t.Errorf("second logout: %d", r.status)
		}
	})

	t.Run("logout-all", func(t *testing.T) {
		c3 := ts.client(t)
		if r := c3.do("POST", "/api/session/login", creds("alice", "wonderland-42")); r.status != http.StatusOK {
			t.Fatal(r.status)
		}
		if r := c.do("POST", "/api/session/logout-all", nil); r.status != http.StatusNoContent {
			t.Fatalf("%d %s", r.status, r.body)
		}
		for i, cl := range []*client{c, c3} {
			if r := cl.do("GET", "/api/me", nil); r.status != http.StatusUnauthorized {
				t.Errorf("client %d still signed in: %d %s", i, r.status, r.body)
			}
		}
	})

	t.Run("devices and logout-all need a session", func(t *testing.T) {
		anon := ts.client(t)
		for _, rt := range []struct{ method, path string }{{"GET", "/api/session/devices"}, {"POST", "/api/session/logout-all"}} {
			r := anon.do(rt.method, rt.path, nil)
			if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") != `Bearer realm="authkit-demo"` {
				t.Errorf("%s %s: %d %q", rt.method, rt.path, r.status, r.header.Get("WWW-Authenticate"))
			}
		}
	})
}

func countFunc[T any](s []T, f func(T) bool) int {
	n := 0
	for _, v := range s {
		if f(v) {
			n++
		}
	}
	return n
}

type pairJSON struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

func tokenLogin(t *testing.T, c *client, user, pw string) pairJSON {
	t.Helper()
	r := c.do("POST", "/api/token/login", creds(user, pw))
	if r.status != http.StatusOK {
		t.Fatalf("token login: %d %s", r.status, r.body)
	}
	var p pairJSON
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.AccessToken, "ak_at_") || !strings.HasPrefix(p.RefreshToken, "ak_rt_") || p.TokenType != "Bearer" || p.ExpiresIn < 590 || p.ExpiresIn > 600 {
		t.Fatalf("token pair %s", r.body)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	return p
}

func me(c *client, bearer string) response {
	return c.do("GET", "/api/me", nil, "Authorization", "Bearer "+bearer)
}

func TestTokenAPI(t *testing.T) {
	ts := newTestServer(t)
	c := ts.client(t)
	c.register("alice", "wonderland-42")
	p := tokenLogin(t, c, "alice", "wonderland-42")

	if r := me(c, p.AccessToken); r.status != http.StatusOK || !cmp.Equal(r.json(t), map[string]any{"subject": "alice", "method": "token"}) {
		t.Fatalf("me: %d %s", r.status, r.body)
	}
	if _, err := ts.mem.Get(context.Background(), storeKey("tok:", p.AccessToken)); err != nil {
		t.Errorf("no record under tok:SHA-256(token): %v", err)
	}

	r := c.do("POST", "/api/token/refresh", map[string]string{"refresh_token": p.RefreshToken})
	if r.status != http.StatusOK {
		t.Fatalf("refresh: %d %s", r.status, r.body)
	}
	var p2 pairJSON
	json.Unmarshal(r.body, &p2)
	if p2.RefreshToken == p.RefreshToken || p2.AccessToken == p.AccessToken || p2.TokenType != "Bearer" {
		t.Fatalf("refresh did not rotate: %s", r.body)
	}
	if r := me(c, p2.AccessToken); r.status != http.StatusOK {
		t.Fatalf("me with the new token: %d", r.status)
	}

	t.Run("reuse revokes the family", func(t *testing.T) {
		r := c.do("POST", "/api/token/refresh", map[string]string{"refresh_token": p.RefreshToken})
		wantError(t, r, http.StatusBadRequest, "invalid_grant")
		if !strings.Contains(r.json(t)["error_description"].(string), "reused") {
			t.Errorf("description %s", r.body)
		}
		for _, tok := range []string{p.AccessToken, p2.AccessToken} {
			if r := me(c, tok); r.status != http.StatusUnauthorized || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("access token of a revoked family: %d %q", r.status, r.header.Get("WWW-Authenticate"))
			}
		}
		wantError(t, c.do("POST", "/api/token/refresh", map[string]string{"refresh_token": p2.RefreshToken}), http.StatusBadRequest, "invalid_grant")
	})

	t.Run("refresh errors", func(t *testing.T) {
		for _, tt := range []struct {
			name string
			body any
			code string
		}{
			{"missing", `{}`, "invalid_request"},
			{"malformed", map[string]string{"refresh_token": "ak_rt_nope"}, "invalid_grant"},
			{"an access token", map[string]string{"refresh_token": p2.AccessToken}, "invalid_grant"},
			{"a JWT", map[string]string{"refresh_token": "a.b.c"}, "invalid_grant"},
			{"not JSON", `refresh_token=x`, "invalid_request"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				wantError(t, c.do("POST", "/api/token/refresh", tt.body), http.StatusBadRequest, tt.code)
			})
		}
	})

	t.Run("RFC 7009 revocation", func(t *testing.T) {
		p := tokenLogin(t, c, "alice", "wonderland-42")
		form := func(v url.Values) response {
			req, _ := http.NewRequest("POST", ts.url+"/api/token/revoke", strings.NewReader(v.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var b bytes.Buffer
			b.ReadFrom(res.Body)
			return response{res.StatusCode, res.Header, b.Bytes()}
		}
		if r := form(url.Values{"token": {p.AccessToken}, "token_type_hint": {"access_token"}}); r.status != http.StatusOK {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}
		if r := me(c, p.AccessToken); r.status != http.StatusUnauthorized {
			t.Errorf("revoked access token: %d", r.status)
		}
		// Revoking the refresh token ends the family.
		p = tokenLogin(t, c, "alice", "wonderland-42")
		if r := form(url.Values{"token": {p.RefreshToken}}); r.status != http.StatusOK {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}
		wantError(t, c.do("POST", "/api/token/refresh", map[string]string{"refresh_token": p.RefreshToken}), http.StatusBadRequest, "invalid_grant")
		if r := me(c, p.AccessToken); r.status != http.StatusUnauthorized {
			t.Errorf("access token of a revoked family: %d", r.status)
		}
		// Unknown tokens are 200, as RFC 7009 requires; a request without
		// a token is 400; other methods 405.
		if r := form(url.Values{"token": {"ak_at_unknown"}}); r.status != http.StatusOK {
			t.Errorf("unknown token: %d", r.status)
		}
		if r := form(url.Values{}); r.status != http.StatusBadRequest {
			t.Errorf("no token: %d %s", r.status, r.body)
		}
		if r := c.do("GET", "/api/token/revoke", nil); r.status != http.StatusMethodNotAllowed {
			t.Errorf("GET: %d", r.status)
		}
	})
}

type jwtJSON struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

func TestJWTAPI(t *testing.T) {
	ts := newTestServer(t)
	c := ts.client(t)
	c.register("alice", "wonderland-42")

	r := c.do("POST", "/api/jwt/login", creds("alice", "wonderland-42"))
	if r.status != http.StatusOK {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	var j jwtJSON
	json.Unmarshal(r.body, &j)
	if strings.Count(j.AccessToken, ".") != 2 || j.ExpiresIn < 290 || j.ExpiresIn > 300 {
		t.Fatalf("login body %s", r.body)
	}
	rc := setCookie(t, r, refreshCookieName)
	if rc == nil {
		t.Fatalf("no refresh cookie: %v", r.header.Values("Set-Cookie"))
	}
	if !rc.HttpOnly || !rc.Secure || rc.Path != refreshCookiePath || rc.SameSite != http.SameSiteStrictMode || !strings.HasPrefix(rc.Value, "ak_rt_") {
		t.Errorf("refresh cookie %q: want HttpOnly, Secure, Path=%s, SameSite=Strict", rc.Raw, refreshCookiePath)
	}
	if strings.Contains(string(r.body), rc.Value) {
		t.Error("the refresh token is in the body, where scripts can read it")
	}
	if r := me(c, j.AccessToken); r.status != http.StatusOK || r.json(t)["method"] != "jwt" {
		t.Fatalf("me: %d %s", r.status, r.body)
	}

	// The cookie jar sends the refresh cookie to /api/jwt/refresh only.
	r = c.do("POST", "/api/jwt/refresh", nil)
	if r.status != http.StatusOK {
		t.Fatalf("refresh: %d %s", r.status, r.body)
	}
	var j2 jwtJSON
	json.Unmarshal(r.body, &j2)
	rc2 := setCookie(t, r, refreshCookieName)
	if j2.AccessToken == "" || j2.AccessToken == j.AccessToken || rc2 == nil || rc2.Value == rc.Value {
		t.Fatalf("refresh did not rotate: %s %v", r.body, r.header.Values("Set-Cookie"))
	}

	t.Run("reuse of the old cookie revokes the family and its JWTs", func(t *testing.T) {
		thief := ts.client(t)
		r := thief.do("POST", "/api/jwt/refresh", nil, "Cookie", refreshCookieName+"="+rc.Value)
		wantError(t, r, http.StatusBadRequest, "invalid_grant")
		if ck := setCookie(t, r, refreshCookieName); ck == nil || ck.MaxAge >= 0 {
			t.Error("a refused refresh does not clear the cookie")
		}
		for _, tok := range []string{j.AccessToken, j2.AccessToken} {
			if r := me(c, tok); r.status != http.StatusUnauthorized || !strings.Contains(r.header.Get("WWW-Authenticate"), "invalid_token") {
				t.Errorf("JWT of a revoked family: %d %q", r.status, r.header.Get("WWW-Authenticate"))
			}
		}
		wantError(t, c.do("POST", "/api/jwt/refresh", nil), http.StatusBadRequest, "invalid_grant")
	})

	t.Run("two refreshes at once: one rotates, the other is reuse", func(t *testing.T) {
		c := ts.client(t)
		var j jwtJSON
		r := c.do("POST", "/api/jwt/login", creds("alice", "wonderland-42"))
		json.Unmarshal(r.body, &j)
		cookie := refreshCookieName + "=" + setCookie(t, r, refreshCookieName).Value
		results := make(chan response, 2)
		start := make(chan struct{})
		for range 2 {
			go func() {
				<-start
				results <- ts.client(t).do("POST", "/api/jwt/refresh", nil, "Cookie", cookie)
			}()
		}
		close(start)
		a, b := <-results, <-results
		if a.status == http.StatusOK {
			a, b = b, a
		}
		if a.status != http.StatusBadRequest || b.status != http.StatusOK {
			t.Fatalf("answers %d and %d, want one 200 and one 400", a.status, b.status)
		}
		var won jwtJSON
		json.Unmarshal(b.body, &won)
		for _, tok := range []string{j.AccessToken, won.AccessToken} {
			if r := me(c, tok); r.status != http.StatusUnauthorized {
				t.Errorf("JWT of the revoked family: %d", r.status)
			}
		}
	})

	t.Run("refresh without a cookie", func(t *testing.T) {
		wantError(t, ts.client(t).do("POST", "/api/jwt/refresh", nil), http.StatusBadRequest, "invalid_grant")
	})
	t.Run("refresh with a cookie sent twice", func(t *testing.T) {
		wantError(t, ts.client(t).do("POST", "/api/jwt/refresh", nil, "Cookie", refreshCookieName+"=a; "+refreshCookieName+"=b"), http.StatusBadRequest, "invalid_grant")
	})

	t.Run("logout", func(t *testing.T) {
		c := ts.client(t)
		r := c.do("POST", "/api/jwt/login", creds("alice", "wonderland-42"))
		var j jwtJSON
		json.Unmarshal(r.body, &j)
		r = c.do("POST", "/api/jwt/logout", nil, "Authorization", "Bearer "+j.AccessToken)
		if r.status != http.StatusNoContent {
			t.Fatalf("logout: %d %s", r.status, r.body)
		}
		if ck := setCookie(t, r, refreshCookieName); ck == nil || ck.MaxAge >= 0 || ck.Path != refreshCookiePath {
			t.Errorf("logout did not clear the refresh cookie: %v", r.header.Values("Set-Cookie"))
		}
		if r := me(c, j.AccessToken); r.status != http.StatusUnauthorized {
			t.Errorf("JWT after logout: %d", r.status)
		}
		wantError(t, c.do("POST", "/api/jwt/logout", nil), http.StatusUnauthorized, "")
	})

	t.Run("JWKS", func(t *testing.T) {
		r := c.do("GET", "/.well-known/jwks.json", nil)
		var set struct {
			Keys []map[string]any `json:"keys"`
		}
		if r.status != http.StatusOK || json.Unmarshal(r.body, &set) != nil || len(set.Keys) != 1 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		k := set.Keys[0]
		if k["alg"] != "EdDSA" || k["kid"] == "" || k["d"] != nil {
			t.Errorf("key %v", k)
		}
	})
}

// TestMe checks the one route that takes all three credentials, and its
// RFC 6750 answers.
func TestMe(t *testing.T) {
	ts := newTestServer(t)
	c := ts.client(t)
	c.register("alice", "wonderland-42")
	p := tokenLogin(t, c, "alice", "wonderland-42")
	var j jwtJSON
	json.Unmarshal(c.do("POST", "/api/jwt/login", creds("alice", "wonderland-42")).body, &j)
	sess := ts.client(t)
	sess.do("POST", "/api/session/login", creds("alice", "wonderland-42"))
	anon := ts.client(t)

	tests := []struct {
		name    string
		c       *client
		headers []string
		status  int
		method  string
		auth    string // WWW-Authenticate
	}{
		{"session cookie", sess, nil, 200, "session", ""},
		{"opaque token", anon, []string{"Authorization", "Bearer " + p.AccessToken}, 200, "token", ""},
		{"JWT", anon, []string{"Authorization", "Bearer " + j.AccessToken}, 200, "jwt", ""},
		{"scheme in lower case", anon, []string{"Authorization", "bearer " + p.AccessToken}, 200, "token", ""},
		{"nothing", anon, nil, 401, "", `Bearer realm="authkit-demo"`},
		{"Basic", anon, []string{"Authorization", "Basic YWxpY2U6eA=="}, 401, "", `Bearer realm="authkit-demo"`},
		{"unknown opaque token", anon, []string{"Authorization", "Bearer ak_at_" + strings.Repeat("A", 38)}, 401, "", `Bearer realm="authkit-demo", error="invalid_token"`},
		{"forged JWT", anon, []string{"Authorization", "Bearer " + j.AccessToken[:len(j.AccessToken)-4] + "AAAA"}, 401, "", `Bearer realm="authkit-demo", error="invalid_token"`},
		{"garbage", anon, []string{"Authorization", "Bearer garbage"}, 401, "", `Bearer realm="authkit-demo", error="invalid_token"`},
		{"refresh token as bearer", anon, []string{"Authorization", "Bearer " + p.RefreshToken}, 401, "", `Bearer realm="authkit-demo", error="invalid_token"`},
		// No bearer token was sent, so no error code (RFC 6750 §3).
		{"unknown session cookie", anon, []string{"Cookie", "__Host-session=" + strings.Repeat("A", 43)}, 401, "", `Bearer realm="authkit-demo"`},
		{"malformed header", anon, []string{"Authorization", "Bearer a b"}, 400, "", `Bearer realm="authkit-demo", error="invalid_request"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.c.do("GET", "/api/me", nil, tt.headers...)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d (%s)", r.status, tt.status, r.body)
			}
			if tt.status == 200 {
				if got := r.json(t); got["subject"] != "alice" || got["method"] != tt.method {
					t.Errorf("body %v", got)
				}
				return
			}
			if got := r.header.Get("WWW-Authenticate"); got != tt.auth {
				t.Errorf("WWW-Authenticate %q, want %q", got, tt.auth)
			}
			if bytes.Contains(r.body, []byte("authkit:")) || bytes.Contains(r.body, []byte("token:")) || bytes.Contains(r.body, []byte("jwt:")) {
				t.Errorf("library error text in the body: %s", r.body)
			}
		})
	}
}

// TestLoginFailuresAreUniform checks, structurally, that a wrong password
// and an unknown user get the same answer after exactly one password
// verification through the same Hasher (and so its memory budget), of a
// hash at the policy's parameters: the stored one for a known user, a dummy
// one of the same scheme otherwise (login.Password verifies it with Verify,
// as PasswordConfig.LegacyScheme is set).
func TestLoginFailuresAreUniform(t *testing.T) {
	// Seven failures on alice from one address: more than the pair
	// counter's five free ones, and this test is not about the throttle.
	ts := newTestServer(t, func(c *config) { c.Throttle.Pair = throttle.Limit{Free: 10} })
	c := ts.client(t)
	c.register("alice", "wonderland-42")
	u, err := ts.users.get(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	policy, _ := ts.hasher.h.Hash(context.Background(), "x")
	if hashPrefix(u.Hash) != hashPrefix(policy) {
		t.Fatalf("stored hash %s is not at the policy's parameters %s", hashPrefix(u.Hash), hashPrefix(policy))
	}

	routes := []string{"/api/session/login", "/api/token/login", "/api/jwt/login"}
	cases := []struct {
		name              string
		user, password    string
		wantVerify, dummy int
	}{
		{"wrong password", "alice", "not-her-password", 1, 0},
		{"unknown user", "mallory", "not-her-password", 1, 0},
		{"malformed user name", "m a l", "not-her-password", 1, 0},
		{"user name in another case, wrong password", "ALICE", "nope-nope-nope", 1, 0},
	}
	for _, route := range routes {
		t.Run(route, func(t *testing.T) {
			var first *response
			for _, tc := range cases {
				ts.hasher.counts()
				r := ts.client(t).do("POST", route, creds(tc.user, tc.password))
				verified := ts.hasher.verifiedHashes()
				hashes, verify, dummy := ts.hasher.counts()
				if verify+dummy != 1 || verify != tc.wantVerify || dummy != tc.dummy || hashes != 0 {
					t.Errorf("%s: Verify %d, VerifyDummy %d, Hash %d; want exactly one verification (Verify %d, VerifyDummy %d)",
						tc.name, verify, dummy, hashes, tc.wantVerify, tc.dummy)
				}
				if len(verified) == 1 && verified[0] != hashPrefix(policy) {
					t.Errorf("%s: verified a hash %s, want one at the policy's parameters %s", tc.name, verified[0], hashPrefix(policy))
				}
				r.header.Del("Date")
				if first == nil {
					first = &r
					wantError(t, r, http.StatusUnauthorized, "invalid_credentials")
					continue
				}
				if r.status != first.status || !bytes.Equal(r.body, first.body) || !cmp.Equal(r.header, first.header) {
					t.Errorf("%s answered %d %s %v; %s answered %d %s %v", tc.name, r.status, r.body, r.header, cases[0].name, first.status, first.body, first.header)
				}
			}
		})
	}
	t.Run("unusable stored hash", func(t *testing.T) {
		ts.users.update(context.Background(), "alice", func(u *user) error { u.Hash = "$md5$junk"; return nil })
		ts.hasher.counts()
		r := ts.client(t).do("POST", "/api/token/login", creds("alice", "wonderland-42"))
		_, verify, dummy := ts.hasher.counts()
		wantError(t, r, http.StatusUnauthorized, "invalid_credentials")
		if verify+dummy != 1 {
			t.Errorf("Verify %d, VerifyDummy %d; want one verification", verify, dummy)
		}
	})
}

func TestUpgradeOnLogin(t *testing.T) {
	ts := newTestServer(t, func(c *config) { c.SeedDemoUser = true })
	ctx := context.Background()
	u, _ := ts.users.get(ctx, demoUser)
	if u.Hash != demoLegacyHash {
		t.Fatalf("seeded hash %q", u.Hash)
	}
	c := ts.client(t)
	r := c.do("POST", "/api/session/login", creds(demoUser, demoPassword))
	if r.status != http.StatusOK || r.json(t)["hash_upgraded"] != true {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	u, _ = ts.users.get(ctx, demoUser)
	if !strings.HasPrefix(u.Hash, "$argon2id$") || u.UpgradedFrom != "bcrypt (cost 10)" || u.UpgradedAt.IsZero() {
		t.Fatalf("after login: %s %q", hashPrefix(u.Hash), u.UpgradedFrom)
	}
	// The new hash works, and needs no further upgrade.
	r = c.do("POST", "/api/session/login", creds(demoUser, demoPassword))
	if r.status != http.StatusOK || r.json(t)["hash_upgraded"] != false {
		t.Fatalf("second login: %d %s", r.status, r.body)
	}
	// Seeding again (a restart on a persistent store) keeps the upgrade.
	if err := ts.seed(ctx); err != nil {
		t.Fatal(err)
	}
	if u2, _ := ts.users.get(ctx, demoUser); u2.Hash != u.Hash {
		t.Error("seeding again replaced the upgraded hash")
	}
}

// stoppedClock is a throttle clock that never moves: a back-off the test
// causes cannot run out while the test runs, and its Retry-After is exact.
func stoppedClock() func() time.Time {
	t := time.Now()
	return func() time.Time { return t }
}

// TestThrottle checks that the password throttle (login.Password with the
// throttle package) is wired into the API: refusals are 429 with
// Retry-After and verify nothing, unknown names are counted like real ones,
// a success clears the account's count, and the client address comes from
// X-Forwarded-For only behind a trusted proxy. The throttle's own rules are
// tested in its package.
func TestThrottle(t *testing.T) {
	t.Run("per account", func(t *testing.T) {
		// Two free failures: the third attempt is checked, the fourth waits.
		ts := newTestServer(t, func(c *config) { c.Throttle = throttle.Config{Account: throttle.Limit{Free: 2}, Now: stoppedClock()} })
		c := ts.client(t)
		c.register("alice", "wonderland-42")
		for range 3 {
			wantError(t, c.do("POST", "/api/token/login", creds("alice", "bad-password-x")), http.StatusUnauthorized, "invalid_credentials")
		}
		ts.hasher.counts()
		for _, pw := range []string{"bad-password-x", "wonderland-42"} {
			r := c.do("POST", "/api/token/login", creds("alice", pw))
			wantError(t, r, http.StatusTooManyRequests, "too_many_attempts")
			if ra := r.header.Get("Retry-After"); ra != "2" {
				t.Errorf("Retry-After %q, want 2 (the account counter's first delay)", ra)
			}
		}
		if _, v, d := ts.hasher.counts(); v+d != 0 {
			t.Errorf("a throttled attempt verified a password (%d, %d)", v, d)
		}
		// Unknown accounts are throttled the same way.
		for range 3 {
			c.do("POST", "/api/token/login", creds("nobody", "bad-password-x"))
		}
		wantError(t, c.do("POST", "/api/token/login", creds("nobody", "bad-password-x")), http.StatusTooManyRequests, "too_many_attempts")
		// Another account is not affected.
		c.register("bob", "bobs-password-1")
		tokenLogin(t, c, "bob", "bobs-password-1")
	})

	t.Run("a success clears the account's count", func(t *testing.T) {
		ts := newTestServer(t, func(c *config) { c.Throttle = throttle.Config{Account: throttle.Limit{Free: 2}, Now: stoppedClock()} })
		ts.client(t).register("alice", "wonderland-42")
		for range 5 {
			c := ts.client(t) // a new browser each time: no known-device allowance
			c.do("POST", "/api/token/login", creds("alice", "bad-password-x"))
			c.do("POST", "/api/token/login", creds("alice", "bad-password-x"))
			tokenLogin(t, c, "alice", "wonderland-42")
		}
	})

	t.Run("per client IP, with a trusted proxy", func(t *testing.T) {
		ts := newTestServer(t, func(c *config) {
			c.Throttle = throttle.Config{Address: throttle.Limit{Free: 3}, Now: stoppedClock()}
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		})
		c := ts.client(t)
		from := func(ip string) []string { return []string{"X-Forwarded-For", ip} }
		for i := range 4 {
			r := c.do("POST", "/api/token/login", creds("user"+string(rune('a'+i)), "bad-password-x"), from("203.0.113.7")...)
			wantError(t, r, http.StatusUnauthorized, "invalid_credentials")
		}
		wantError(t, c.do("POST", "/api/token/login", creds("usere", "bad-password-x"), from("203.0.113.7")...), http.StatusTooManyRequests, "too_many_attempts")
		// A spoofed left-most entry does not help: the proxy appended the
		// real address on the right.
		wantError(t, c.do("POST", "/api/token/login", creds("usere", "bad-password-x"), from("198.51.100.1, 203.0.113.7")...), http.StatusTooManyRequests, "too_many_attempts")
		// Another client behind the proxy is counted apart.
		wantError(t, c.do("POST", "/api/token/login", creds("usere", "bad-password-x"), from("203.0.113.8")...), http.StatusUnauthorized, "invalid_credentials")
	})

	t.Run("X-Forwarded-For is ignored without a trusted proxy", func(t *testing.T) {
		ts := newTestServer(t, func(c *config) { c.Throttle = throttle.Config{Address: throttle.Limit{Free: 1}, Now: stoppedClock()} })
		c := ts.client(t)
		c.do("POST", "/api/token/login", creds("usera", "bad-password-x"), "X-Forwarded-For", "203.0.113.1")
		c.do("POST", "/api/token/login", creds("userb", "bad-password-x"), "X-Forwarded-For", "203.0.113.2")
		wantError(t, c.do("POST", "/api/token/login", creds("userc", "bad-password-x"), "X-Forwarded-For", "203.0.113.3"), http.StatusTooManyRequests, "too_many_attempts")
	})
}

func TestCrossOrigin(t *testing.T) {
	ts := newTestServer(t)
	c := ts.client(t)
	c.register("alice", "wonderland-42")
	c.do("POST", "/api/session/login", creds("alice", "wonderland-42"))
	for _, h := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
		{"Origin", "http://evil.example"},
	} {
		t.Run(strings.Join(h, ": "), func(t *testing.T) {
			wantError(t, c.do("POST", "/api/session/logout-all", nil, h...), http.StatusForbidden, "cross_origin")
			wantError(t, c.do("POST", "/api/register", creds("mallory", "wonderland-42"), h...), http.StatusForbidden, "cross_origin")
			if r := c.do("GET", "/api/me", nil, h...); r.status != http.StatusOK {
				t.Errorf("a cross-origin GET is refused: %d", r.status)
			}
		})
	}
	if r := c.do("GET", "/api/me", nil); r.status != http.StatusOK {
		t.Fatalf("the session did not survive the attempts: %d", r.status)
	}
	if r := c.do("POST", "/api/session/logout", nil, "Sec-Fetch-Site", "same-origin"); r.status != http.StatusNoContent {
		t.Errorf("same-origin POST: %d", r.status)
	}
}

// TestGetChangesNothing requests every GET route with every kind of
// credential and checks that the store is exactly as before.
func TestGetChangesNothing(t *testing.T) {
	ts := newTestServer(t)
	c := ts.client(t)
	c.register("alice", "wonderland-42")
	c.do("POST", "/api/session/login", creds("alice", "wonderland-42"))
	p := tokenLogin(t, c, "alice", "wonderland-42")
	var j jwtJSON
	json.Unmarshal(c.do("POST", "/api/jwt/login", creds("alice", "wonderland-42")).body, &j)
	web := ts.client(t)
	form(t, web, "/cookie/login", url.Values{"username": {"alice"}, "password": {"wonderland-42"}})
	// A live login link, a pending code and a throttle counter to look at.
	form(t, web, "/signin/link/send", url.Values{"address": {"alice@example.com"}})
	form(t, web, "/signin/code/send", url.Values{"address": {"alice@example.com"}})
	form(t, web, "/signin/password", url.Values{"username": {"alice"}, "password": {"not-her-password"}})
	link := newest(t, web, outboxLink)

	snapshot := func() map[string]string {
		m := map[string]string{}
		for k, v := range ts.mem.All() {
			m[k] = string(v)
		}
		return m
	}
	before := snapshot()
	for _, path := range []string{"/", "/devices", "/api/me", "/api/session/devices", "/.well-known/jwks.json", "/static/style.css", "/demo/inspect", "/api/nope",
		"/?as=alice", link, "/api/signin/throttle?username=alice"} {
		for _, cl := range []*client{c, web} {
			for _, bearer := range []string{"", p.AccessToken, j.AccessToken} {
				var h []string
				if bearer != "" {
					h = []string{"Authorization", "Bearer " + bearer}
				}
				if r := cl.do("GET", path, nil, h...); r.status >= 500 {
					t.Errorf("GET %s: %d", path, r.status)
				}
			}
		}
	}
	if diff := cmp.Diff(before, snapshot()); diff != "" {
		t.Errorf("GET requests changed the store (-before +after):\n%s", diff)
	}
}

func form(t *testing.T, c *client, path string, v url.Values) response {
	t.Helper()
	req, _ := http.NewRequest("POST", c.base+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	return response{res.StatusCode, res.Header, b.Bytes()}
}

func TestUnknownAPIRoute(t *testing.T) {
	ts := newTestServer(t)
	wantError(t, ts.client(t).do("GET", "/api/nope", nil), http.StatusNotFound, "")
}

func TestSecurityHeaders(t *testing.T) {
	ts := newTestServer(t)
	r := ts.client(t).do("GET", "/", nil)
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy"} {
		if r.header.Get(h) == "" {
			t.Errorf("no %s", h)
		}
	}
	if csp := r.header.Get("Content-Security-Policy"); strings.Contains(csp, "unsafe") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	if !slices.Contains([]string{"text/html; charset=utf-8"}, r.header.Get("Content-Type")) {
		t.Errorf("Content-Type %q", r.header.Get("Content-Type"))
	}
}
