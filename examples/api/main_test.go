package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/authkit/authkit/hash"
	"github.com/authkit/authkit/store"
)

func TestAPI(t *testing.T) {
	st := store.NewMemory(store.MemoryConfig{})
	defer st.Close()
	h := hash.New(hash.Config{Scheme: hash.Argon2id{Memory: 1024, Time: 1}, InsecureWeakParameters: true})
	handler, err := newApp(st, h, map[string]string{"alice": "wonderland-42"})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(handler)
	defer ts.Close()

	do := func(method, path, body, bearer string) (int, http.Header, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		if strings.HasPrefix(body, "token=") {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var m map[string]any
		json.Unmarshal(b, &m)
		return res.StatusCode, res.Header, m
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }

	code, _, bad := do("POST", "/login", `{"username":"alice","password":"nope"}`, "")
	_, _, unknown := do("POST", "/login", `{"username":"mallory","password":"nope"}`, "")
	if code != http.StatusUnauthorized || str(bad, "error") != "invalid_credentials" || str(unknown, "error") != "invalid_credentials" {
		t.Fatalf("bad login: %d %v %v", code, bad, unknown)
	}

	code, _, p := do("POST", "/login", `{"username":"alice","password":"wonderland-42"}`, "")
	if code != http.StatusOK || str(p, "token_type") != "Bearer" {
		t.Fatalf("login: %d %v", code, p)
	}
	if code, _, notes := do("GET", "/notes", "", str(p, "access_token")); code != http.StatusOK || notes["user"] != "alice" {
		t.Fatalf("notes: %d %v", code, notes)
	}
	if code, h, _ := do("GET", "/notes", "", ""); code != http.StatusUnauthorized || h.Get("WWW-Authenticate") != `Bearer realm="notes"` {
		t.Errorf("no token: %d %q", code, h.Get("WWW-Authenticate"))
	}

	code, hdr, p2 := do("POST", "/refresh", `{"refresh_token":"`+str(p, "refresh_token")+`"}`, "")
	if code != http.StatusOK || str(p2, "refresh_token") == str(p, "refresh_token") || p2["expires_in"] != float64(900) || str(p2, "scope") != "notes:read" {
		t.Fatalf("refresh: %d %v", code, p2)
	}
	if hdr.Get("Cache-Control") != "no-store" || hdr.Get("Pragma") != "no-cache" { // RFC 6749 §5.1
		t.Fatalf("refresh response may be cached: %v", hdr)
	}
	if code, _, e := do("POST", "/refresh", `{}`, ""); code != http.StatusBadRequest || str(e, "error") != "invalid_request" {
		t.Fatalf("refresh without a token: %d %v", code, e)
	}
	// Replaying the spent refresh token revokes the family.
	if code, _, e := do("POST", "/refresh", `{"refresh_token":"`+str(p, "refresh_token")+`"}`, ""); code != http.StatusBadRequest || str(e, "error") != "invalid_grant" {
		t.Fatalf("reuse: %d %v", code, e)
	}
	if code, h, _ := do("GET", "/notes", "", str(p2, "access_token")); code != http.StatusUnauthorized || !strings.Contains(h.Get("WWW-Authenticate"), "invalid_token") {
		t.Errorf("access token of a revoked family: %d", code)
	}

	// RFC 7009 revocation.
	_, _, p3 := do("POST", "/login", `{"username":"alice","password":"wonderland-42"}`, "")
	if code, _, _ := do("POST", "/revoke", "token="+url.QueryEscape(str(p3, "refresh_token")), ""); code != http.StatusOK {
		t.Fatalf("revoke: %d", code)
	}
	if code, _, _ := do("GET", "/notes", "", str(p3, "access_token")); code != http.StatusUnauthorized {
		t.Errorf("after revocation: %d", code)
	}
}
