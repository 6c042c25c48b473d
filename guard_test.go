package authkit_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authkit/authkit"
)

// fakeAuth claims bearer tokens starting with prefix; "bad" after the prefix is
// invalid, "down" makes it fail to decide.
type fakeAuth struct {
	prefix string
	calls  int
}

func (a *fakeAuth) Authenticate(r *http.Request) (*authkit.Identity, error) {
	a.calls++
	tok, err := authkit.BearerToken(r)
	if err != nil {
		return nil, err
	}
	rest, ok := strings.CutPrefix(tok, a.prefix)
	if !ok {
		return nil, authkit.ErrNoCredentials
	}
	switch rest {
	case "bad":
		return nil, fmt.Errorf("%w: secret detail xyzzy", authkit.ErrInvalidCredentials)
	case "down":
		return nil, errors.New("store unreachable: secret detail xyzzy")
	}
	return &authkit.Identity{Subject: rest, Method: a.prefix, Scopes: []string{"read"}}, nil
}

var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	id, found := authkit.IdentityFrom(r.Context())
	if !found {
		http.Error(w, "no identity", 500)
		return
	}
	fmt.Fprintf(w, "%s via %s", id.Subject, id.Method)
})

func quietGuard() *authkit.Guard {
	return &authkit.Guard{Realm: "test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func TestGuard(t *testing.T) {
	tests := []struct {
		name       string
		req        func() *http.Request
		guard      func(*authkit.Guard)
		status     int
		challenge  string // WWW-Authenticate, "" for none
		body       string
		retryAfter string
		calls      [2]int // calls to the first and second Authenticator
	}{
		{
			name:      "nothing sent",
			req:       func() *http.Request { return httptest.NewRequest("GET", "/", nil) },
			status:    401,
			challenge: `Bearer realm="test"`,
			calls:     [2]int{1, 1},
		},
		{
			name:   "first authenticator claims",
			req:    bearer("Bearer a.alice"),
			status: 200, body: "alice via a.",
			calls: [2]int{1, 0},
		},
		{
			name:   "second authenticator claims",
			req:    bearer("Bearer b.bob"),
			status: 200, body: "bob via b.",
			calls: [2]int{1, 1},
		},
		{
			name:   "lower-case scheme",
			req:    bearer("bearer b.bob"),
			status: 200, body: "bob via b.",
			calls: [2]int{1, 1},
		},
		{
			name:      "invalid credentials stop the chain",
			req:       bearer("Bearer a.bad"),
			status:    401,
			challenge: `Bearer realm="test", error="invalid_token"`,
			calls:     [2]int{1, 0},
		},
		{
			name:      "token no authenticator claims",
			req:       bearer("Bearer c.carol"),
			status:    401,
			challenge: `Bearer realm="test", error="invalid_token"`,
			calls:     [2]int{1, 1},
		},
		{
			name:       "outage is 503 and does not fall through",
			req:        bearer("Bearer a.down"),
			status:     503,
			retryAfter: "5",
			calls:      [2]int{1, 0},
		},
		{
			name:       "custom Retry-After rounds up",
			req:        bearer("Bearer a.down"),
			guard:      func(g *authkit.Guard) { g.RetryAfter = 1500 * time.Millisecond },
			status:     503,
			retryAfter: "2",
			calls:      [2]int{1, 0},
		},
		{
			name:      "other scheme is no bearer token",
			req:       bearer("Basic dXNlcjpwYXNz"),
			status:    401,
			challenge: `Bearer realm="test"`,
			calls:     [2]int{1, 1},
		},
		{
			name:      "malformed bearer header",
			req:       bearer("Bearer a.alice extra"),
			status:    400,
			challenge: `Bearer realm="test", error="invalid_request"`,
		},
		{
			name:      "empty bearer header",
			req:       bearer("Bearer"),
			status:    400,
			challenge: `Bearer realm="test", error="invalid_request"`,
		},
		{
			name: "two Authorization headers",
			req: func() *http.Request {
				r := httptest.NewRequest("GET", "/", nil)
				r.Header.Add("Authorization", "Bearer a.alice")
				r.Header.Add("Authorization", "Bearer a.alice")
				return r
			},
			status:    400,
			challenge: `Bearer realm="test", error="invalid_request"`,
		},
		{
			name:      "query token ignored by default",
			req:       func() *http.Request { return httptest.NewRequest("GET", "/?access_token=a.alice", nil) },
			status:    401,
			challenge: `Bearer realm="test"`,
			calls:     [2]int{1, 1},
		},
		{
			name:   "query token when opted in",
			req:    func() *http.Request { return httptest.NewRequest("GET", "/?access_token=a.alice", nil) },
			guard:  func(g *authkit.Guard) { g.InsecureAllowQueryToken = true },
			status: 200, body: "alice via a.",
			calls: [2]int{1, 0},
		},
		{
			name: "header and query is invalid_request",
			req: func() *http.Request {
				r := httptest.NewRequest("GET", "/?access_token=a.alice", nil)
				r.Header.Set("Authorization", "Bearer a.alice")
				return r
			},
			guard:     func(g *authkit.Guard) { g.InsecureAllowQueryToken = true },
			status:    400,
			challenge: `Bearer realm="test", error="invalid_request"`,
		},
		{
			name:   "form token when opted in",
			req:    form("access_token=b.bob", ""),
			guard:  func(g *authkit.Guard) { g.InsecureAllowFormToken = true },
			status: 200, body: "bob via b.",
			calls: [2]int{1, 1},
		},
		{
			name:      "form token ignored by default",
			req:       form("access_token=b.bob", ""),
			status:    401,
			challenge: `Bearer realm="test"`,
			calls:     [2]int{1, 1},
		},
		{
			name:      "header and form is invalid_request",
			req:       form("access_token=b.bob", "Bearer b.bob"),
			guard:     func(g *authkit.Guard) { g.InsecureAllowFormToken = true },
			status:    400,
			challenge: `Bearer realm="test", error="invalid_request"`,
		},
		{
			name:      "repeated form token is invalid_request",
			req:       form("access_token=b.bob&access_token=b.bob", ""),
			guard:     func(g *authkit.Guard) { g.InsecureAllowFormToken = true },
			status:    400,
			challenge: `Bearer realm="test", error="invalid_request"`,
		},
		{
			name: "unauthenticated handler for browsers",
			req:  func() *http.Request { return httptest.NewRequest("GET", "/", nil) },
			guard: func(g *authkit.Guard) {
				g.Unauthenticated = http.RedirectHandler("/login", http.StatusSeeOther)
			},
			status: 303,
			calls:  [2]int{1, 1},
		},
		{
			name: "API clients with a bad token get 401 even with an unauthenticated handler",
			req:  bearer("Bearer a.bad"),
			guard: func(g *authkit.Guard) {
				g.Unauthenticated = http.RedirectHandler("/login", http.StatusSeeOther)
			},
			status:    401,
			challenge: `Bearer realm="test", error="invalid_token"`,
			calls:     [2]int{1, 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := &fakeAuth{prefix: "a."}, &fakeAuth{prefix: "b."}
			g := quietGuard()
			if tt.guard != nil {
				tt.guard(g)
			}
			rec := httptest.NewRecorder()
			g.Require(a, b)(ok).ServeHTTP(rec, tt.req())
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d (body %q)", rec.Code, tt.status, rec.Body)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.challenge)
			}
			if got := rec.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			if tt.body != "" && rec.Body.String() != tt.body {
				t.Errorf("body = %q, want %q", rec.Body, tt.body)
			}
			if strings.Contains(rec.Body.String(), "xyzzy") {
				t.Errorf("library error text leaked into the body: %q", rec.Body)
			}
			if got := [2]int{a.calls, b.calls}; got != tt.calls {
				t.Errorf("authenticator calls = %v, want %v", got, tt.calls)
			}
		})
	}
}

