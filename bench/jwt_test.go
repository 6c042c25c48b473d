package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"sync"
	"testing"
	"time"

	gjwt "github.com/golang-jwt/jwt/v5"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
	xjwt "github.com/lestrrat-go/jwx/v3/jwt"

	akjwt "github.com/authkit/authkit/jwt"
)

// JWT benchmarks: sign and verify with HS256, ES256, EdDSA (Ed25519) and
// RS256 (2048-bit), the same key material on every side. (PS256 has a
// fixture too, for the standard-library floor in floor_test.go.)
//
// Every side verifies the same tokens, issued by authkit's Issuer: header
// {alg, kid, typ "at+jwt"}, claims iss, aud, sub, exp (1 h), iat, jti,
// scope. The checks are the same: algorithm pinned to the key, issuer,
// audience, exp required and in the future, iat not in the future, 30 s
// leeway.
//   - authkit: jwt.NewVerifier(keySet, Config{Issuer, Audience, Leeway,
//     InsecureDisableRevocation: true}); it also checks typ, sub and exp - iat,
//     refuses non-canonical base64 and duplicate JSON names, and caches
//     verified tokens (default CacheSize).
//   - golang-jwt: jwt.NewParser(WithValidMethods([alg]), WithIssuer,
//     WithAudience, WithExpirationRequired, WithIssuedAt, WithLeeway) and
//     ParseWithClaims into RegisteredClaims plus a scope field.
//   - jwx: raw jwx v3 jwt.Parse with WithKey(alg, key), WithIssuer,
//     WithAudience, WithRequiredClaim("exp"), WithAcceptableSkew (validation
//     is on by default).
//
// mode=first-seen verifies a different token on every iteration, from a
// pool of distinct pre-issued tokens; authkit's cache is on, so its figure
// includes the cache insert (a fresh Verifier, with an empty cache, is made
// whenever the pool wraps, outside the timer). mode=cached verifies one
// token again and again: authkit answers from its verified-token cache
// (rechecking exp and nbf); the peers have no cache and verify in full.
//
// Signing builds the same claims on every side, with a random jti, and the
// same header.

const (
	jwtIssuer   = "https://issuer.example"
	jwtAudience = "api.example"
	jwtLeeway   = 30 * time.Second
	jwtTTL      = time.Hour
)

var jwtAlgs = []akjwt.Algorithm{akjwt.HS256, akjwt.ES256, akjwt.EdDSA, akjwt.RS256}

// jwtFixture is one algorithm's key material in every side's form, and a
// pool of distinct tokens issued by authkit.
type jwtFixture struct {
	alg          akjwt.Algorithm
	keys         *akjwt.KeySet
	kid          string
	sign, verify any // raw private (or HMAC secret) and public keys
	gjMethod     gjwt.SigningMethod
	jwxAlg       jwa.SignatureAlgorithm
	pool         []string
}

var (
	jwtFixturesMu sync.Mutex
	jwtFixtures   = map[akjwt.Algorithm]*jwtFixture{}
)

// poolSize keeps the pool's generation short: a few seconds at most.
func poolSize(alg akjwt.Algorithm) int {
	switch alg {
	case akjwt.HS256:
		return 8192
	case akjwt.RS256, akjwt.PS256:
		return 256
	default:
		return 2048
	}
}

