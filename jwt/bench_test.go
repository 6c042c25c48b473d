package jwt

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// Run with:
//
//	go test -run '^$' -bench . -benchmem ./jwt/
//
// "first-seen" verifies a token the verifier has not seen (a pool of
// distinct tokens, the cache emptied between rounds, so the cache insert is
// included); "cached" verifies the same token again and again. "revocation
// off" is the crypto and claims path alone, comparable with golang-jwt;
// "revocation on" adds the read of a store.Memory (an existing record, so
// that it is decoded and searched).

var benchAlgs = []Algorithm{HS256, ES256, EdDSA, RS256}

func BenchmarkSign(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(string(alg), func(b *testing.B) {
			ks := mustKeySet(b, testKey(b, alg))
			iss := NewIssuer(ks, IssuerConfig{Issuer: testIssuer, Audience: []string{testAudience}})
			g := Grant{Subject: "user-1", Scopes: []string{"read", "write"}}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := iss.Issue(g); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, alg := range benchAlgs {
		for _, revocation := range []bool{false, true} {
			mode := "revocation-off"
			if revocation {
				mode = "revocation-on"
			}
			b.Run(fmt.Sprintf("%s/first-seen/%s", alg, mode), func(b *testing.B) {
				benchVerify(b, alg, revocation, false)
			})
			b.Run(fmt.Sprintf("%s/cached/%s", alg, mode), func(b *testing.B) {
				benchVerify(b, alg, revocation, true)
			})
		}
	}
}

func benchVerify(b *testing.B, alg Algorithm, revocation, cached bool) {
	ks := mustKeySet(b, testKey(b, alg))
	now := time.Now()
	iss := NewIssuer(ks, IssuerConfig{Issuer: testIssuer, Audience: []string{testAudience}, Now: func() time.Time { return now }})
	n := 1
	if !cached {
		n = 4096
		if alg != HS256 {
			n = 256
		}
	}
	toks := make([]string, n)
	for i := range toks {
		is, err := iss.Issue(Grant{Subject: "user-1", Scopes: []string{"read", "write"}})
		if err != nil {
			b.Fatal(err)
		}
		toks[i] = is.Token
	}
	cfg := Config{Issuer: testIssuer, Audience: testAudience, InsecureDisableRevocation: !revocation, CacheSize: n + 1}
	if revocation {
		cfg.Store = newMemory(b)
	}
	v := NewVerifier(ks, cfg)
	ctx := context.Background()
	if revocation {
		// A record for another token of the subject, so the check decodes
		// and searches it.
		if err := v.RevokeJTI(ctx, "user-1", "some-other-jti", time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
	if cached {
		if _, err := v.Verify(ctx, toks[0]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(toks) {
			b.StopTimer()
			i = 0
			v.cache.clear()
			b.StartTimer()
		}
		if _, err := v.Verify(ctx, toks[i]); err != nil {
			b.Fatal(err)
		}
		if !cached {
			i++
		}
	}
}

// BenchmarkVerifyNoCache is the full verification without the cache
// insert, for comparison.
func BenchmarkVerifyNoCache(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(string(alg), func(b *testing.B) {
			ks := mustKeySet(b, testKey(b, alg))
			iss := NewIssuer(ks, IssuerConfig{Issuer: testIssuer, Audience: []string{testAudience}})
			is, err := iss.Issue(Grant{Subject: "user-1", Scopes: []string{"read", "write"}})
			if err != nil {
				b.Fatal(err)
			}
			v := NewVerifier(ks, Config{Issuer: testIssuer, Audience: testAudience, InsecureDisableRevocation: true, CacheSize: -1})
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, is.Token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyTypedClaims decodes custom claims as well.
func BenchmarkVerifyTypedClaims(b *testing.B) {
	type custom struct {
		Role   string `json:"role"`
		Tenant string `json:"tenant"`
	}
	ks := mustKeySet(b, testKey(b, HS256))
	iss := NewIssuer(ks, IssuerConfig{Issuer: testIssuer, Audience: []string{testAudience}})
	is, err := IssueClaims(iss, Grant{Subject: "user-1"}, custom{Role: "admin", Tenant: "t1"})
	if err != nil {
		b.Fatal(err)
	}
	for _, size := range []int{-1, 0} {
		name := "first-seen"
		if size == 0 {
			name = "cached"
		}
		b.Run(name, func(b *testing.B) {
			v := NewVerifier(ks, Config{Issuer: testIssuer, Audience: testAudience, InsecureDisableRevocation: true, CacheSize: size})
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, c, err := VerifyClaims[custom](ctx, v, is.Token); err != nil || c.Role != "admin" {
					b.Fatal(err)
				}
			}
		})
	}
}
