package keyring_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/authkit/authkit/jwt"
	"github.com/authkit/authkit/keyring"
	"github.com/authkit/authkit/store"
)

// Two servers of one fleet share a store. The keys the first creates are the
// second's too: a cookie sealed by one opens on the other, a JWT signed by
// one verifies on the other.
func Example() {
	ctx := context.Background()
	st := store.NewMemory(store.MemoryConfig{}) // in production, a Redis or SQL store
	defer st.Close()
	// The key-encryption key is the same on every server; in production:
	// keks, err := keyring.KEKsFromEnv("AUTHKIT_KEK")
	keks, err := keyring.ParseKEKs(keyring.GenerateKEK())
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := keyring.Config{KEKs: keks, Logger: slog.New(slog.DiscardHandler)}
	type server struct {
		cookies *keyring.Keyring
		issuer  *jwt.Issuer
		verify  *jwt.Verifier
	}
	var servers [2]server
	for i := range servers {
		kr, err := keyring.New(st, cfg)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer kr.Close()
		keys, err := kr.KeySet(ctx, jwt.EdDSA, keyring.Schedule{MaxLifetime: time.Hour})
		if err != nil {
			fmt.Println(err)
			return
		}
		servers[i] = server{
			cookies: kr,
			issuer:  jwt.NewIssuer(keys, jwt.IssuerConfig{Issuer: "https://auth.example", Lifetime: 15 * time.Minute}),
			verify:  jwt.NewVerifier(keys, jwt.Config{Issuer: "https://auth.example", Store: st}),
		}
	}
	a, err := servers[0].cookies.Codec(ctx, keyring.CookieSeal, keyring.Schedule{MaxLifetime: 24 * time.Hour})
	if err != nil {
		fmt.Println(err)
		return
	}
	b, err := servers[1].cookies.Codec(ctx, keyring.CookieSeal, keyring.Schedule{MaxLifetime: 24 * time.Hour})
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := a.SealString("__Host-state", "return=/account", time.Hour)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(b.OpenString("__Host-state", v))

	tok, err := servers[0].issuer.Issue(jwt.Grant{Subject: "alice"})
	if err != nil {
		fmt.Println(err)
		return
	}
	claims, err := servers[1].verify.Verify(ctx, tok.Token)
	fmt.Println(claims.Subject, err)

	for _, k := range servers[1].cookies.Keys() {
		fmt.Println(k.Purpose, k.State, k.Early)
	}
	// Output:
	// return=/account <nil>
	// alice <nil>
	// cookie-seal signing true
	// jwt-EdDSA signing true
}

// In an incident: Rotate publishes a new key that signs after the prepublish
// time; Revoke ends a key at once, and a revoked signing key is replaced by
// one that signs at once.
func ExampleKeyring_Revoke() {
	ctx := context.Background()
	st := store.NewMemory(store.MemoryConfig{})
	defer st.Close()
	keks, err := keyring.ParseKEKs(keyring.GenerateKEK())
	if err != nil {
		fmt.Println(err)
		return
	}
	kr, err := keyring.New(st, keyring.Config{KEKs: keks, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer kr.Close()
	if _, err := kr.Codec(ctx, keyring.CookieSign, keyring.Schedule{}); err != nil {
		fmt.Println(err)
		return
	}
	next, err := kr.Rotate(ctx, keyring.CookieSign)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("rotated:", next.State, next.Activates.Sub(next.Created))
	var signing string
	for _, k := range kr.Keys() {
		if k.State == keyring.StateSigning {
			signing = k.ID
		}
	}
	if err := kr.Revoke(ctx, keyring.CookieSign, signing); err != nil {
		fmt.Println(err)
		return
	}
	for _, k := range kr.Keys() {
		fmt.Println(k.State, k.Early)
	}
	// Output:
	// rotated: published 1h0m0s
	// revoked true
	// signing true
	// published false
}