func getJWTFixture(tb testing.TB, alg akjwt.Algorithm) *jwtFixture {
	tb.Helper()
	jwtFixturesMu.Lock()
	defer jwtFixturesMu.Unlock()
	if f, ok := jwtFixtures[alg]; ok {
		return f
	}
	f := &jwtFixture{alg: alg}
	var material any
	switch alg {
	case akjwt.HS256:
		secret := randomBytes(32)
		material, f.sign, f.verify = secret, secret, secret
		f.gjMethod, f.jwxAlg = gjwt.SigningMethodHS256, jwa.HS256()
	case akjwt.ES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		material, f.sign, f.verify = k, k, &k.PublicKey
		f.gjMethod, f.jwxAlg = gjwt.SigningMethodES256, jwa.ES256()
	case akjwt.EdDSA:
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		material, f.sign, f.verify = priv, priv, pub
		f.gjMethod, f.jwxAlg = gjwt.SigningMethodEdDSA, jwa.EdDSA()
	case akjwt.RS256, akjwt.PS256:
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			tb.Fatal(err)
		}
		material, f.sign, f.verify = k, k, &k.PublicKey
		f.gjMethod, f.jwxAlg = gjwt.SigningMethodRS256, jwa.RS256()
		if alg == akjwt.PS256 {
			f.gjMethod, f.jwxAlg = gjwt.SigningMethodPS256, jwa.PS256()
		}
	}
	key, err := akjwt.NewKey(alg, material)
	if err != nil {
		tb.Fatal(err)
	}
	f.kid = key.ID()
	if f.keys, err = akjwt.NewKeySet(key); err != nil {
		tb.Fatal(err)
	}
	iss := akjwt.NewIssuer(f.keys, akjwt.IssuerConfig{Issuer: jwtIssuer, Audience: []string{jwtAudience}, Lifetime: jwtTTL})
	f.pool = make([]string, poolSize(alg))
	for i := range f.pool {
		is, err := iss.Issue(jwtGrant)
		if err != nil {
			tb.Fatal(err)
		}
		f.pool[i] = is.Token
	}
	jwtFixtures[alg] = f
	return f
}

var jwtGrant = akjwt.Grant{Subject: "user-1", Scopes: []string{"read", "write"}}

func (f *jwtFixture) authkitVerifier() *akjwt.Verifier {
	return akjwt.NewVerifier(f.keys, akjwt.Config{
		Issuer:                    jwtIssuer,
		Audience:                  jwtAudience,
		Leeway:                    jwtLeeway,
		InsecureDisableRevocation: true,
	})
}

// gjClaims is what golang-jwt decodes: the registered claims and scope.
type gjClaims struct {
	Scope string `json:"scope,omitempty"`
	gjwt.RegisteredClaims
}

func (f *jwtFixture) gjParser() (*gjwt.Parser, gjwt.Keyfunc) {
	p := gjwt.NewParser(
		gjwt.WithValidMethods([]string{f.gjMethod.Alg()}),
		gjwt.WithIssuer(jwtIssuer),
		gjwt.WithAudience(jwtAudience),
		gjwt.WithExpirationRequired(),
		gjwt.WithIssuedAt(),
		gjwt.WithLeeway(jwtLeeway),
	)
	verify := f.verify
	return p, func(*gjwt.Token) (any, error) { return verify, nil }
}

func (f *jwtFixture) jwxParseOptions() []xjwt.ParseOption {
	return []xjwt.ParseOption{
		xjwt.WithKey(f.jwxAlg, f.verify),
		xjwt.WithIssuer(jwtIssuer),
		xjwt.WithAudience(jwtAudience),
		xjwt.WithRequiredClaim("exp"),
		xjwt.WithAcceptableSkew(jwtLeeway),
	}
}

func randomJTI() string { return base64.RawURLEncoding.EncodeToString(randomBytes(16)) }

var jwtSides = []string{"authkit", "golang-jwt", "jwx"}

