package jwt_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/jwt"
	"github.com/authkit/authkit/store"
)

// Issue a token and verify it.
func Example() {
	key, err := jwt.GenerateKey(jwt.EdDSA)
	if err != nil {
		log.Fatal(err)
	}
	keys, err := jwt.NewKeySet(key)
	if err != nil {
		log.Fatal(err)
	}
	issuer := jwt.NewIssuer(keys, jwt.IssuerConfig{
		Issuer:   "https://auth.example.com",
		Audience: []string{"https://api.example.com"},
	})
	revocations := store.NewMemory(store.MemoryConfig{})
	defer revocations.Close()
	verifier := jwt.NewVerifier(keys, jwt.Config{
		Issuer:   "https://auth.example.com",
		Audience: "https://api.example.com",
		Store:    revocations,
	})

	ctx := context.Background()
	issued, err := issuer.Issue(jwt.Grant{Subject: "user-42", Scopes: []string{"orders:read"}})
	if err != nil {
		log.Fatal(err)
	}
	claims, err := verifier.Verify(ctx, issued.Token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(claims.Subject, claims.Scopes)

	// Log out everywhere: every token issued to the subject so far stops
	// working.
	if err := verifier.RevokeSubject(ctx, "user-42"); err != nil {
		log.Fatal(err)
	}
	_, err = verifier.Verify(ctx, issued.Token)
	fmt.Println(errors.Is(err, jwt.ErrRevoked), errors.Is(err, authkit.ErrInvalidCredentials))
	// Output:
	// user-42 [orders:read]
	// true true
}

// Custom claims go in and come out as the caller's own type.
func ExampleIssueClaims() {
	type tenantClaims struct {
		Tenant string `json:"tenant"`
		Admin  bool   `json:"admin"`
	}
	key, _ := jwt.GenerateKey(jwt.HS256)
	keys, _ := jwt.NewKeySet(key)
	issuer := jwt.NewIssuer(keys, jwt.IssuerConfig{})
	verifier := jwt.NewVerifier(keys, jwt.Config{InsecureDisableRevocation: true})

	issued, err := jwt.IssueClaims(issuer, jwt.Grant{Subject: "user-7"}, tenantClaims{Tenant: "acme", Admin: true})
	if err != nil {
		log.Fatal(err)
	}
	claims, custom, err := jwt.VerifyClaims[tenantClaims](context.Background(), verifier, issued.Token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(claims.Subject, custom.Tenant, custom.Admin)
	// Output: user-7 acme true
}

// Protect handlers: the verifier is an authkit.Authenticator.
func ExampleVerifier_Authenticate() {
	key, _ := jwt.GenerateKey(jwt.ES256)
	keys, _ := jwt.NewKeySet(key)
	issuer := jwt.NewIssuer(keys, jwt.IssuerConfig{})
	verifier := jwt.NewVerifier(keys, jwt.Config{InsecureDisableRevocation: true})

	api := authkit.Require(verifier)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := authkit.IdentityFrom(r.Context())
		fmt.Fprintf(w, "hello %s (%s)", id.Subject, id.Method)
	}))

	issued, _ := issuer.Issue(jwt.Grant{Subject: "user-1"})
	for _, authz := range []string{"bearer " + issued.Token, "Bearer " + issued.Token + "x", ""} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/api", nil)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		api.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body.String())
	}
	// Output:
	// 200  hello user-1 (jwt)
	// 401 Bearer error="invalid_token" Unauthorized
	//
	// 401 Bearer Unauthorized
}

// Serve the public keys at /.well-known/jwks.json for other services.
func ExampleKeySet_JWKSHandler() {
	current, _ := jwt.GenerateKey(jwt.ES256)
	next, _ := jwt.GenerateKey(jwt.EdDSA)
	keys, _ := jwt.NewKeySet(current)
	// Publish the next key before signing with it.
	if err := keys.Add(next); err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("GET /.well-known/jwks.json", keys.JWKSHandler(0))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/.well-known/jwks.json")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Keys []struct{ Kty, Alg, Use string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Header.Get("Cache-Control"))
	for _, k := range doc.Keys {
		fmt.Println(k.Kty, k.Alg, k.Use)
	}
	// Output:
	// public, max-age=300
	// EC ES256 sig
	// OKP EdDSA sig
}

// Verify tokens of another issuer through its JWKS URL.
func ExampleRemoteKeySet() {
	// The other issuer, publishing its keys.
	theirKey, _ := jwt.GenerateKey(jwt.RS256)
	theirKeys, _ := jwt.NewKeySet(theirKey)
	them := httptest.NewServer(theirKeys.JWKSHandler(0))
	defer them.Close()
	theirIssuer := jwt.NewIssuer(theirKeys, jwt.IssuerConfig{Issuer: them.URL, Audience: []string{"https://partner-api.example"}})

	// This service. (A real JWKS URL must use https; plain http is allowed
	// on loopback for tests.)
	remote, err := jwt.NewRemoteKeySet(them.URL, jwt.RemoteConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer remote.Close()
	ctx := context.Background()
	if err := remote.Refresh(ctx); err != nil { // optional: fail fast at startup
		log.Fatal(err)
	}
	// Another issuer's keys may sign tokens for other services too: the
	// Verifier requires the issuer and this service's audience.
	verifier := jwt.NewVerifier(remote, jwt.Config{
		Issuer:                    them.URL,
		Audience:                  "https://partner-api.example",
		InsecureDisableRevocation: true,
	})

	issued, _ := theirIssuer.Issue(jwt.Grant{Subject: "partner-9"})
	claims, err := verifier.Verify(ctx, issued.Token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(claims.Subject, claims.KeyID == theirKey.ID())
	// Output: partner-9 true
}

// Load keys from the environment, and rotate.
func ExampleKeyFromEnv() {
	// Generated once and kept in a secret store, e.g.:
	//   openssl genpkey -algorithm ed25519   (PEM, for EdDSA)
	//   openssl rand -base64 32              (an HS256 secret)
	// Here a generated key stands in for the deployment's.
	k, _ := jwt.GenerateKey(jwt.EdDSA)
	pemText, _ := k.Export()
	os.Setenv("JWT_SIGNING_KEY", string(pemText))
	defer os.Unsetenv("JWT_SIGNING_KEY")

	current, err := jwt.KeyFromEnv(jwt.EdDSA, "JWT_SIGNING_KEY")
	if err != nil {
		log.Fatal(err)
	}
	keys, _ := jwt.NewKeySet(current)

	// Rotation: add the next key (it is published at once), later sign
	// with it, and retire the old key once its tokens have expired.
	next, _ := jwt.GenerateKey(jwt.EdDSA)
	_ = keys.Add(next)
	_ = keys.Rotate(next)
	fmt.Println(keys.SigningKey() == next, len(keys.Keys()))
	_ = keys.Retire(current.ID())
	fmt.Println(len(keys.Keys()))
	// Output:
	// true 2
	// 1
}