func bearer(h string) func() *http.Request {
	return func() *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", h)
		return r
	}
}

func form(body, auth string) func() *http.Request {
	return func() *http.Request {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		return r
	}
}

func TestGuardLogsOutage(t *testing.T) {
	var logs strings.Builder
	g := &authkit.Guard{Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	rec := httptest.NewRecorder()
	g.Require(&fakeAuth{prefix: "a."})(ok).ServeHTTP(rec, bearer("Bearer a.down")())
	if rec.Code != 503 || !strings.Contains(logs.String(), "store unreachable") {
		t.Fatalf("status %d, log %q: want 503 and the cause logged", rec.Code, logs.String())
	}
}

func TestGuardNilIdentityIs503(t *testing.T) {
	nilAuth := authkit.AuthenticatorFunc(func(*http.Request) (*authkit.Identity, error) { return nil, nil })
	rec := httptest.NewRecorder()
	quietGuard().Require(nilAuth)(ok).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 503 {
		t.Fatalf("status = %d, want 503", rec.Code)
	}
}

func TestRequirePanicsWithoutAuthenticators(t *testing.T) {
	for name, f := range map[string]func(){
		"none": func() { authkit.Require() },
		"nil":  func() { authkit.Require(nil) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			f()
		})
	}
}

func TestRequireScope(t *testing.T) {
	a := &fakeAuth{prefix: "a."}
	g := quietGuard()
	h := g.Require(a)(g.RequireScope("read", "write")(ok))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, bearer("Bearer a.alice")())
	want := `Bearer realm="test", error="insufficient_scope", scope="read write"`
	if rec.Code != 403 || rec.Header().Get("WWW-Authenticate") != want {
		t.Fatalf("got %d %q, want 403 %q", rec.Code, rec.Header().Get("WWW-Authenticate"), want)
	}
	rec = httptest.NewRecorder()
	g.Require(a)(g.RequireScope("read")(ok)).ServeHTTP(rec, bearer("Bearer a.alice")())
	if rec.Code != 200 {
		t.Fatalf("status = %d with the scope held", rec.Code)
	}
	rec = httptest.NewRecorder()
	authkit.RequireScope("read")(ok).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 401 {
		t.Fatalf("RequireScope without an identity: status = %d, want 401", rec.Code)
	}
}