func BenchmarkJWTSign(b *testing.B) {
	for _, alg := range jwtAlgs {
		for _, side := range jwtSides {
			b.Run(fmt.Sprintf("alg=%s/impl=%s", alg, side), func(b *testing.B) {
				f := getJWTFixture(b, alg)
				var sign func() (string, error)
				switch side {
				case "authkit":
					iss := akjwt.NewIssuer(f.keys, akjwt.IssuerConfig{Issuer: jwtIssuer, Audience: []string{jwtAudience}, Lifetime: jwtTTL})
					sign = func() (string, error) {
						is, err := iss.Issue(jwtGrant)
						return is.Token, err
					}
				case "golang-jwt":
					sign = func() (string, error) {
						now := time.Now()
						t := gjwt.NewWithClaims(f.gjMethod, gjClaims{
							Scope: "read write",
							RegisteredClaims: gjwt.RegisteredClaims{
								Issuer:    jwtIssuer,
								Subject:   jwtGrant.Subject,
								Audience:  gjwt.ClaimStrings{jwtAudience},
								ExpiresAt: gjwt.NewNumericDate(now.Add(jwtTTL)),
								IssuedAt:  gjwt.NewNumericDate(now),
								ID:        randomJTI(),
							},
						})
						t.Header["kid"] = f.kid
						t.Header["typ"] = "at+jwt"
						return t.SignedString(f.sign)
					}
				case "jwx":
					sign = func() (string, error) {
						now := time.Now()
						t, err := xjwt.NewBuilder().
							Issuer(jwtIssuer).
							Subject(jwtGrant.Subject).
							Audience([]string{jwtAudience}).
							Expiration(now.Add(jwtTTL)).
							IssuedAt(now).
							JwtID(randomJTI()).
							Claim("scope", "read write").
							Build()
						if err != nil {
							return "", err
						}
						h := jws.NewHeaders()
						if err := h.Set(jws.KeyIDKey, f.kid); err != nil {
							return "", err
						}
						if err := h.Set(jws.TypeKey, "at+jwt"); err != nil {
							return "", err
						}
						s, err := xjwt.Sign(t, xjwt.WithKey(f.jwxAlg, f.sign, jws.WithProtectedHeaders(h)))
						return string(s), err
					}
				}
				tok, err := sign()
				if err != nil {
					b.Fatal(err)
				}
				// What each side signs, every other side must accept.
				if _, err := f.authkitVerifier().Verify(context.Background(), tok); err != nil {
					b.Fatalf("authkit refuses the %s token: %v", side, err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if sinkString, err = sign(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkJWTVerify(b *testing.B) {
	for _, alg := range jwtAlgs {
		for _, mode := range []string{"first-seen", "cached"} {
			for _, side := range jwtSides {
				b.Run(fmt.Sprintf("alg=%s/mode=%s/impl=%s", alg, mode, side), func(b *testing.B) {
					benchJWTVerify(b, getJWTFixture(b, alg), side, mode == "cached")
				})
			}
		}
	}
}

func benchJWTVerify(b *testing.B, f *jwtFixture, side string, cached bool) {
	ctx := context.Background()
	var verify func(string) error
	var reset func()
	switch side {
	case "authkit":
		var v *akjwt.Verifier
		reset = func() { v = f.authkitVerifier() }
		reset()
		verify = func(tok string) error {
			c, err := v.Verify(ctx, tok)
			if err == nil {
				sinkString = c.Subject
			}
			return err
		}
	case "golang-jwt":
		p, kf := f.gjParser()
		verify = func(tok string) error {
			var c gjClaims
			_, err := p.ParseWithClaims(tok, &c, kf)
			sinkString = c.Subject
			return err
		}
	case "jwx":
		opts := f.jwxParseOptions()
		verify = func(tok string) error {
			t, err := xjwt.Parse([]byte(tok), opts...)
			if err == nil {
				sinkString, _ = t.Subject()
			}
			return err
		}
	}
	pool := f.pool
	if cached {
		pool = pool[:1]
	}
	for _, tok := range pool[:1] {
		if err := verify(tok); err != nil {
			b.Fatalf("%s refuses an authkit token: %v", side, err)
		}
	}
	if !cached && reset != nil {
		reset()
	}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if i == len(pool) {
			i = 0
			if !cached && reset != nil {
				b.StopTimer()
				reset()
				b.StartTimer()
			}
		}
		if err := verify(pool[i]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
