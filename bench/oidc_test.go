package bench

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	zrp "github.com/zitadel/oidc/v3/pkg/client/rp"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/authkit/authkit/oidc"
	"github.com/authkit/authkit/oidc/oidctest"
	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store"
)

// ID token verification by a relying party: authkit's oidc package against
// zitadel/oidc's relying-party verifier (an OpenID-certified library), on
// the same token from the same in-process provider, keys fetched once from
// its JWKS before the timer starts.
//
// The token: iss, sub, aud, azp, exp (1 h), iat, auth_time, nonce, sid,
// email, email_verified, name, at_hash; header alg, kid, typ "JWT".
//   - authkit: RelyingParty.VerifyIDToken with the nonce — the jwt package's
//     strict verifier (first sight: it keeps no cache for ID tokens; one
//     read of the memory store for revocation) plus audience, azp, nonce and
//     sid checks, and every claim decoded into IDToken.Claims.
//   - zitadel: rp.VerifyIDToken[*oidc.IDTokenClaims] with WithNonce and
//     WithSupportedSigningAlgorithms(alg): signature, iss, aud, azp, exp,
//     iat, nonce, acr and auth_time checks.
func BenchmarkOIDCVerifyIDToken(b *testing.B) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		idp := oidctest.NewServer(oidctest.Config{Algorithm: alg})
		b.Cleanup(idp.Close)
		const clientID, nonce = "app", "n-0123456789abcdefghijklmnopqrstu"
		now := time.Now()
		tok, err := idp.Sign(map[string]any{"typ": "JWT"}, map[string]any{
			"iss": idp.Issuer(), "sub": "248289761001", "aud": clientID, "azp": clientID, "nonce": nonce,
			"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "auth_time": now.Unix(),
			"sid": "provider-session-1", "email": "jane@corp.example", "email_verified": true, "name": "Jane Doe",
			"at_hash": "Gsk_skNKn1WN7Zrlv-9uHA",
		})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()

		mem := store.NewMemory(store.MemoryConfig{})
		b.Cleanup(func() { mem.Close() })
		rp := oidc.New(session.New(mem, session.Config{}), mem, oidc.Config{Providers: []oidc.Provider{{
			Name: "idp", Issuer: idp.Issuer(), ClientID: clientID, ClientSecret: "s", RedirectURL: "https://app.example/cb",
		}}})
		b.Cleanup(func() { rp.Close() })
		if _, err := rp.VerifyIDToken(ctx, "idp", tok, nonce); err != nil {
			b.Fatal(err)
		}

		keys := zrp.NewRemoteKeySet(http.DefaultClient, idp.URL+"/keys")
		zv := zrp.NewIDTokenVerifier(idp.Issuer(), clientID, keys,
			zrp.WithNonce(func(context.Context) string { return nonce }),
			zrp.WithSupportedSigningAlgorithms(alg))
		if _, err := zrp.VerifyIDToken[*zoidc.IDTokenClaims](ctx, tok, zv); err != nil {
			b.Fatal(err)
		}

		b.Run(fmt.Sprintf("alg=%s/impl=authkit", alg), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rp.VerifyIDToken(ctx, "idp", tok, nonce); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("alg=%s/impl=zitadel", alg), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := zrp.VerifyIDToken[*zoidc.IDTokenClaims](ctx, tok, zv); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
