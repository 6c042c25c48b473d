package jwt

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/authkit/authkit/internal/faultstore"
	"github.com/authkit/authkit/store"
)

// These tests hold JWT revocation to the revocation invariants of the
// package documentation (R1 durable, R2 races, R3 retry), forcing every
// interleaving and failure through a faultstore rather than hoping for it.

// revFixture is an issuer and a store shared by any number of verifiers,
// all on one clock. The store expires entries on that clock too, so that
// retention is observable.
type revFixture struct {
	clk  *clock
	mem  *store.Memory
	fs   *faultstore.Store
	keys *KeySet
	iss  *Issuer
}

func newRevFixture(t *testing.T) *revFixture {
	f := &revFixture{clk: newClock(), keys: mustKeySet(t, testKey(t, HS256))}
	f.mem = store.NewMemory(store.MemoryConfig{SweepInterval: -1, Now: f.clk.Now})
	t.Cleanup(func() { f.mem.Close() })
	f.fs = faultstore.New(f.mem)
	f.iss = f.issuer(0)
	return f
}

// issuer returns an issuer whose clock runs ahead of the fixture's by skew.
func (f *revFixture) issuer(skew time.Duration) *Issuer {
	return NewIssuer(f.keys, IssuerConfig{Issuer: testIssuer, Audience: []string{testAudience},
		Now: func() time.Time { return f.clk.Now().Add(skew) }})
}

func (f *revFixture) verifier(mod func(*Config)) *Verifier {
	cfg := Config{Issuer: testIssuer, Audience: testAudience, Store: f.fs, Now: f.clk.Now}
	if mod != nil {
		mod(&cfg)
	}
	return NewVerifier(f.keys, cfg)
}

func (f *revFixture) issue(t *testing.T, iss *Issuer, g Grant) Issued {
	t.Helper()
	if g.Subject == "" {
		g.Subject = "u"
	}
	is, err := iss.Issue(g)
	if err != nil {
		t.Fatal(err)
	}
	return is
}

func wantRevoked(t *testing.T, v *Verifier, tok, what string) {
	t.Helper()
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrRevoked) {
		t.Fatalf("%s: Verify = %v, want ErrRevoked", what, err)
	}
}

func wantValid(t *testing.T, v *Verifier, tok, what string) {
	t.Helper()
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("%s: Verify = %v, want valid", what, err)
	}
}

// R1: a record written by a verifier with a short MaxLifetime must last as
// long as a verifier with a longer one accepts the tokens it covers. Before
// retention stopped depending on the writer's configuration, the record
// expired after the writer's hour and the reader accepted the tokens again.
func TestRetentionDoesNotDependOnTheWriter(t *testing.T) {
	f := newRevFixture(t)
	ctx := context.Background()
	writer := f.verifier(func(c *Config) { c.MaxLifetime = time.Hour })
	reader := f.verifier(func(c *Config) { c.Leeway = MaxLeeway }) // 24 h, 5 min
	long := Grant{Lifetime: 20 * time.Hour}
	bySubject := f.issue(t, f.iss, long)
	byFamily := f.issue(t, f.iss, Grant{Lifetime: long.Lifetime, FamilyID: "fam"})
	byJTI := f.issue(t, f.iss, long)
	// The writer itself refuses these tokens (exp - iat over its hour); the
	// reader accepts them until it reads the revocation.
	for _, is := range []Issued{bySubject, byFamily, byJTI} {
		wantValid(t, reader, is.Token, "before the revocations")
	}
	if err := writer.RevokeFamily(ctx, "u", "fam"); err != nil {
		t.Fatal(err)
	}
	if err := writer.RevokeJTI(ctx, "u", byJTI.ID, byJTI.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	f.clk.Add(time.Millisecond)
	if err := writer.RevokeSubject(ctx, "u"); err != nil {
		t.Fatal(err)
	}
	// Until each token's exp plus the reader's leeway, every hour of it.
	for f.clk.Now().Before(bySubject.ExpiresAt.Add(MaxLeeway)) {
		for name, tok := range map[string]string{"subject": bySubject.Token, "family": byFamily.Token, "jti": byJTI.Token} {
			wantRevoked(t, reader, tok, name+" at "+f.clk.Now().Sub(t0).String())
		}
		f.clk.Add(time.Hour)
	}
	// And no longer than a token can live for any verifier.
	f.clk.Set(t0.Add(time.Millisecond + MaxMaxLifetime + 2*MaxLeeway))
	if _, err := f.mem.Get(ctx, revocationKey("u")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("record kept past the longest token life: %v", err)
	}
}

// A verifier refuses a MaxLifetime over MaxMaxLifetime, which the
// retention of revocation records is computed from.
func TestMaxLifetimeIsBounded(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("MaxLifetime over MaxMaxLifetime accepted")
		}
	}()
	newRevFixture(t).verifier(func(c *Config) { c.MaxLifetime = MaxMaxLifetime + time.Second })
}

