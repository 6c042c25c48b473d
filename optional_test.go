package authkit_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/authkit/authkit"
)

// cookieAuth stands for a session manager: it reads the "sid" cookie, which
// is "stale" (refused), "down" (store unreachable) or a subject.
var cookieAuth = authkit.AuthenticatorFunc(func(r *http.Request) (*authkit.Identity, error) {
	c, err := r.Cookie("sid")
	if err != nil {
		return nil, authkit.ErrNoCredentials
	}
	switch c.Value {
	case "stale":
		return nil, fmt.Errorf("%w: session unknown", authkit.ErrInvalidCredentials)
	case "down":
		return nil, errors.New("store unreachable")
	}
	return &authkit.Identity{Subject: c.Value, Method: authkit.MethodSession}, nil
})

var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if id, ok := authkit.IdentityFrom(r.Context()); ok {
		fmt.Fprintf(w, "hello %s", id.Subject)
		return
	}
	fmt.Fprint(w, "hello stranger")
})

func TestStaleCookieIsNotAnInvalidBearerToken(t *testing.T) {
	h := quietGuard().Require(cookieAuth, &fakeAuth{prefix: "a."})(whoami)
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: "sid", Value: "stale"})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 401 || w.Header().Get("WWW-Authenticate") != `Bearer realm="test"` {
		t.Fatalf("stale cookie, no bearer token: %d %q; want 401 without an error code (RFC 6750 §3.1)", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	// With an Unauthenticated handler (a login redirect), that handler answers.
	g := quietGuard()
	g.Unauthenticated = http.RedirectHandler("/login", http.StatusSeeOther)
	w = httptest.NewRecorder()
	g.Require(cookieAuth)(whoami).ServeHTTP(w, r)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("stale cookie with Unauthenticated set: %d, want the redirect", w.Code)
	}
}

func TestOptional(t *testing.T) {
	h := quietGuard().Optional(cookieAuth, &fakeAuth{prefix: "a."})(whoami)
	for _, tc := range []struct {
		name, cookie, bearer string
		status               int
		body, challenge      string
	}{
		{"nothing sent", "", "", 200, "hello stranger", ""},
		{"signed in by cookie", "alice", "", 200, "hello alice", ""},
		{"signed in by token", "", "a.bob", 200, "hello bob", ""},
		{"stale cookie", "stale", "", 200, "hello stranger", ""},
		{"refused bearer token", "", "a.bad", 401, "", `Bearer realm="test", error="invalid_token"`},
		{"unclaimed bearer token", "", "zz.carol", 401, "", `Bearer realm="test", error="invalid_token"`},
		{"store down", "down", "", 503, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tc.cookie != "" {
				r.AddCookie(&http.Cookie{Name: "sid", Value: tc.cookie})
			}
			if tc.bearer != "" {
				r.Header.Set("Authorization", "Bearer "+tc.bearer)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status || w.Header().Get("WWW-Authenticate") != tc.challenge {
				t.Fatalf("%d %q, want %d %q", w.Code, w.Header().Get("WWW-Authenticate"), tc.status, tc.challenge)
			}
			if tc.body != "" && w.Body.String() != tc.body {
				t.Fatalf("body %q, want %q", w.Body, tc.body)
			}
			if tc.status == 503 && w.Header().Get("Retry-After") == "" {
				t.Fatal("503 without Retry-After")
			}
		})
	}
}
