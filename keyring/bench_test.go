package keyring

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/authkit/authkit/cookie"
	"github.com/authkit/authkit/internal/clocktest"
	"github.com/authkit/authkit/jwt"
)

// Run with:
//
//	go test -run '^$' -bench . -benchmem ./keyring/
//
// Each benchmark has a "plain" case — a cookie.Codec or a jwt.KeySet made
// directly, as without a keyring — and a "keyring" case — the same type
// loaded by a second Keyring from the store another one rotated: two
// verify-only keys, a signing key and a waiting key, as during a rotation. The keyring must cost nothing per
// request: no store read, no extra allocation.

// benchKeyrings returns two Keyrings on one Memory store: the first makes
// and rotates the keys, the second loads them from the store, as another
// server of the fleet does.
func benchKeyrings(b *testing.B) (*Keyring, *Keyring, *clocktest.Clock) {
	clk := clocktest.New(time.Now())
	st := memoryStore(b, clk)
	keks := testKEKs(b)
	var krs [2]*Keyring
	for i := range krs {
		kr, err := newKeyring(st, Config{KEKs: keks, Now: clk.Now, Logger: quiet, ReloadInterval: time.Minute, JWKSMaxAge: 10 * time.Minute}, false)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { kr.Close() })
		krs[i] = kr
	}
	return krs[0], krs[1], clk
}

// rotateTwice leaves purpose with four keys: the first two verify-only, the
// third signing, the fourth waiting.
func rotateTwice(b *testing.B, kr *Keyring, clk *clocktest.Clock, purpose string) {
	ctx := context.Background()
	for range 2 {
		if _, err := kr.Rotate(ctx, purpose); err != nil {
			b.Fatal(err)
		}
		clk.Add(testSch.Prepublish + time.Second)
		kr.wake(ctx)
	}
	if _, err := kr.Rotate(ctx, purpose); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkCookieOpen(b *testing.B) {
	payload := bytes.Repeat([]byte("p"), 64)
	run := func(b *testing.B, c *cookie.Codec) {
		v, err := c.Seal("__Host-s", payload, time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Open("__Host-s", v); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("plain", func(b *testing.B) {
		c, err := cookie.NewCodec(cookie.Key{ID: 1, Secret: bytes.Repeat([]byte{7}, 32)})
		if err != nil {
			b.Fatal(err)
		}
		run(b, c)
	})
	b.Run("keyring", func(b *testing.B) {
		maker, other, clk := benchKeyrings(b)
		if _, err := maker.Codec(context.Background(), CookieSeal, testSch); err != nil {
			b.Fatal(err)
		}
		rotateTwice(b, maker, clk, CookieSeal)
		c, err := other.Codec(context.Background(), CookieSeal, testSch)
		if err != nil {
			b.Fatal(err)
		}
		if n := len(c.KeyIDs()); n != 4 {
			b.Fatalf("%d keys", n)
		}
		c.Now = time.Now // the fake clock is for the rotation only
		run(b, c)
	})
}

func BenchmarkJWTVerify(b *testing.B) {
	for _, alg := range []jwt.Algorithm{jwt.HS256, jwt.ES256} {
		run := func(b *testing.B, ks *jwt.KeySet) {
			tok, err := jwt.NewIssuer(ks, jwt.IssuerConfig{Issuer: "i"}).Issue(jwt.Grant{Subject: "u"})
			if err != nil {
				b.Fatal(err)
			}
			v := jwt.NewVerifier(ks, jwt.Config{Issuer: "i", InsecureDisableRevocation: true, CacheSize: -1})
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok.Token); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.Run(string(alg)+"/plain", func(b *testing.B) {
			k, err := jwt.GenerateKey(alg)
			if err != nil {
				b.Fatal(err)
			}
			ks, err := jwt.NewKeySet(k)
			if err != nil {
				b.Fatal(err)
			}
			run(b, ks)
		})
		b.Run(string(alg)+"/keyring", func(b *testing.B) {
			maker, other, clk := benchKeyrings(b)
			if _, err := maker.KeySet(context.Background(), alg, testSch); err != nil {
				b.Fatal(err)
			}
			rotateTwice(b, maker, clk, JWTPurpose(alg))
			ks, err := other.KeySet(context.Background(), alg, testSch)
			if err != nil {
				b.Fatal(err)
			}
			if n := len(ks.Keys()); n != 4 {
				b.Fatalf("%d keys", n)
			}
			run(b, ks)
		})
	}
}