// RevokeSubject's cut-off and Verify's leeway agree: a token issued just
// before the revocation by an issuer whose clock runs ahead, within the
// leeway, is refused. Each verifier applies its own leeway to the same
// record, and the collapsed record follows the same rule.
func TestRevokeSubjectCoversTheLeeway(t *testing.T) {
	f := newRevFixture(t)
	ctx := context.Background()
	const leeway = 2 * time.Minute
	lenient := f.verifier(func(c *Config) { c.Leeway = leeway })
	exact := f.verifier(nil)
	ahead := f.issuer(time.Minute)
	early := f.issue(t, ahead, Grant{}) // iat = t0 + 1 min, issued at t0
	wantValid(t, lenient, early.Token, "a token from a clock ahead, within the leeway")
	f.clk.Add(time.Millisecond)
	if err := lenient.RevokeSubject(ctx, "u"); err != nil {
		t.Fatal(err)
	}
	wantRevoked(t, lenient, early.Token, "issued before the revocation, iat ahead")

	// The cost, documented: a token issued after the revocation with an iat
	// within the leeway of it is refused by the lenient verifier, not by
	// one without leeway.
	f.clk.Add(time.Millisecond)
	soon := f.issue(t, f.iss, Grant{})
	wantRevoked(t, lenient, soon.Token, "issued 1 ms after, within the leeway")
	wantValid(t, exact, soon.Token, "issued 1 ms after, no leeway")
	f.clk.Set(t0.Add(time.Millisecond + leeway + time.Millisecond))
	wantValid(t, lenient, f.issue(t, f.iss, Grant{}).Token, "issued after the leeway")

	// The collapsed path: the watermark is the time of the collapse, and
	// the reader's leeway is added the same way.
	f.clk.Set(t0.Add(time.Hour))
	collapsing := f.verifier(func(c *Config) { c.MaxRevocations = 1 })
	early = f.issue(t, ahead, Grant{})
	for _, jti := range []string{"a", "b"} {
		if err := collapsing.RevokeJTI(ctx, "u", jti, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	if b, _ := f.mem.Get(ctx, revocationKey("u")); b == nil || mustParse(t, b).watermark != f.clk.Now().UnixMilli() {
		t.Fatalf("the record did not collapse at the current time")
	}
	wantRevoked(t, lenient, early.Token, "after the collapse, iat ahead")
}

func mustParse(t *testing.T, b []byte) *record {
	t.Helper()
	r, err := parseRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// R3: a revocation whose write fails returns the error, and calling it
// again finishes the job — whether the failed write was applied or not.
func TestRevocationWriteFailures(t *testing.T) {
	for _, applied := range []bool{false, true} {
		name := "not applied"
		if applied {
			name = "applied, reply lost"
		}
		t.Run(name, func(t *testing.T) {
			f := newRevFixture(t)
			ctx := context.Background()
			v := f.verifier(nil)
			a := f.issue(t, f.iss, Grant{FamilyID: "fam"})
			b := f.issue(t, f.iss, Grant{})
			f.clk.Add(time.Millisecond)
			for _, revoke := range []func() error{
				func() error { return v.RevokeFamily(ctx, "u", "fam") },
				func() error { return v.RevokeJTI(ctx, "u", b.ID, b.ExpiresAt) },
				func() error { return v.RevokeSubject(ctx, "w") },
			} {
				f.fs.Reset()
				f.fs.On(faultstore.Rule{Op: faultstore.OpCAS, KeyPrefix: "jrev:", Nth: 1, Fail: true, Applied: applied})
				if err := revoke(); !errors.Is(err, faultstore.ErrInjected) {
					t.Fatalf("first attempt: %v, want the store's error", err)
				}
				if err := revoke(); err != nil {
					t.Fatalf("retry: %v", err)
				}
			}
			wantRevoked(t, v, a.Token, "family")
			wantRevoked(t, v, b.Token, "jti")
			if f.fs.Count(faultstore.OpGet, "jrev:") == 0 {
				t.Fatal("the faultstore saw no calls")
			}
		})
	}
}

// R3 under contention: a revocation that loses every round to other writers
// returns ErrConflict — never nil — and lands when called again.
func TestRevocationConflictIsReturned(t *testing.T) {
	f := newRevFixture(t)
	ctx := context.Background()
	v := f.verifier(nil)
	is := f.issue(t, f.iss, Grant{FamilyID: "fam"})
	// Before each of our swaps, another writer changes the record.
	n := 0
	f.fs.On(faultstore.Rule{Op: faultstore.OpCAS, KeyPrefix: "jrev:", Before: func(ctx context.Context, c faultstore.Call) {
		n++
		r := &record{}
		r.add(kindJTI, revHash(kindJTI, "other"), f.clk.Now().Add(time.Hour).UnixMilli()+int64(n))
		b, _ := r.encode()
		if err := f.mem.Set(ctx, c.Key, b, f.clk.Now().Add(time.Hour)); err != nil {
			t.Error(err)
		}
	}})
	if err := v.RevokeFamily(ctx, "u", "fam"); !errors.Is(err, ErrConflict) {
		t.Fatalf("RevokeFamily = %v, want ErrConflict", err)
	}
	if n < 2 {
		t.Fatalf("%d attempts", n)
	}
	wantValid(t, v, is.Token, "a revocation that returned an error did not happen")
	f.fs.Reset()
	if err := v.RevokeFamily(ctx, "u", "fam"); err != nil {
		t.Fatal(err)
	}
	wantRevoked(t, v, is.Token, "after the retry")
}

// R1 under contention: 24 concurrent family revocations of one subject on a
// store whose every call takes a millisecond. Each returns nil and is in
// effect, or returns an error; none is dropped.
func TestConcurrentFamilyRevocationsOnASlowStore(t *testing.T) {
	f := newRevFixture(t)
	ctx := context.Background()
	v := f.verifier(func(c *Config) { c.CacheSize = -1 })
	f.fs.On(faultstore.Rule{KeyPrefix: "jrev:", Before: func(context.Context, faultstore.Call) { time.Sleep(time.Millisecond) }})
	const n = 24
	toks := make([]Issued, n)
	for i := range toks {
		toks[i] = f.issue(t, f.iss, Grant{FamilyID: "fam-" + string(rune('a'+i))})
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = v.RevokeFamily(ctx, "u", "fam-"+string(rune('a'+i))) })
	}
	wg.Wait()
	f.fs.Reset()
	landed := 0
	for i, err := range errs {
		if err != nil {
			// The caller was told; its retry finishes the job.
			if err := v.RevokeFamily(ctx, "u", "fam-"+string(rune('a'+i))); err != nil {
				t.Fatalf("retry %d: %v", i, err)
			}
		} else {
			landed++
		}
		wantRevoked(t, v, toks[i].Token, "family "+string(rune('a'+i)))
	}
	t.Logf("%d of %d concurrent revocations landed at once, %d returned an error", landed, n, n-landed)
	if got := len(f.record(t)); got != n {
		t.Fatalf("record holds %d families, want %d", got, n)
	}
}

func (f *revFixture) record(t *testing.T) []revEntry {
	t.Helper()
	b, err := f.mem.Get(context.Background(), revocationKey("u"))
	if err != nil {
		t.Fatal(err)
	}
	return mustParse(t, b).entries
}

// R2 for tokens issued without the store: RevokeSubject's watermark is the
// time it read in the attempt that won, inside the call. A token issued
// before that instant (by any clock within the leeway) is refused; one
// issued after it — while the swap is still on its way — counts as issued
// after the revocation, like a sign-in just after it. Tokens issued from a
// refresh family are covered by the family's revocation as well (see the
// jwtpair package).
func TestRevokeSubjectLinearizesAtItsWatermark(t *testing.T) {
	f := newRevFixture(t)
	ctx := context.Background()
	v := f.verifier(nil)
	var before, after Issued
	f.fs.On(faultstore.Rule{Op: faultstore.OpCAS, KeyPrefix: "jrev:", Nth: 1, Before: func(context.Context, faultstore.Call) {
		before = f.issue(t, f.iss, Grant{}) // at the watermark's millisecond
		f.clk.Add(time.Millisecond)
		after = f.issue(t, f.iss, Grant{}) // a millisecond later, swap not landed yet
	}})
	if err := v.RevokeSubject(ctx, "u"); err != nil {
		t.Fatal(err)
	}
	wantRevoked(t, v, before.Token, "issued at the watermark, during the call")
	wantValid(t, v, after.Token, "issued after the watermark")
}
