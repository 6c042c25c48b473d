package jwt

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/authkit/authkit/internal/faultstore"
	"github.com/authkit/authkit/internal/redistest"
	"github.com/authkit/authkit/store"
)

// openRedis returns a store on the Redis at AUTHKIT_REDIS_ADDR (see
// internal/redistest).
func openRedis(t *testing.T) store.Store { return redistest.Store(t, "jwt") }

// On Redis, on real time: concurrent revocations of one subject's
// families, jtis and all its tokens from two verifiers with different
// configurations (the two servers of a fleet) each land or return an
// error, and a write whose reply was lost is finished by its retry.
func TestRedisRevocations(t *testing.T) {
	fs := faultstore.New(openRedis(t))
	keys := mustKeySet(t, testKey(t, HS256))
	iss := NewIssuer(keys, IssuerConfig{Issuer: testIssuer, Audience: []string{testAudience}})
	newVerifier := func(c Config) *Verifier {
		c.Issuer, c.Audience, c.Store, c.CacheSize = testIssuer, testAudience, fs, -1
		return NewVerifier(keys, c)
	}
	a := newVerifier(Config{MaxLifetime: time.Hour})
	b := newVerifier(Config{Leeway: time.Minute})
	ctx := context.Background()
	const n = 24
	fams, jtis := make([]Issued, n), make([]Issued, n)
	for i := range n {
		fams[i], _ = iss.Issue(Grant{Subject: "u", FamilyID: "fam-" + strconv.Itoa(i)})
		jtis[i], _ = iss.Issue(Grant{Subject: "u"})
	}
	errs := make([]error, 2*n)
	var wg sync.WaitGroup
	for i := range n {
		v := []*Verifier{a, b}[i%2]
		wg.Go(func() { errs[i] = v.RevokeFamily(ctx, "u", "fam-"+strconv.Itoa(i)) })
		wg.Go(func() { errs[n+i] = v.RevokeJTI(ctx, "u", jtis[i].ID, jtis[i].ExpiresAt) })
	}
	wg.Wait()
	failed := 0
	for i, err := range errs {
		if err == nil {
			continue
		}
		failed++
		if i < n {
			err = a.RevokeFamily(ctx, "u", "fam-"+strconv.Itoa(i))
		} else {
			err = a.RevokeJTI(ctx, "u", jtis[i-n].ID, jtis[i-n].ExpiresAt)
		}
		if err != nil {
			t.Fatalf("retry %d: %v", i, err)
		}
	}
	t.Logf("%d of %d concurrent revocations returned an error and were retried", failed, 2*n)
	for _, v := range []*Verifier{a, b} {
		for i := range n {
			for _, is := range []Issued{fams[i], jtis[i]} {
				if _, err := v.Verify(ctx, is.Token); !errors.Is(err, ErrRevoked) {
					t.Fatalf("token %d: %v, want ErrRevoked", i, err)
				}
			}
		}
	}

	// A RevokeSubject whose swap applied but whose reply was lost returns
	// the error; its retry returns nil; both servers refuse the token.
	other, _ := iss.Issue(Grant{Subject: "w"})
	time.Sleep(2 * time.Millisecond)
	fs.On(faultstore.Rule{Op: faultstore.OpCAS, KeyPrefix: "jrev:", Nth: 1, Fail: true, Applied: true})
	if err := b.RevokeSubject(ctx, "w"); !errors.Is(err, faultstore.ErrInjected) {
		t.Fatalf("RevokeSubject with a lost reply: %v", err)
	}
	if err := b.RevokeSubject(ctx, "w"); err != nil {
		t.Fatalf("retry: %v", err)
	}
	for _, v := range []*Verifier{a, b} {
		if _, err := v.Verify(ctx, other.Token); !errors.Is(err, ErrRevoked) {
			t.Fatalf("after RevokeSubject: %v", err)
		}
	}
}
