package jwtpair_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/jwt"
	"github.com/authkit/authkit/jwtpair"
	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/token"
)

// An access JWT kept in memory by the client, and a rotating refresh token
// in an HttpOnly, Secure, SameSite=Strict cookie scoped to the refresh
// endpoint.
func Example() {
	st := store.NewMemory(store.MemoryConfig{})
	defer st.Close()
	key, _ := jwt.GenerateKey(jwt.ES256)
	keys, _ := jwt.NewKeySet(key)
	// The issuer names itself and the API the tokens are for; the verifier
	// checks both.
	issuer := jwt.NewIssuer(keys, jwt.IssuerConfig{Issuer: "https://app.example", Audience: []string{"https://app.example/api"}})
	verifier := jwt.NewVerifier(keys, jwt.Config{Issuer: "https://app.example", Audience: "https://app.example/api", Store: st})
	tokens := token.New(st, token.Config{})
	// New connects them: revoking a refresh family (reuse, logout,
	// RevokeSubject) revokes its JWTs too.
	pairs := jwtpair.New(issuer, verifier, tokens, jwtpair.Config{}) // cookie __Secure-refresh, Path=/auth/refresh

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// ... check the user's password first ...
		pair, err := pairs.Issue(r.Context(), "user-1", token.FamilyOptions{Scopes: []string{"profile"}})
		if err != nil {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		_ = pairs.WriteResponse(w, pair)
	})
	mux.Handle(jwtpair.DefaultRefreshPath, pairs.Handler()) // POST: refresh, DELETE: log out
	mux.Handle("GET /api/me", authkit.Require(verifier)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := authkit.IdentityFrom(r.Context())
		fmt.Fprint(w, id.Subject)
	})))
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()

	// The browser: a cookie jar for the refresh cookie, the access token in
	// a variable.
	client := srv.Client()
	client.Jar, _ = cookiejar.New(nil)
	var accessToken string
	call := func(method, path string) int {
		req, _ := http.NewRequestWithContext(context.Background(), method, srv.URL+path, nil)
		if accessToken != "" {
			req.Header.Set("Authorization", "Bearer "+accessToken)
		}
		resp, err := client.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		if sc := resp.Header.Get("Set-Cookie"); sc != "" {
			// Everything but the value.
			fmt.Println("  Set-Cookie:", strings.SplitN(sc, "=", 2)[0]+"=…;"+strings.SplitN(sc, ";", 2)[1])
		}
		var body struct {
			AccessToken string `json:"access_token"`
		}
		if json.NewDecoder(resp.Body).Decode(&body) == nil && body.AccessToken != "" {
			accessToken = body.AccessToken
		}
		return resp.StatusCode
	}

	fmt.Println("login:", call("POST", "/login"))
	fmt.Println("api:", call("GET", "/api/me"))
	accessToken = "" // a page reload loses the in-memory token...
	fmt.Println("refresh:", call("POST", jwtpair.DefaultRefreshPath))
	fmt.Println("api:", call("GET", "/api/me")) // ...and the refresh cookie restores it
	fmt.Println("logout:", call("DELETE", jwtpair.DefaultRefreshPath))
	fmt.Println("api:", call("GET", "/api/me")) // the JWT of the ended family is revoked
	accessToken = ""
	fmt.Println("refresh:", call("POST", jwtpair.DefaultRefreshPath))
	// Output:
	// Set-Cookie: __Secure-refresh=…; Path=/auth/refresh; Max-Age=1209600; Secure; HttpOnly; SameSite=Strict
	// login: 200
	// api: 200
	//   Set-Cookie: __Secure-refresh=…; Path=/auth/refresh; Max-Age=1209600; Secure; HttpOnly; SameSite=Strict
	// refresh: 200
	// api: 200
	//   Set-Cookie: __Secure-refresh=…; Path=/auth/refresh; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; SameSite=Strict
	// logout: 204
	// api: 401
	//   Set-Cookie: __Secure-refresh=…; Path=/auth/refresh; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; SameSite=Strict
	// refresh: 400
}
