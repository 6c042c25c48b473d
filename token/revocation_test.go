package token

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestRevocationHandler(t *testing.T) {
	e := newMemEnv(t, Config{Logger: slog.New(slog.DiscardHandler)})
	ctx := context.Background()
	h := e.m.RevocationHandler(RevocationConfig{
		AuthenticateClient: func(r *http.Request) (string, error) {
			id, secret, ok := r.BasicAuth()
			if !ok || secret != "s3cret" {
				return "", errors.New("bad client secret: internal detail")
			}
			return id, nil
		},
		MaxBodySize: 1024,
	})
	send := func(method, body, client string, hdr map[string]string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/revoke", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if client != "" {
			r.SetBasicAuth(client, "s3cret")
		}
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	form := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v.Encode()
	}

	t.Run("errors", func(t *testing.T) {
		at, _, _ := e.m.Issue(ctx, "alice", IssueOptions{ClientID: "app"})
		cases := []struct {
			name, method, body, client string
			hdr                        map[string]string
			status                     int
			code                       string
		}{
			{"get", "GET", "", "app", nil, 405, "invalid_request"},
			{"json body", "POST", `{"token":"x"}`, "app", map[string]string{"Content-Type": "application/json"}, 400, "invalid_request"},
			{"no token", "POST", form("token_type_hint", "access_token"), "app", nil, 400, "invalid_request"},
			{"empty token", "POST", form("token", ""), "app", nil, 400, "invalid_request"},
			{"two tokens", "POST", form("token", string(at), "token", "x"), "app", nil, 400, "invalid_request"},
			{"two hints", "POST", form("token", string(at), "token_type_hint", "a", "token_type_hint", "b"), "app", nil, 400, "invalid_request"},
			{"oversized body", "POST", form("token", strings.Repeat("a", 2000)), "app", nil, 400, "invalid_request"},
			{"no client auth", "POST", form("token", string(at)), "", nil, 401, "invalid_client"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				w := send(c.method, c.body, c.client, c.hdr)
				if w.Code != c.status {
					t.Fatalf("status %d, want %d", w.Code, c.status)
				}
				if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Fatalf("Content-Type %q", ct)
				}
				if got := strings.TrimSpace(w.Body.String()); got != `{"error":"`+c.code+`"}` {
					t.Fatalf("body %q", got)
				}
				if c.status == 405 && w.Header().Get("Allow") != "POST" {
					t.Fatal("no Allow header")
				}
				if w.Header().Get("Cache-Control") != "no-store" {
					t.Fatal("no Cache-Control: no-store")
				}
			})
		}
		if _, err := e.m.Verify(ctx, at); err != nil {
			t.Fatalf("a refused request revoked the token: %v", err)
		}
		w := send("POST", form("token", string(at)), "", map[string]string{"Authorization": "Basic bm9wZTpub3Bl"})
		if w.Code != 401 || w.Header().Get("WWW-Authenticate") != "Basic" {
			t.Fatalf("failed Basic auth: %d, WWW-Authenticate %q", w.Code, w.Header().Get("WWW-Authenticate"))
		}
	})

	t.Run("access token", func(t *testing.T) {
		at, _, _ := e.m.Issue(ctx, "alice", IssueOptions{ClientID: "app"})
		// Another client: 200, token untouched.
		if w := send("POST", form("token", string(at)), "intruder", nil); w.Code != 200 || w.Body.Len() != 0 {
			t.Fatalf("other client: %d %q", w.Code, w.Body.String())
		}
		if _, err := e.m.Verify(ctx, at); err != nil {
			t.Fatalf("another client revoked the token: %v", err)
		}
		// An unknown hint is ignored.
		if w := send("POST", form("token", string(at), "token_type_hint", "weird"), "app", nil); w.Code != 200 {
			t.Fatalf("own client: %d", w.Code)
		}
		if _, err := e.m.Verify(ctx, at); !errors.Is(err, ErrNotFound) {
			t.Fatalf("revoked token verifies: %v", err)
		}
	})

	t.Run("refresh token revokes its family", func(t *testing.T) {
		p, _ := e.m.IssuePair(ctx, "alice", FamilyOptions{ClientID: "app"})
		next, err := e.m.RefreshPair(ctx, p.Refresh, "app")
		if err != nil {
			t.Fatal(err)
		}
		if w := send("POST", form("token", string(next.Refresh), "token_type_hint", "refresh_token"), "intruder", nil); w.Code != 200 {
			t.Fatalf("other client: %d", w.Code)
		}
		if _, err := e.m.Family(ctx, p.Family.ID); err != nil {
			t.Fatalf("another client revoked the family: %v", err)
		}
		if w := send("POST", form("token", string(next.Refresh), "token_type_hint", "access_token"), "app", nil); w.Code != 200 {
			t.Fatalf("own client: %d", w.Code)
		}
		if _, err := e.m.Family(ctx, p.Family.ID); !errors.Is(err, ErrRevoked) {
			t.Fatalf("family after revocation: %v", err)
		}
		for _, at := range []Token{p.Access, next.Access} {
			if _, err := e.m.Verify(ctx, at); !errors.Is(err, ErrNotFound) {
				t.Fatalf("access token of the revoked family: %v", err)
			}
		}
	})

	t.Run("unknown and foreign tokens", func(t *testing.T) {
		for _, tok := range []string{"nonsense", "eyJhbGciOiJIUzI1NiJ9.e30.c2ln", string(newToken(DefaultAccessPrefix, "")), string(forge(DefaultRefreshPrefix, strings.Repeat("q", locatorLen+secretLen)))} {
			if w := send("POST", form("token", tok), "app", nil); w.Code != 200 {
				t.Fatalf("unknown token %q: %d", tok, w.Code)
			}
		}
	})

	t.Run("store failure", func(t *testing.T) {
		m := New(failingStore{}, Config{Logger: slog.New(slog.DiscardHandler)})
		h := m.RevocationHandler(RevocationConfig{AuthenticateClient: func(*http.Request) (string, error) { return "", nil }})
		r := httptest.NewRequest("POST", "/revoke", strings.NewReader(form("token", string(newToken(DefaultAccessPrefix, "")))))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 503 || w.Header().Get("Retry-After") != "5" || strings.Contains(w.Body.String(), "down") {
			t.Fatalf("%d %q Retry-After %q", w.Code, w.Body.String(), w.Header().Get("Retry-After"))
		}
		// RetryAfter is a Duration, rounded up to whole seconds; an old
		// int of seconds (now nanoseconds) is refused at construction.
		h = m.RevocationHandler(RevocationConfig{AuthenticateClient: func(*http.Request) (string, error) { return "", nil }, RetryAfter: 1500 * time.Millisecond})
		w = httptest.NewRecorder()
		r = httptest.NewRequest("POST", "/revoke", strings.NewReader(form("token", string(newToken(DefaultAccessPrefix, "")))))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		h.ServeHTTP(w, r)
		if w.Code != 503 || w.Header().Get("Retry-After") != "2" {
			t.Fatalf("RetryAfter 1.5s: %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
		}
		defer func() {
			if recover() == nil {
				t.Fatal("RetryAfter of 5ns accepted")
			}
		}()
		m.RevocationHandler(RevocationConfig{AuthenticateClient: func(*http.Request) (string, error) { return "", nil }, RetryAfter: 5})
	})
}