func TestRealmIsQuoted(t *testing.T) {
	g := &authkit.Guard{Realm: "a \"b\" \\ c\r\n"}
	rec := httptest.NewRecorder()
	g.Require(&fakeAuth{prefix: "a."})(ok).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if got, want := rec.Header().Get("WWW-Authenticate"), `Bearer realm="a \"b\" \\ c"`; got != want {
		t.Fatalf("WWW-Authenticate = %q, want %q", got, want)
	}
}

func TestBearerTokenOutsideGuard(t *testing.T) {
	r := bearer("BEARER abc.def-_~+/==")()
	if tok, err := authkit.BearerToken(r); err != nil || tok != "abc.def-_~+/==" {
		t.Fatalf("BearerToken = %q, %v", tok, err)
	}
	for _, h := range []string{"Bearer a=b", "Bearer =", "Bearer a b", "Bearer é", "Bearer\ta"} {
		if _, err := authkit.BearerToken(bearer(h)()); !errors.Is(err, authkit.ErrInvalidRequest) {
			t.Errorf("%q: err = %v, want ErrInvalidRequest", h, err)
		}
	}
	if _, err := authkit.BearerToken(httptest.NewRequest("GET", "/", nil)); !errors.Is(err, authkit.ErrNoCredentials) {
		t.Fatalf("no header: err = %v", err)
	}
}

type revoker struct {
	got []string
	err error
}

func (r *revoker) RevokeSubject(_ context.Context, s string) error {
	r.got = append(r.got, s)
	return r.err
}

func TestRevokeSubjectCallsAll(t *testing.T) {
	boom := errors.New("boom")
	a, b, c := &revoker{}, &revoker{err: boom}, &revoker{}
	err := authkit.RevokeSubject(context.Background(), "u1", a, b, c)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	for i, r := range []*revoker{a, b, c} {
		if len(r.got) != 1 || r.got[0] != "u1" {
			t.Errorf("revoker %d got %v", i, r.got)
		}
	}
	if err := authkit.RevokeSubject(context.Background(), "u1", a); err != nil {
		t.Fatal(err)
	}
}

func TestWithIdentity(t *testing.T) {
	ctx := authkit.WithIdentity(context.Background(), &authkit.Identity{Subject: "s"})
	if id, ok := authkit.IdentityFrom(ctx); !ok || id.Subject != "s" {
		t.Fatal("identity not found")
	}
	if _, ok := authkit.IdentityFrom(context.Background()); ok {
		t.Fatal("identity in an empty context")
	}
}

func FuzzBearerHeader(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer a.b.c", "Basic x", "Bearer", "Bearer  x==", "Bearer a=b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["Authorization"] = []string{h}
		tok, err := authkit.BearerToken(r)
		switch {
		case err == nil:
			if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
				t.Fatalf("accepted token %q from %q", tok, h)
			}
		case errors.Is(err, authkit.ErrNoCredentials), errors.Is(err, authkit.ErrInvalidRequest):
		default:
			t.Fatalf("unexpected error %v", err)
		}
		// The Guard never panics and answers one of the documented statuses.
		rec := httptest.NewRecorder()
		g := quietGuard()
		g.InsecureAllowQueryToken = true
		r2 := httptest.NewRequest("GET", "/?access_token="+url.QueryEscape(h), nil)
		r2.Header["Authorization"] = []string{h}
		g.Require(&fakeAuth{prefix: "a."})(ok).ServeHTTP(rec, r2)
		switch rec.Code {
		case 200, 400, 401, 503:
		default:
			t.Fatalf("status %d", rec.Code)
		}
	})
}

func TestGuardQuietWhenClientGone(t *testing.T) {
	var logs strings.Builder
	g := &authkit.Guard{Logger: slog.New(slog.NewTextHandler(&logs, nil))} // Info and above
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	gone := authkit.AuthenticatorFunc(func(r *http.Request) (*authkit.Identity, error) {
		return nil, r.Context().Err() // what a store call returns for a cancelled request
	})
	rec := httptest.NewRecorder()
	g.Require(gone)(ok).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil).WithContext(ctx))
	if rec.Code != 503 || logs.Len() != 0 {
		t.Fatalf("status %d, log %q: want 503 and nothing logged at Info or above", rec.Code, logs.String())
	}
}

func TestLogEventsNilLogger(t *testing.T) {
	authkit.LogEvents(nil)(context.Background(), authkit.Event{Type: authkit.EventLogin}) // must not panic
}
