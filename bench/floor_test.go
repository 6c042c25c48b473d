package bench

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/authkit/authkit/cookie"
	akjwt "github.com/authkit/authkit/jwt"
)

// Floors: authkit against the bare standard-library operation it wraps,
// on the same bytes, in the same process and rounds. The ratio says what
// authkit's parsing, checks and bookkeeping add to the cryptography (or,
// in redis_test.go, to the network round trip) that no implementation can
// avoid.
//
// JWT (BenchmarkJWTFloor), first-seen verification of a pool of distinct
// authkit-issued tokens, revocation off, as in BenchmarkJWTVerify:
//   - authkit: Verifier.Verify (size check, strict base64url and JSON,
//     header and claims checks, signature, verified-token cache insert).
//   - stdlib: the signature check alone over the same signing input and
//     the same signature, decoded in setup: HS256 one reused
//     hmac.New(sha256.New, key) (Reset, Write, Sum) and hmac.Equal; ES256
//     SHA-256 and ecdsa.VerifyASN1 of the signature's DER form, made from
//     the raw r‖s in setup (ecdsa.Verify of r and s as big.Ints costs more:
//     it re-encodes that DER form, with 11 more allocations); EdDSA
//     ed25519.Verify; RS256 SHA-256 and rsa.VerifyPKCS1v15; PS256 SHA-256
//     and rsa.VerifyPSS with the salt as long as the hash.
//
// Cookie (BenchmarkCookieFloor), seal then open of the 64-byte value of
// BenchmarkCookieSealOpen:
//   - authkit: Codec.Seal and Codec.Open (header with key ID and expiry,
//     name and header authenticated, expiry checked).
//   - stdlib: XChaCha20-Poly1305 (x/crypto, the same AEAD) seal of the
//     value under a random 24-byte nonce from crypto/rand, nonce and
//     ciphertext base64url-encoded to a string, then decoded and opened.

var floorAlgs = []akjwt.Algorithm{akjwt.HS256, akjwt.ES256, akjwt.EdDSA, akjwt.RS256, akjwt.PS256}

// signedParts is one token split for the floor: the signing input
// (header.payload) and the decoded signature.
type signedParts struct {
	input, sig []byte
}

func splitTokens(tb testing.TB, alg akjwt.Algorithm, pool []string) []signedParts {
	tb.Helper()
	out := make([]signedParts, len(pool))
	for i, tok := range pool {
		dot := strings.LastIndexByte(tok, '.')
		sig, err := base64.RawURLEncoding.DecodeString(tok[dot+1:])
		if err != nil || dot < 0 {
			tb.Fatalf("token %d: %v", i, err)
		}
		if alg == akjwt.ES256 {
			sig = derSignature(tb, sig)
		}
		out[i] = signedParts{input: []byte(tok[:dot]), sig: sig}
	}
	return out
}

// derSignature converts a JWS ECDSA signature, the fixed-width r‖s, to the
// ASN.1 DER SEQUENCE { r, s } that ecdsa.VerifyASN1 takes.
func derSignature(tb testing.TB, rs []byte) []byte {
	tb.Helper()
	n := len(rs) / 2
	der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(rs[:n]), new(big.Int).SetBytes(rs[n:])})
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

// stdlibVerify returns the bare signature check for f's algorithm.
func stdlibVerify(tb testing.TB, f *jwtFixture) func(p signedParts) bool {
	tb.Helper()
	switch f.alg {
	case akjwt.HS256:
		mac := hmac.New(sha256.New, f.verify.([]byte))
		var sum [sha256.Size]byte
		return func(p signedParts) bool {
			mac.Reset()
			mac.Write(p.input)
			return hmac.Equal(mac.Sum(sum[:0]), p.sig)
		}
	case akjwt.ES256:
		// The DER form is made in setup (see derSignature): the floor is
		// ecdsa.VerifyASN1, the cheapest standard-library check.
		pub := f.verify.(*ecdsa.PublicKey)
		return func(p signedParts) bool {
			d := sha256.Sum256(p.input)
			return ecdsa.VerifyASN1(pub, d[:], p.sig)
		}
	case akjwt.EdDSA:
		pub := f.verify.(ed25519.PublicKey)
		return func(p signedParts) bool { return ed25519.Verify(pub, p.input, p.sig) }
	case akjwt.RS256:
		pub := f.verify.(*rsa.PublicKey)
		return func(p signedParts) bool {
			d := sha256.Sum256(p.input)
			return rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], p.sig) == nil
		}
	case akjwt.PS256:
		pub := f.verify.(*rsa.PublicKey)
		opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}
		return func(p signedParts) bool {
			d := sha256.Sum256(p.input)
			return rsa.VerifyPSS(pub, crypto.SHA256, d[:], p.sig, opts) == nil
		}
	}
	tb.Fatalf("no floor for %s", f.alg)
	return nil
}

func BenchmarkJWTFloor(b *testing.B) {
	for _, alg := range floorAlgs {
		b.Run(fmt.Sprintf("alg=%s/impl=authkit", alg), func(b *testing.B) {
			benchJWTVerify(b, getJWTFixture(b, alg), "authkit", false)
		})
		b.Run(fmt.Sprintf("alg=%s/impl=stdlib", alg), func(b *testing.B) {
			f := getJWTFixture(b, alg)
			parts := splitTokens(b, alg, f.pool)
			verify := stdlibVerify(b, f)
			for i, p := range parts {
				if !verify(p) {
					b.Fatalf("the %s floor refuses token %d", alg, i)
				}
			}
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				if i == len(parts) {
					i = 0
				}
				if !verify(parts[i]) {
					b.Fatal("signature refused")
				}
				i++
			}
		})
	}
}

func BenchmarkCookieFloor(b *testing.B) {
	secret := randomBytes(32)
	b.Run("impl=authkit", func(b *testing.B) {
		c, err := cookie.NewCodec(cookie.Key{ID: 1, Secret: secret})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			v, err := c.Seal(cookieName, cookiePayload, time.Hour)
			if err != nil {
				b.Fatal(err)
			}
			if sinkBytes, err = c.Open(cookieName, v); err != nil {
				b.Fatal(err)
			}
		}
		if !bytes.Equal(sinkBytes, cookiePayload) {
			b.Fatal("round trip changed the value")
		}
	})
	b.Run("impl=stdlib", func(b *testing.B) {
		aead, err := chacha20poly1305.NewX(secret)
		if err != nil {
			b.Fatal(err)
		}
		const nonceLen = chacha20poly1305.NonceSizeX
		b64 := base64.RawURLEncoding
		b.ReportAllocs()
		for b.Loop() {
			buf := make([]byte, nonceLen, nonceLen+len(cookiePayload)+aead.Overhead())
			if _, err := rand.Read(buf); err != nil {
				b.Fatal(err)
			}
			v := b64.EncodeToString(aead.Seal(buf, buf, cookiePayload, nil))
			raw, err := b64.DecodeString(v)
			if err != nil || len(raw) < nonceLen {
				b.Fatal("decode", err)
			}
			if sinkBytes, err = aead.Open(raw[nonceLen:nonceLen], raw[:nonceLen], raw[nonceLen:], nil); err != nil {
				b.Fatal(err)
			}
		}
		if !bytes.Equal(sinkBytes, cookiePayload) {
			b.Fatal("round trip changed the value")
		}
	})
}
