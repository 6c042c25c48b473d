package jwt

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

func TestNewKeyRefusesWeakOrMismatchedKeys(t *testing.T) {
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	rs := testKey(t, RS256)
	cases := []struct {
		name     string
		alg      Algorithm
		material any
	}{
		{"HS256 with 31 bytes", HS256, make([]byte, 31)},
		{"HS384 with 47 bytes", HS384, make([]byte, 47)},
		{"HS512 with 63 bytes", HS512, make([]byte, 63)},
		{"HS256 with a string", HS256, strings.Repeat("x", 40)},
		{"HS256 with an RSA key", HS256, rs.signer},
		{"RS256 with 1024 bits", RS256, rsa1024},
		{"PS256 with a 1024-bit public key", PS256, &rsa1024.PublicKey},
		{"RS256 with a secret", RS256, make([]byte, 64)},
		{"RS256 with an EC key", RS256, p256},
		{"ES256 on P-384", ES256, p384},
		{"ES384 on P-256", ES384, &p256.PublicKey},
		{"EdDSA with an EC key", EdDSA, p256},
		{"EdDSA with a short key", EdDSA, ed25519.PublicKey(make([]byte, 31))},
		{"ES256 with an Ed25519 key", ES256, edPriv},
		{"alg none", Algorithm("none"), make([]byte, 64)},
		{"alg RS512", Algorithm("RS512"), rs.signer},
		{"nil RSA key", RS256, (*rsa.PrivateKey)(nil)},
		{"RSA exponent 1", RS256, &rsa.PublicKey{N: rs.public.(*rsa.PublicKey).N, E: 1}},
		{"unsupported type", RS256, 42},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, err := NewKey(c.alg, c.material)
			if err == nil || !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("NewKey = %v, %v; want ErrInvalidKey", k, err)
			}
		})
	}
}

func TestGenerateKeyEveryAlgorithm(t *testing.T) {
	for _, alg := range allAlgorithms {
		t.Run(string(alg), func(t *testing.T) {
			k := testKey(t, alg)
			if k.Algorithm() != alg || !k.CanSign() || k.ID() == "" {
				t.Fatalf("key %s: alg %s, can sign %v, kid %q", alg, k.Algorithm(), k.CanSign(), k.ID())
			}
			msg := []byte("header.payload")
			sig, err := k.sign(msg)
			if err != nil {
				t.Fatal(err)
			}
			if len(sig) != k.sigLen || !k.verify(msg, sig) {
				t.Fatalf("signature of %d bytes does not verify", len(sig))
			}
			if k.verify([]byte("header.payloaD"), sig) {
				t.Fatal("signature verifies another message")
			}
			bad := append([]byte(nil), sig...)
			bad[len(bad)/2] ^= 1
			if k.verify(msg, bad) {
				t.Fatal("altered signature verifies")
			}
			if pub := k.Public(); alg.Symmetric() {
				if pub != nil || k.PublicJWK() != nil {
					t.Fatal("an HMAC key has a public form")
				}
			} else {
				if pub.CanSign() || pub.ID() != k.ID() || !pub.verify(msg, sig) {
					t.Fatal("public copy is wrong")
				}
				if _, err := pub.sign(msg); err == nil {
					t.Fatal("public copy signed")
				}
			}
		})
	}
}

// TestThumbprintRFC7638 checks the kid against the example of RFC 7638 §3.1.
func TestThumbprintRFC7638(t *testing.T) {
	const n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	der, err := b64.DecodeString(n)
	if err != nil {
		t.Fatal(err)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(der), E: 65537}
	k, err := NewKey(RS256, pub)
	if err != nil {
		t.Fatal(err)
	}
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; k.ID() != want {
		t.Fatalf("kid %q, want %q", k.ID(), want)
	}
	k2, err := NewKeyWithID("my-key", RS256, pub)
	if err != nil || k2.ID() != "my-key" {
		t.Fatalf("NewKeyWithID: %v, %v", k2, err)
	}
	for _, bad := range []string{"", "a\nb", strings.Repeat("k", 256), "\xff"} {
		if _, err := NewKeyWithID(bad, RS256, pub); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("kid %q accepted", bad)
		}
	}
}

func TestExportParseRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, alg := range allAlgorithms {
		t.Run(string(alg), func(t *testing.T) {
			k := testKey(t, alg)
			text, err := k.Export()
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParseKey(alg, text)
			if err != nil {
				t.Fatal(err)
			}
			if back.ID() != k.ID() || !back.CanSign() {
				t.Fatalf("round trip: kid %q vs %q, can sign %v", back.ID(), k.ID(), back.CanSign())
			}
			sig, _ := back.sign([]byte("m"))
			if !k.verify([]byte("m"), sig) {
				t.Fatal("parsed key signs differently")
			}
			// From a file, with surrounding white space.
			path := filepath.Join(dir, string(alg))
			if err := os.WriteFile(path, append(append([]byte("\n  "), text...), '\n'), 0o600); err != nil {
				t.Fatal(err)
			}
			if f, err := LoadKeyFile(alg, path); err != nil || f.ID() != k.ID() {
				t.Fatalf("LoadKeyFile: %v", err)
			}
			// From the environment.
			env := "AUTHKIT_JWT_TEST_KEY_" + string(alg)
			t.Setenv(env, string(text))
			if e, err := KeyFromEnv(alg, env); err != nil || e.ID() != k.ID() {
				t.Fatalf("KeyFromEnv: %v", err)
			}
			if !alg.Symmetric() {
				pubText, err := k.Public().Export()
				if err != nil || !strings.Contains(string(pubText), "PUBLIC KEY") {
					t.Fatalf("public export: %v", err)
				}
				pub, err := ParseKey(alg, pubText)
				if err != nil || pub.CanSign() || pub.ID() != k.ID() {
					t.Fatalf("public parse: %v", err)
				}
			}
		})
	}
	t.Run("HMAC secret in the standard alphabet with padding", func(t *testing.T) {
		k, err := ParseKey(HS256, []byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="))
		if err != nil || k.Algorithm() != HS256 {
			t.Fatal(err)
		}
	})
	t.Run("errors", func(t *testing.T) {
		if _, err := KeyFromEnv(HS256, "AUTHKIT_JWT_TEST_UNSET"); err == nil || !strings.Contains(err.Error(), "AUTHKIT_JWT_TEST_UNSET") {
			t.Fatalf("unset variable: %v", err)
		}
		for _, c := range []struct {
			alg  Algorithm
			text string
		}{
			{HS256, "not base64!"},
			{HS256, "c2hvcnQ"}, // "short"
			{RS256, "no pem here"},
			{RS256, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"},
			{ES256, string(must(testKey(t, EdDSA).Export()))},
		} {
			_, err := ParseKey(c.alg, []byte(c.text))
			if !errors.Is(err, ErrInvalidKey) {
				t.Errorf("ParseKey(%s, %.20q) = %v", c.alg, c.text, err)
			}
			if err != nil && strings.Contains(err.Error(), c.text) && len(c.text) > 10 {
				t.Errorf("error echoes the key text: %v", err)
			}
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestKeyFromJWK(t *testing.T) {
	k := testKey(t, ES256)
	raw, err := json.Marshal(k.PublicJWK())
	if err != nil {
		t.Fatal(err)
	}
	jk, err := jwk.ParseKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := NewKey(ES256, jk)
	if err != nil || k2.ID() != k.ID() || k2.CanSign() {
		t.Fatalf("from JWK: %v", err)
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	if m["kid"] != k.ID() || m["alg"] != "ES256" || m["use"] != "sig" || m["d"] != nil {
		t.Fatalf("public JWK %s", raw)
	}
}

func TestCryptoSignerKey(t *testing.T) {
	p, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k, err := NewKey(ES256, signerOnly{p})
	if err != nil {
		t.Fatal(err)
	}
	ks := mustKeySet(t, k)
	iss := NewIssuer(ks, IssuerConfig{})
	is, err := iss.Issue(Grant{Subject: "s"})
	if err != nil {
		t.Fatal(err)
	}
	v := NewVerifier(ks, Config{InsecureDisableRevocation: true})
	if _, err := v.Verify(t.Context(), is.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Export(); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("export of a signer-only key: %v", err)
	}
}

// signerOnly hides the concrete type of a private key.
type signerOnly struct{ *ecdsa.PrivateKey }

func TestKeyFormattingHidesMaterial(t *testing.T) {
	secret := bytes.Repeat([]byte{0xAB}, 32)
	hs, err := NewKey(HS256, secret)
	if err != nil {
		t.Fatal(err)
	}
	ed, err := GenerateKey(EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []*Key{hs, ed} {
		var logs bytes.Buffer
		slog.New(slog.NewTextHandler(&logs, nil)).Info("key", "key", k)
		for _, out := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v", k, k, k), logs.String()} {
			if !strings.Contains(out, k.ID()) {
				t.Errorf("%q does not name the kid", out)
			}
			// Key material would show as long runs of digits (byte slices)
			// or the secret's bytes.
			if strings.Contains(out, "171 171 171") || strings.Contains(out, "signer") || strings.Contains(out, "secret") {
				t.Errorf("formatted key shows its material: %q", out)
			}
		}
	}
}

// formatted returns v printed every way a program might: fmt verbs, nested
// in a struct and a slice, and slog's text and JSON handlers.
func formatted(v any) []string {
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("m", "v", v)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("m", "v", v)
	outs := []string{text.String(), js.String()}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v"} {
		outs = append(outs, fmt.Sprintf(verb, v))
		outs = append(outs, fmt.Sprintf(verb, struct{ V any }{v}))
		outs = append(outs, fmt.Sprintf(verb, []any{v}))
	}
	return append(outs, fmt.Sprint(v), fmt.Sprintln(v))
}

func TestFormattingHidesSecrets(t *testing.T) {
	secret := bytes.Repeat([]byte{0xAB}, 32)
	hs, err := NewKey(HS256, secret)
	if err != nil {
		t.Fatal(err)
	}
	ed := testKey(t, EdDSA)
	seed := ed.signer.(ed25519.PrivateKey).Seed()
	// How fmt shows bytes: decimal in a slice, hex with %x and %X.
	byteForms := func(b []byte) []string {
		dec := fmt.Sprint(b[:4])
		return []string{dec[1 : len(dec)-1], fmt.Sprintf("%x", b[:8]), fmt.Sprintf("%X", b[:8])}
	}
	is, err := NewIssuer(mustKeySet(t, hs), IssuerConfig{}).Issue(Grant{Subject: "u"})
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		v       any
		secrets []string
		shows   string
	}{
		"HMAC key value":   {*hs, byteForms(secret), hs.ID()},
		"HMAC key pointer": {hs, byteForms(secret), hs.ID()},
		"EdDSA key value":  {*ed, byteForms(seed), ed.ID()},
		"Issued value":     {is, strings.Split(is.Token, "."), is.ID},
		"Issued pointer":   {&is, strings.Split(is.Token, "."), is.ID},
	} {
		t.Run(name, func(t *testing.T) {
			for _, out := range formatted(c.v) {
				for _, s := range append(c.secrets, "signer", "secret") {
					if strings.Contains(out, s) {
						t.Fatalf("output shows %q: %s", s, out)
					}
				}
			}
			if out := fmt.Sprint(c.v); !strings.Contains(out, c.shows) {
				t.Fatalf("%s does not say which one it is", out)
			}
		})
	}
	if got := fmt.Sprint((*Key)(nil), (*Issued)(nil)); got != "<nil> <nil>" {
		t.Fatalf("nil pointers print %q", got)
	}
}
