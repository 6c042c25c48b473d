package authkit_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/authkit/authkit"
)

// A toy Authenticator that accepts the bearer token "let-me-in". Real
// applications use session.Manager, token.Manager and jwt.Verifier.
var demoTokens = authkit.AuthenticatorFunc(func(r *http.Request) (*authkit.Identity, error) {
	tok, err := authkit.BearerToken(r)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(tok, "demo_") {
		return nil, authkit.ErrNoCredentials // not ours: let the next Authenticator try
	}
	if tok != "demo_let-me-in" {
		return nil, authkit.ErrInvalidCredentials
	}
	return &authkit.Identity{Subject: "alice", Method: "token", Scopes: []string{"read"}}, nil
})

func ExampleRequire() {
	me := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := authkit.IdentityFrom(r.Context())
		fmt.Fprintf(w, "hello %s (%s)", id.Subject, id.Method)
	})
	guard := &authkit.Guard{Realm: "example"}
	mux := http.NewServeMux()
	mux.Handle("GET /me", guard.Require(demoTokens)(me))

	for _, auth := range []string{"", "Bearer demo_let-me-in", "Bearer demo_wrong"} {
		r := httptest.NewRequest("GET", "/me", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"), strings.TrimSpace(w.Body.String()))
	}
	// Output:
	// 401 Bearer realm="example" Unauthorized
	// 200  hello alice (token)
	// 401 Bearer realm="example", error="invalid_token" Unauthorized
}

func ExampleGuard_RequireScope() {
	guard := &authkit.Guard{Realm: "example"}
	write := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "written") })
	h := guard.Require(demoTokens)(guard.RequireScope("write")(write))

	r := httptest.NewRequest("POST", "/doc", nil)
	r.Header.Set("Authorization", "Bearer demo_let-me-in")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	// Output:
	// 403 Bearer realm="example", error="insufficient_scope", scope="write"
}

// A page that greets signed-in visitors by name and everyone else as a
// guest, behind Optional.
func ExampleOptional() {
	home := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := authkit.IdentityFrom(r.Context()); ok {
			fmt.Fprintf(w, "welcome back, %s", id.Subject)
			return
		}
		fmt.Fprint(w, "welcome, guest")
	})
	h := authkit.Optional(demoTokens)(home)

	for _, auth := range []string{"", "Bearer demo_let-me-in", "Bearer demo_wrong"} {
		r := httptest.NewRequest("GET", "/", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Body.String())
	}
	// Output:
	// 200 welcome, guest
	// 200 welcome back, alice
	// 401 Unauthorized
}
