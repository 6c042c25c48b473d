package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authkit/authkit/hash"
	"github.com/authkit/authkit/store"
)

type client struct {
	t  *testing.T
	hc *http.Client
	ts *httptest.Server
}

func (c *client) do(method, path, body, bearer string, header ...string) (*http.Response, map[string]any) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.ts.URL+path, strings.NewReader(body))
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var m map[string]any
	json.Unmarshal(b, &m)
	return res, m
}

func TestSPA(t *testing.T) {
	st := store.NewMemory(store.MemoryConfig{})
	defer st.Close()
	h := hash.New(hash.Config{Scheme: hash.Argon2id{Memory: 1024, Time: 1}, InsecureWeakParameters: true})
	handler, err := newApp(st, h, map[string]string{"alice": "wonderland-42"})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(handler)
	defer ts.Close()
	jar, _ := cookiejar.New(nil)
	c := &client{t, &http.Client{Jar: jar}, ts}

	if res, _ := c.do("GET", "/", "", ""); !strings.Contains(res.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("page CSP %q", res.Header.Get("Content-Security-Policy"))
	}
	if res, m := c.do("POST", "/api/login", `{"username":"alice","password":"nope"}`, ""); res.StatusCode != 401 || m["error"] != "invalid_credentials" {
		t.Fatalf("bad login: %d %v", res.StatusCode, m)
	}
	res, m := c.do("POST", "/api/login", `{"username":"alice","password":"wonderland-42"}`, "")
	if res.StatusCode != 200 {
		t.Fatalf("login: %d %v", res.StatusCode, m)
	}
	jwt1, _ := m["access_token"].(string)
	var rc *http.Cookie
	for _, ck := range res.Cookies() {
		if ck.Name == "__Secure-refresh" {
			rc = ck
		}
	}
	if rc == nil || !rc.HttpOnly || !rc.Secure || rc.Path != refreshPath || rc.SameSite != http.SameSiteStrictMode {
		t.Fatalf("refresh cookie %+v", rc)
	}
	if res, m := c.do("GET", "/api/me", "", jwt1); res.StatusCode != 200 || m["subject"] != "alice" {
		t.Fatalf("me: %d %v", res.StatusCode, m)
	}

	// A reload: the page has no JWT, and gets one from the cookie.
	res, m = c.do("POST", refreshPath, "", "")
	jwt2, _ := m["access_token"].(string)
	if res.StatusCode != 200 || jwt2 == "" || jwt2 == jwt1 {
		t.Fatalf("refresh: %d %v", res.StatusCode, m)
	}

	// A thief replays the first refresh cookie: the family is revoked, and
	// so are the JWTs issued from it.
	thief := &client{t, http.DefaultClient, ts}
	if res, m := thief.do("POST", refreshPath, "", "", "Cookie", "__Secure-refresh="+rc.Value); res.StatusCode != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("reuse: %d %v", res.StatusCode, m)
	}
	for _, tok := range []string{jwt1, jwt2} {
		if res, _ := c.do("GET", "/api/me", "", tok); res.StatusCode != 401 {
			t.Errorf("JWT of a revoked family: %d", res.StatusCode)
		}
	}

	// Sign in again, sign out: the JWT dies with its family.
	res, m = c.do("POST", "/api/login", `{"username":"alice","password":"wonderland-42"}`, "")
	jwt3, _ := m["access_token"].(string)
	var rc3 string
	for _, ck := range res.Cookies() {
		if ck.Name == "__Secure-refresh" {
			rc3 = ck.Value
		}
	}
	if res, _ := c.do("GET", "/api/me", "", jwt3); res.StatusCode != 200 {
		t.Fatalf("me after signing in again: %d", res.StatusCode)
	}
	if res, _ := c.do("DELETE", refreshPath, "", ""); res.StatusCode != 204 {
		t.Fatalf("logout: %d", res.StatusCode)
	}
	if res, _ := c.do("GET", "/api/me", "", jwt3); res.StatusCode != 401 {
		t.Errorf("JWT after logout: %d", res.StatusCode)
	}
	if res, _ := c.do("POST", refreshPath, "", ""); res.StatusCode != 400 {
		t.Errorf("refresh after logout: %d", res.StatusCode)
	}
	if res, _ := thief.do("POST", refreshPath, "", "", "Cookie", "__Secure-refresh="+rc3); res.StatusCode != 400 {
		t.Errorf("the logged-out refresh cookie replayed: %d", res.StatusCode)
	}
	// Cross-origin requests are refused.
	if res, _ := c.do("POST", refreshPath, "", "", "Sec-Fetch-Site", "cross-site"); res.StatusCode != 403 {
		t.Errorf("cross-origin refresh: %d", res.StatusCode)
	}
	if res, m := c.do("GET", "/.well-known/jwks.json", "", ""); res.StatusCode != 200 || m["keys"] == nil {
		t.Errorf("jwks: %d", res.StatusCode)
	}
}
