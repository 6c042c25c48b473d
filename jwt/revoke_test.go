package jwt

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/authkit/authkit"
)

func TestWatermarkMilliseconds(t *testing.T) {
	// Tokens of an Issuer carry iat to the millisecond: a token issued one
	// millisecond after RevokeSubject passes, one issued at the same
	// millisecond or before does not.
	f := newFixture(t, mustKeySet(t, testKey(t, HS256)), nil)
	ctx := context.Background()
	at := func(ms int) string {
		f.clk.Set(t0.Add(time.Duration(ms) * time.Millisecond))
		return f.issue(t, Grant{Subject: "u"}).Token
	}
	before, same := at(50), at(100)
	f.clk.Set(t0.Add(100 * time.Millisecond))
	if err := f.ver.RevokeSubject(ctx, "u"); err != nil {
		t.Fatal(err)
	}
	after, laterInSecond, nextSecond := at(101), at(900), at(1200)
	f.clk.Set(t0.Add(2 * time.Second))
	for name, c := range map[string]struct {
		tok     string
		revoked bool
	}{
		"50 ms, before":            {before, true},
		"100 ms, same millisecond": {same, true},
		"101 ms, after":            {after, false},
		"900 ms, same second":      {laterInSecond, false},
		"1200 ms, next second":     {nextSecond, false},
	} {
		_, err := f.ver.Verify(ctx, c.tok)
		if c.revoked != errors.Is(err, ErrRevoked) || !c.revoked && err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Another subject is not affected.
	f.clk.Set(t0)
	other := f.issue(t, Grant{Subject: "v"}).Token
	if _, err := f.ver.Verify(ctx, other); err != nil {
		t.Fatal(err)
	}
}

func TestWatermarkWholeSeconds(t *testing.T) {
	// An iat in whole seconds (another issuer) is read as the start of its
	// second: a token of the revocation's second is refused, whether it was
	// issued before or after; the next second passes.
	k := testKey(t, HS256)
	f := newFixture(t, mustKeySet(t, k), nil)
	ctx := context.Background()
	tok := func(iat time.Time, jti string) string {
		return forge(hdr("HS256", k.ID()), claimsJSON(map[string]any{"iat": iat.Unix(), "exp": iat.Add(5 * time.Minute).Unix(), "jti": jti}), withKey(t, k))
	}
	f.clk.Set(t0.Add(999 * time.Millisecond))
	if err := f.ver.RevokeSubject(ctx, "user-1"); err != nil {
		t.Fatal(err)
	}
	f.clk.Set(t0.Add(3 * time.Second))
	for _, c := range []struct {
		iat     time.Time
		revoked bool
	}{
		{t0.Add(-time.Second), true},
		{t0, true},
		{t0.Add(time.Second), false},
	} {
		_, err := f.ver.Verify(ctx, tok(c.iat, fmt.Sprint(c.iat.Unix())))
		if c.revoked != errors.Is(err, ErrRevoked) || !c.revoked && err != nil {
			t.Errorf("iat %v: %v", c.iat.Unix(), err)
		}
	}
}

func TestRevokeJTIAndFamily(t *testing.T) {
	f := newFixture(t, mustKeySet(t, testKey(t, HS256)), nil)
	ctx := context.Background()
	a := f.issue(t, Grant{Subject: "u", FamilyID: "fam-1"})
	b := f.issue(t, Grant{Subject: "u", FamilyID: "fam-2"})
	c := f.issue(t, Grant{Subject: "u"})
	d := f.issue(t, Grant{Subject: "w", FamilyID: "fam-1"}) // same family name, other subject
	for _, is := range []Issued{a, b, c, d} {
		if _, err := f.ver.Verify(ctx, is.Token); err != nil {
			t.Fatal(err) // cached now: revocation must still be seen
		}
	}
	if err := f.ver.RevokeJTI(ctx, "u", c.ID, c.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	if err := f.ver.RevokeFamily(ctx, "u", "fam-1"); err != nil {
		t.Fatal(err)
	}
	for name, cs := range map[string]struct {
		tok  string
		want error
	}{
		"family revoked":         {a.Token, ErrRevoked},
		"other family":           {b.Token, nil},
		"jti revoked":            {c.Token, ErrRevoked},
		"other subject's family": {d.Token, nil},
	} {
		_, err := f.ver.Verify(ctx, cs.tok)
		if cs.want == nil && err != nil || cs.want != nil && !errors.Is(err, cs.want) {
			t.Errorf("%s: %v", name, err)
		}
		if cs.want != nil && !errors.Is(err, authkit.ErrInvalidCredentials) {
			t.Errorf("%s: %v is not invalid credentials", name, err)
		}
	}
	// Revoking twice is harmless; empty arguments are refused.
	if err := f.ver.RevokeJTI(ctx, "u", c.ID, c.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	if err := f.ver.RevokeJTI(ctx, "u", "", c.ExpiresAt); err == nil {
		t.Fatal("empty jti accepted")
	}
	if err := f.ver.RevokeFamily(ctx, "", "f"); err == nil {
		t.Fatal("empty subject accepted")
	}
	if err := f.ver.RevokeFamily(ctx, "u", ""); err == nil {
		t.Fatal("empty family accepted")
	}
	r := f.record(t, "u")
	if len(r.entries) != 2 {
		t.Fatalf("record holds %d entries", len(r.entries))
	}
}

func (f *fixture) record(t *testing.T, subject string) *record {
	t.Helper()
	b, err := f.store.Get(context.Background(), revocationKey(subject))
	if err != nil {
		t.Fatal(err)
	}
	r, err := parseRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRevocationPruning(t *testing.T) {
	f := newFixture(t, mustKeySet(t, testKey(t, HS256)), func(c *Config) { c.Leeway = 10 * time.Second })
	ctx := context.Background()
	short := f.issue(t, Grant{Subject: "u", Lifetime: time.Minute})
	if err := f.ver.RevokeJTI(ctx, "u", short.ID, short.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	if err := f.ver.RevokeJTI(ctx, "u", "no-expiry-given", time.Time{}); err != nil {
		t.Fatal(err)
	}
	// Retention does not depend on the writer's Leeway or MaxLifetime: a
	// jti is kept until exp + MaxLeeway, an entry without expiry for
	// MaxMaxLifetime + 2×MaxLeeway.
	r := f.record(t, "u")
	if len(r.entries) != 2 || r.entries[0].until != short.ExpiresAt.Add(MaxLeeway).UnixMilli() || r.entries[1].until != t0.Add(MaxMaxLifetime+2*MaxLeeway).UnixMilli() {
		t.Fatalf("entries %+v", r.entries)
	}
	// After exp + MaxLeeway, the next update drops the entry.
	f.clk.Add(time.Minute + MaxLeeway)
	if err := f.ver.RevokeFamily(ctx, "u", "f"); err != nil {
		t.Fatal(err)
	}
	r = f.record(t, "u")
	if len(r.entries) != 2 || r.entries[0].kind != kindJTI || r.entries[1].kind != kindFamily {
		t.Fatalf("after pruning: %+v", r.entries)
	}
	// A jti already past its exp + leeway is not stored at all.
	if err := f.ver.RevokeJTI(ctx, "x", "old", t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Get(ctx, revocationKey("x")); err == nil {
		t.Fatal("a record was written for nothing")
	}
	// Once everything has expired, an update deletes the record.
	f.clk.Add(25 * time.Hour)
	if err := f.ver.RevokeJTI(ctx, "u", "old", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Get(ctx, revocationKey("u")); err == nil {
		t.Fatal("empty record kept")
	}
}

func TestRevocationCapCollapses(t *testing.T) {
	f := newFixture(t, mustKeySet(t, testKey(t, HS256)), func(c *Config) { c.MaxRevocations = 3 })
	ctx := context.Background()
	var toks []Issued
	for range 5 {
		toks = append(toks, f.issue(t, Grant{Subject: "u"}))
	}
	for _, is := range toks[:3] {
		if err := f.ver.RevokeJTI(ctx, "u", is.ID, is.ExpiresAt); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.ver.Verify(ctx, toks[4].Token); err != nil {
		t.Fatalf("unrevoked token before the cap: %v", err)
	}
	f.clk.Add(time.Millisecond)
	if err := f.ver.RevokeJTI(ctx, "u", toks[3].ID, toks[3].ExpiresAt); err != nil {
		t.Fatal(err)
	}
	r := f.record(t, "u")
	if len(r.entries) != 0 || r.watermark != t0.Add(time.Millisecond).UnixMilli() {
		t.Fatalf("record after overflow: %+v", r)
	}
	// Every token so far is revoked, including the one never named.
	for i, is := range toks {
		if _, err := f.ver.Verify(ctx, is.Token); !errors.Is(err, ErrRevoked) {
			t.Fatalf("token %d: %v", i, err)
		}
	}
	f.clk.Add(time.Millisecond)
	if _, err := f.ver.Verify(ctx, f.issue(t, Grant{Subject: "u"}).Token); err != nil {
		t.Fatalf("new token after the collapse: %v", err)
	}
}

func TestConcurrentRevocations(t *testing.T) {
	f := newFixture(t, mustKeySet(t, testKey(t, HS256)), nil)
	ctx := context.Background()
	var toks []Issued
	for range 24 {
		toks = append(toks, f.issue(t, Grant{Subject: "u"}))
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(toks))
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < len(toks); i += 4 {
				if err := f.ver.RevokeJTI(ctx, "u", toks[i].ID, toks[i].ExpiresAt); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, is := range toks {
		if _, err := f.ver.Verify(ctx, is.Token); !errors.Is(err, ErrRevoked) {
			t.Fatalf("token %d: %v (a concurrent update was lost)", i, err)
		}
	}
}

func TestRevokeToken(t *testing.T) {
	f := newFixture(t, mustKeySet(t, testKey(t, HS256)), nil)
	ctx := context.Background()
	a, b := f.issue(t, Grant{Subject: "u"}), f.issue(t, Grant{Subject: "u"})
	if err := f.ver.RevokeToken(ctx, a.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ver.Verify(ctx, a.Token); !errors.Is(err, ErrRevoked) {
		t.Fatal(err)
	}
	if _, err := f.ver.Verify(ctx, b.Token); err != nil {
		t.Fatal(err)
	}
	if err := f.ver.RevokeToken(ctx, a.Token); err != nil {
		t.Fatalf("revoking twice: %v", err)
	}
	if err := f.ver.RevokeToken(ctx, "garbage"); !errors.Is(err, ErrMalformed) {
		t.Fatalf("garbage: %v", err)
	}
	f.clk.Add(time.Hour)
	if err := f.ver.RevokeToken(ctx, b.Token); err != nil {
		t.Fatalf("expired token: %v", err)
	}
	// A valid token without jti cannot be revoked alone.
	k := testKey(t, HS256)
	f.clk.Set(t0)
	noJTI := forge(hdr("HS256", k.ID()), claimsJSON(map[string]any{"jti": nil}), withKey(t, k))
	if err := f.ver.RevokeToken(ctx, noJTI); !errors.Is(err, ErrInvalidClaims) {
		t.Fatalf("no jti: %v", err)
	}
}

func TestRevocationDisabled(t *testing.T) {
	ks := mustKeySet(t, testKey(t, HS256))
	v := NewVerifier(ks, Config{InsecureDisableRevocation: true})
	iss := NewIssuer(ks, IssuerConfig{})
	is, _ := iss.Issue(Grant{Subject: "u"})
	ctx := context.Background()
	if _, err := v.Verify(ctx, is.Token); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"RevokeSubject": v.RevokeSubject(ctx, "u"),
		"RevokeJTI":     v.RevokeJTI(ctx, "u", "j", time.Time{}),
		"RevokeFamily":  v.RevokeFamily(ctx, "u", "f"),
		"RevokeToken":   v.RevokeToken(ctx, is.Token),
	} {
		if !errors.Is(err, ErrRevocationDisabled) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCorruptRecord(t *testing.T) {
	f := newFixture(t, mustKeySet(t, testKey(t, HS256)), nil)
	ctx := context.Background()
	is := f.issue(t, Grant{Subject: "u"})
	for _, rec := range [][]byte{{9}, {1, 2, 3}, append(make([]byte, 19), 0, 0, 1)} {
		if rec[0] == 0 {
			rec[0] = recordVersion
			rec[18] = 2 // claims 2 entries, holds none
		}
		if err := f.store.Set(ctx, revocationKey("u"), rec, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		_, err := f.ver.Verify(ctx, is.Token)
		if !errors.Is(err, errCorruptRecord) || errors.Is(err, authkit.ErrInvalidCredentials) {
			t.Fatalf("record %x: %v", rec, err)
		}
		if err := f.ver.RevokeSubject(ctx, "u"); !errors.Is(err, errCorruptRecord) {
			t.Fatalf("update of record %x: %v", rec, err)
		}
	}
}

func TestRecordRoundTrip(t *testing.T) {
	r := &record{watermark: 5, wmUntil: 9}
	r.add(kindJTI, revHash(kindJTI, "a"), 20)
	r.add(kindFamily, revHash(kindFamily, "a"), 30)
	r.add(kindJTI, revHash(kindJTI, "a"), 25) // same entry: until raised
	b, until := r.encode()
	if until != 30 {
		t.Fatalf("until %d", until)
	}
	back, err := parseRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.watermark != 5 || back.wmUntil != 9 || len(back.entries) != 2 || back.entries[0].until != 25 {
		t.Fatalf("%+v", back)
	}
	if revHash(kindJTI, "a") == revHash(kindFamily, "a") {
		t.Fatal("jti and family hashes collide")
	}
	long := string(make([]byte, 500))
	if revHash(kindJTI, long) == revHash(kindJTI, long[:499]) {
		t.Fatal("long values collide")
	}
}

// A collapse must not bring back a token revoked by jti whose iat is ahead
// of the verifier's clock (accepted up to the leeway).
func TestRevocationCollapseCoversLeeway(t *testing.T) {
	f := newFixture(t, mustKeySet(t, testKey(t, HS256)), func(c *Config) {
		c.MaxRevocations = 2
		c.Leeway = 2 * time.Minute
	})
	ctx := context.Background()
	ahead := NewIssuer(f.keys, IssuerConfig{Issuer: testIssuer, Audience: []string{testAudience},
		Now: func() time.Time { return f.clk.Now().Add(time.Minute) }})
	early, err := ahead.Issue(Grant{Subject: "u"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ver.Verify(ctx, early.Token); err != nil {
		t.Fatalf("token from a clock a minute ahead, within the leeway: %v", err)
	}
	if err := f.ver.RevokeJTI(ctx, "u", early.ID, early.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	for range 2 { // overflow the record: it collapses into a watermark
		is := f.issue(t, Grant{Subject: "u"})
		if err := f.ver.RevokeJTI(ctx, "u", is.ID, is.ExpiresAt); err != nil {
			t.Fatal(err)
		}
	}
	if r := f.record(t, "u"); len(r.entries) != 0 {
		t.Fatalf("record did not collapse: %+v", r)
	}
	f.ver = NewVerifier(f.keys, Config{Issuer: testIssuer, Audience: testAudience, Store: f.store, Now: f.clk.Now, Leeway: 2 * time.Minute})
	if _, err := f.ver.Verify(ctx, early.Token); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked token after the collapse: %v, want ErrRevoked", err)
	}
}
