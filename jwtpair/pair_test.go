package jwtpair

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/jwt"
	"github.com/authkit/authkit/token"
)

func TestPairIssueAndRefresh(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	auth := t0.Add(-time.Minute)
	p1, err := f.pairs.Issue(ctx, "alice", token.FamilyOptions{Scopes: []string{"read"}, AuthTime: auth})
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.ver.Verify(ctx, p1.Access.Token)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "alice" || c.FamilyID != p1.Family.ID || c.FamilyID == "" || !c.AuthTime.Equal(auth) || len(c.Scopes) != 1 {
		t.Fatalf("claims %+v, family %q", c, p1.Family.ID)
	}
	f.clk.Add(time.Second)
	p2, err := f.pairs.Refresh(ctx, p1.Refresh, "")
	if err != nil {
		t.Fatal(err)
	}
	if p2.Refresh == p1.Refresh || p2.Access.Token == p1.Access.Token || p2.Family.ID != p1.Family.ID {
		t.Fatal("refresh did not renew the pair")
	}
	c2, err := f.ver.Verify(ctx, p2.Access.Token)
	if err != nil || c2.FamilyID != p1.Family.ID || !c2.AuthTime.Equal(auth) {
		t.Fatalf("renewed claims %+v: %v", c2, err)
	}
	// Reusing the rotated-out refresh token revokes the family, and with it
	// every JWT issued from it.
	if _, err := f.pairs.Refresh(ctx, p1.Refresh, ""); !errors.Is(err, token.ErrReused) {
		t.Fatalf("reuse: %v", err)
	}
	for i, tok := range []string{p1.Access.Token, p2.Access.Token} {
		if _, err := f.ver.Verify(ctx, tok); !errors.Is(err, jwt.ErrRevoked) {
			t.Fatalf("JWT %d after reuse: %v", i+1, err)
		}
	}
	// Another sign-in of the same subject is unaffected.
	p3, err := f.pairs.Issue(ctx, "alice", token.FamilyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ver.Verify(ctx, p3.Access.Token); err != nil {
		t.Fatal(err)
	}
	// RevokeSubject across both mechanisms ends it.
	f.clk.Add(time.Second)
	if err := authkit.RevokeSubject(ctx, "alice", f.tokens, f.ver); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ver.Verify(ctx, p3.Access.Token); !errors.Is(err, jwt.ErrRevoked) {
		t.Fatalf("after RevokeSubject: %v", err)
	}
	if _, err := f.pairs.Refresh(ctx, p3.Refresh, ""); !errors.Is(err, authkit.ErrInvalidCredentials) {
		t.Fatalf("refresh after RevokeSubject: %v", err)
	}
}

func refreshRequest(method, cookieValue string) *http.Request {
	r := httptest.NewRequest(method, "https://app.example"+DefaultRefreshPath, nil)
	if cookieValue != "" {
		r.Header.Set("Cookie", DefaultRefreshCookie+"="+cookieValue)
	}
	return r
}

func TestPairHandler(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	h := f.pairs.Handler()
	p, err := f.pairs.Issue(ctx, "bob", token.FamilyOptions{Scopes: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}

	// POST with the cookie: a new pair.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, refreshRequest("POST", string(p.Refresh)))
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var body struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
		Scope       string `json:"scope"`
		Refresh     string `json:"refresh_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.TokenType != "Bearer" || body.ExpiresIn != int64(jwt.DefaultLifetime/time.Second) || body.Scope != "a b" || body.Refresh != "" {
		t.Fatalf("body %s", rec.Body)
	}
	if _, err := f.ver.Verify(ctx, body.AccessToken); err != nil {
		t.Fatal(err)
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatal("response may be cached")
	}
	sc := rec.Header().Get("Set-Cookie")
	for _, want := range []string{DefaultRefreshCookie + "=", "Path=" + DefaultRefreshPath, "Max-Age=1209600", "Secure", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(sc, want) {
			t.Fatalf("Set-Cookie %q lacks %q", sc, want)
		}
	}
	next := strings.TrimPrefix(strings.SplitN(sc, ";", 2)[0], DefaultRefreshCookie+"=")
	if next == string(p.Refresh) {
		t.Fatal("refresh token not rotated")
	}

	for name, c := range map[string]struct {
		req    *http.Request
		status int
		errStr string
	}{
		"no cookie":      {refreshRequest("POST", ""), 400, "invalid_grant"},
		"garbage cookie": {refreshRequest("POST", "ak_rt_nope"), 400, "invalid_grant"},
		"GET":            {refreshRequest("GET", next), 405, "invalid_request"},
		"cross-site":     {withHeader(refreshRequest("POST", next), "Sec-Fetch-Site", "cross-site"), 403, "invalid_request"},
		"same-site":      {withHeader(refreshRequest("POST", next), "Sec-Fetch-Site", "same-site"), 403, "invalid_request"},
		"duplicate":      {withHeader(refreshRequest("POST", next), "Cookie", DefaultRefreshCookie+"=x"), 400, "invalid_grant"},
	} {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, c.req)
			if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.errStr) {
				t.Fatalf("status %d body %s", rec.Code, rec.Body)
			}
			if c.status == 400 && !strings.Contains(rec.Header().Get("Set-Cookie"), "Max-Age=0") {
				t.Fatalf("cookie not deleted: %q", rec.Header().Get("Set-Cookie"))
			}
		})
	}

	// The rotated-out token again: reuse, family revoked, JWT revoked.
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, refreshRequest("POST", string(p.Refresh)))
	if rec.Code != 400 {
		t.Fatalf("reuse: status %d", rec.Code)
	}
	if _, err := f.ver.Verify(ctx, body.AccessToken); !errors.Is(err, jwt.ErrRevoked) {
		t.Fatalf("JWT after reuse: %v", err)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, refreshRequest("POST", next))
	if rec.Code != 400 {
		t.Fatalf("successor after reuse: status %d", rec.Code)
	}
}

func withHeader(r *http.Request, k, v string) *http.Request {
	r.Header.Add(k, v)
	return r
}

func TestPairLogout(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	p, err := f.pairs.Issue(ctx, "carol", token.FamilyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	f.pairs.Handler().ServeHTTP(rec, refreshRequest("DELETE", string(p.Refresh)))
	if rec.Code != 204 || !strings.Contains(rec.Header().Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("logout: status %d, Set-Cookie %q", rec.Code, rec.Header().Get("Set-Cookie"))
	}
	if _, err := f.ver.Verify(ctx, p.Access.Token); !errors.Is(err, jwt.ErrRevoked) {
		t.Fatalf("JWT after logout: %v", err)
	}
	if _, err := f.pairs.Refresh(ctx, p.Refresh, ""); !errors.Is(err, authkit.ErrInvalidCredentials) {
		t.Fatalf("refresh after logout: %v", err)
	}
	// Logging out without a cookie is fine.
	rec = httptest.NewRecorder()
	f.pairs.Handler().ServeHTTP(rec, refreshRequest("DELETE", ""))
	if rec.Code != 204 {
		t.Fatalf("status %d", rec.Code)
	}
}

func TestPairHandlerStoreDown(t *testing.T) {
	f := newFixture(t, failingStore{})
	rec := httptest.NewRecorder()
	f.pairs.Handler().ServeHTTP(rec, refreshRequest("POST", "ak_rt_"+strings.Repeat("A", 60)))
	// A malformed token is refused without the store; a well-formed one
	// needs it.
	if rec.Code != 400 && rec.Code != 503 {
		t.Fatalf("status %d", rec.Code)
	}
	ok := newFixture(t, nil)
	p, err := ok.pairs.Issue(context.Background(), "dan", token.FamilyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec = httptest.NewRecorder()
	f.pairs.Handler().ServeHTTP(rec, refreshRequest("POST", string(p.Refresh)))
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || strings.Contains(rec.Header().Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("store down: status %d, headers %v", rec.Code, rec.Header())
	}
}

func TestNewPanics(t *testing.T) {
	f := newFixture(t, nil)
	for _, cfg := range []Config{
		{CookieName: "__Host-refresh"},
		{CookieName: "refresh"},
		{RefreshPath: "relative"},
		{RetryAfter: -time.Second},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("config %+v accepted", cfg)
				}
			}()
			New(f.iss, f.ver, f.tokens, cfg)
		}()
	}
	for name, build := range map[string]func(){
		"no issuer":        func() { New(nil, f.ver, f.tokens, Config{}) },
		"no verifier":      func() { New(f.iss, nil, f.tokens, Config{}) },
		"no token manager": func() { New(f.iss, f.ver, nil, Config{}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: accepted", name)
				}
			}()
			build()
		}()
	}
	c := New(f.iss, f.ver, f.tokens, Config{CookieName: "__Secure-rt", RefreshPath: "/api/token"}).Cookie()
	if c.Name != "__Secure-rt" || c.Path != "/api/token" || c.SameSite != http.SameSiteStrictMode || !c.Secure || !c.HttpOnly {
		t.Fatalf("cookie %+v", c)
	}
}

// A Pair printed or logged any way shows neither token.
func TestPairFormattingHidesTokens(t *testing.T) {
	f := newFixture(t, nil)
	p := f.issue(t, "alice")
	secrets := append(strings.Split(p.Access.Token, "."), string(p.Refresh), string(p.Refresh)[len(string(p.Refresh))-20:])
	var text, js bytes.Buffer
	for _, v := range []any{p, &p} {
		text.Reset()
		js.Reset()
		slog.New(slog.NewTextHandler(&text, nil)).Info("m", "pair", v)
		slog.New(slog.NewJSONHandler(&js, nil)).Info("m", "pair", v)
		outs := []string{text.String(), js.String(), fmt.Sprint(v), fmt.Sprintln(v)}
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
			outs = append(outs, fmt.Sprintf(verb, v), fmt.Sprintf(verb, struct{ P any }{v}), fmt.Sprintf(verb, []any{v}))
		}
		for _, out := range outs {
			for _, s := range secrets {
				if strings.Contains(out, s) {
					t.Fatalf("output shows a token: %s", out)
				}
			}
		}
		if out := fmt.Sprint(v); !strings.Contains(out, p.Family.ID) || !strings.Contains(out, p.Access.ID) || !strings.Contains(out, "REDACTED") {
			t.Fatalf("%s does not say which pair it is", out)
		}
	}
	if got := fmt.Sprint((*Pair)(nil)); got != "<nil>" {
		t.Fatalf("a nil *Pair prints %q", got)
	}
}
