package jwt

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/token"
)

type pairFixture struct {
	*fixture
	tokens *token.Manager
	pairs  *Pairs
}

func newPairFixture(t *testing.T, st store.Store) *pairFixture {
	f := newFixture(t, mustKeySet(t, testKey(t, ES256)), nil)
	if st == nil {
		st = f.store
	}
	tokens := token.New(st, token.Config{FamilyRevoked: f.ver.FamilyRevoked, Now: f.clk.Now})
	return &pairFixture{fixture: f, tokens: tokens, pairs: NewPairs(f.iss, tokens, PairConfig{Logger: discardLogger()})}
}

func TestPairIssueAndRefresh(t *testing.T) {
	f := newPairFixture(t, nil)
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
	f.clk.Advance(time.Second)
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
		if _, err := f.ver.Verify(ctx, tok); !errors.Is(err, ErrRevoked) {
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
	f.clk.Advance(time.Second)
	if err := authkit.RevokeSubject(ctx, "alice", f.tokens, f.ver); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ver.Verify(ctx, p3.Access.Token); !errors.Is(err, ErrRevoked) {
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
	f := newPairFixture(t, nil)
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
	if body.TokenType != "Bearer" || body.ExpiresIn != int64(DefaultLifetime/time.Second) || body.Scope != "a b" || body.Refresh != "" {
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
	if _, err := f.ver.Verify(ctx, body.AccessToken); !errors.Is(err, ErrRevoked) {
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
	f := newPairFixture(t, nil)
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
	if _, err := f.ver.Verify(ctx, p.Access.Token); !errors.Is(err, ErrRevoked) {
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
	f := newPairFixture(t, failingStore{})
	rec := httptest.NewRecorder()
	f.pairs.Handler().ServeHTTP(rec, refreshRequest("POST", "ak_rt_"+strings.Repeat("A", 60)))
	// A malformed token is refused without the store; a well-formed one
	// needs it.
	if rec.Code != 400 && rec.Code != 503 {
		t.Fatalf("status %d", rec.Code)
	}
	ok := newPairFixture(t, nil)
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

func TestNewPairsPanics(t *testing.T) {
	f := newPairFixture(t, nil)
	for _, cfg := range []PairConfig{
		{CookieName: "__Host-refresh"},
		{CookieName: "refresh"},
		{RefreshPath: "relative"},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("config %+v accepted", cfg)
				}
			}()
			NewPairs(f.iss, f.tokens, cfg)
		}()
	}
	c := NewPairs(f.iss, f.tokens, PairConfig{CookieName: "__Secure-rt", RefreshPath: "/api/token"}).Cookie()
	if c.Name != "__Secure-rt" || c.Path != "/api/token" || c.SameSite != http.SameSiteStrictMode || !c.Secure || !c.HttpOnly {
		t.Fatalf("cookie %+v", c)
	}
}
