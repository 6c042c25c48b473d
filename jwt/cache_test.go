package jwt

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

func TestCacheRechecksTimeOnHit(t *testing.T) {
	f := newFixture(t, mustKeySet(t, testKey(t, HS256)), nil)
	ctx := context.Background()
	is := f.issue(t, Grant{Lifetime: time.Minute})
	if _, err := f.ver.Verify(ctx, is.Token); err != nil {
		t.Fatal(err)
	}
	if f.ver.cache.get(is.Token) == nil {
		t.Fatal("not cached")
	}
	f.clk.Add(59 * time.Second)
	if _, err := f.ver.Verify(ctx, is.Token); err != nil {
		t.Fatal(err)
	}
	f.clk.Add(time.Second)
	if _, err := f.ver.Verify(ctx, is.Token); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired cached token: %v", err)
	}
	if f.ver.cache.get(is.Token) != nil {
		t.Fatal("expired token still cached")
	}
	// nbf is rechecked too (a clock set back).
	k := testKey(t, HS256)
	f.clk.Set(t0)
	nbf := forge(hdr("HS256", k.ID()), claimsJSON(map[string]any{"nbf": t0.Unix()}), withKey(t, k))
	if _, err := f.ver.Verify(ctx, nbf); err != nil {
		t.Fatal(err)
	}
	f.clk.Set(t0.Add(-time.Second))
	if _, err := f.ver.Verify(ctx, nbf); !errors.Is(err, ErrNotYetValid) {
		t.Fatalf("nbf on a hit: %v", err)
	}
}

func TestCacheIsBounded(t *testing.T) {
	f := newFixture(t, mustKeySet(t, testKey(t, HS256)), func(c *Config) { c.CacheSize = 16 })
	ctx := context.Background()
	for i := range 200 {
		if _, err := f.ver.Verify(ctx, f.issue(t, Grant{}).Token); err != nil {
			t.Fatal(err)
		}
		if n := f.ver.cache.len(); n > 16 {
			t.Fatalf("after %d tokens the cache holds %d", i+1, n)
		}
	}
	if n := f.ver.cache.len(); n < 8 {
		t.Fatalf("cache holds only %d", n)
	}
	// Refusals are never cached.
	f.ver.cache.clear()
	for range 10 {
		_, _ = f.ver.Verify(ctx, f.issue(t, Grant{}).Token+"A")
	}
	if n := f.ver.cache.len(); n != 0 {
		t.Fatalf("%d refused tokens cached", n)
	}
}

func TestCacheSurvivesAddAndRotate(t *testing.T) {
	ks := mustKeySet(t, testKey(t, HS256))
	f := newFixture(t, ks, nil)
	ctx := context.Background()
	is := f.issue(t, Grant{})
	if _, err := f.ver.Verify(ctx, is.Token); err != nil {
		t.Fatal(err)
	}
	e := f.ver.cache.get(is.Token)
	if err := ks.Rotate(testKey(t, EdDSA)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ver.Verify(ctx, is.Token); err != nil {
		t.Fatal(err)
	}
	if f.ver.cache.get(is.Token) != e {
		t.Fatal("rotation emptied the cache")
	}
}

func TestCacheDisabled(t *testing.T) {
	f := newFixture(t, mustKeySet(t, testKey(t, HS256)), func(c *Config) { c.CacheSize = -1 })
	is := f.issue(t, Grant{})
	for range 3 {
		if _, err := f.ver.Verify(context.Background(), is.Token); err != nil {
			t.Fatal(err)
		}
	}
	if f.ver.cache != nil {
		t.Fatal("cache present")
	}
}

func TestCacheConcurrent(t *testing.T) {
	ks := mustKeySet(t, testKey(t, HS256))
	f := newFixture(t, ks, func(c *Config) { c.CacheSize = 8 })
	ctx := context.Background()
	var toks []string
	for range 32 {
		toks = append(toks, f.issue(t, Grant{}).Token)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 400 {
				tok := toks[(i*7+w)%len(toks)]
				if _, err := f.ver.Verify(ctx, tok); err != nil {
					t.Error(err)
					return
				}
				if w == 0 && i%100 == 0 {
					if err := ks.Add(testKey(t, ES384)); err == nil {
						_ = ks.Retire(testKey(t, ES384).ID())
					}
				}
			}
		})
	}
	wg.Wait()
	if n := f.ver.cache.len(); n > 8+4 {
		t.Fatalf("cache holds %d", n)
	}
}

// A handler that changes its Identity must not change what the next request
// with the same (cached) token sees.
func TestCachedIdentityIsACopy(t *testing.T) {
	f := newFixture(t, mustKeySet(t, testKey(t, HS256)), nil)
	is := f.issue(t, Grant{Subject: "alice", Scopes: []string{"read"}})
	req := func() *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+is.Token)
		return r
	}
	first, err := f.ver.Authenticate(req())
	if err != nil {
		t.Fatal(err)
	}
	first.Scopes[0] = "admin"
	first.Scopes = append(first.Scopes, "write")
	second, err := f.ver.Authenticate(req())
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Scopes) != 1 || second.Scopes[0] != "read" {
		t.Fatalf("second request's scopes %v, want [read]", second.Scopes)
	}
}
