package jwtpair

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/authkit/authkit/internal/redistest"
	"github.com/authkit/authkit/jwt"
	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/token"
)

// openRedis returns a store on the Redis at AUTHKIT_REDIS_ADDR (see
// internal/redistest).
func openRedis(t *testing.T) store.Store { return redistest.Store(t, "jwtpair") }

// On Redis, on real time: the sign-outs of 24 devices of one user at once
// (logout endpoint, concurrent) each end the device's refresh family and
// its JWTs, or answer 503 and a retry does.
func TestRedisConcurrentLogouts(t *testing.T) {
	st := openRedis(t)
	key, err := jwt.GenerateKey(jwt.ES256)
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := jwt.NewKeySet(key)
	iss := jwt.NewIssuer(keys, jwt.IssuerConfig{Issuer: testIssuer, Audience: []string{testAudience}})
	ver := jwt.NewVerifier(keys, jwt.Config{Issuer: testIssuer, Audience: testAudience, Store: st, CacheSize: -1})
	tokens := token.New(st, token.Config{Logger: discardLogger()})
	pairs := New(iss, ver, tokens, Config{Logger: discardLogger()})
	ctx := context.Background()
	const n = 24
	ps := make([]Pair, n)
	for i := range ps {
		if ps[i], err = pairs.Issue(ctx, "victim", token.FamilyOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			rec := httptest.NewRecorder()
			pairs.Handler().ServeHTTP(rec, refreshRequest("DELETE", string(ps[i].Refresh)))
			codes[i] = rec.Code
		})
	}
	wg.Wait()
	for i, code := range codes {
		switch code {
		case 204:
		case 503:
			if err := tokens.RevokeFamily(ctx, "victim", ps[i].Family.ID); err != nil {
				t.Fatalf("retry %d: %v", i, err)
			}
		default:
			t.Fatalf("logout %d: %d", i, code)
		}
		if _, err := ver.Verify(ctx, ps[i].Access.Token); !errors.Is(err, jwt.ErrRevoked) {
			t.Fatalf("JWT %d after its logout: %v", i, err)
		}
	}
	if fams, err := tokens.Families(ctx, "victim"); err != nil || len(fams) != 0 {
		t.Fatalf("families left: %+v, %v", fams, err)
	}
}
