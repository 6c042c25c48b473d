package jwtpair

import (
	"context"
	"errors"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/internal/faultstore"
	"github.com/authkit/authkit/token"
)

// These tests hold the pair to the revocation invariants (R1–R5 in the jwt
// and token package documentation), forcing interleavings and failures
// with a faultstore.

// New connects the token manager's family revocations to the verifier: a
// token manager built with a zero Config ends the JWTs of every family it
// revokes, however it revokes it.
func TestNewConnectsFamilyRevocation(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	for name, revoke := range map[string]func(p Pair) error{
		"RevokeFamily":  func(p Pair) error { return f.tokens.RevokeFamily(ctx, p.Family.Subject, p.Family.ID) },
		"RevokeToken":   func(p Pair) error { return f.tokens.RevokeToken(ctx, p.Refresh) },
		"RevokeSubject": func(p Pair) error { return f.tokens.RevokeSubject(ctx, p.Family.Subject) },
		"reuse": func(p Pair) error {
			if _, err := f.pairs.Refresh(ctx, p.Refresh, ""); err != nil {
				return err
			}
			_, err := f.pairs.Refresh(ctx, p.Refresh, "")
			if !errors.Is(err, token.ErrReused) {
				return err
			}
			return nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			p := f.issue(t, "user-"+name)
			other := f.issue(t, "user-"+name)
			f.wantValid(t, p.Access.Token, "before")
			if err := revoke(p); err != nil {
				t.Fatal(err)
			}
			f.wantRevoked(t, p.Access.Token, "the family's JWT")
			if name != "RevokeSubject" {
				f.wantValid(t, other.Access.Token, "another family's JWT")
			}
		})
	}
}

// R3: when the JWT revocation fails, the family's revocation returns an
// error (it is not only logged), and calling it again finishes the job —
// whether the failed write was applied or not.
func TestJWTRevocationFailureIsReturned(t *testing.T) {
	for _, applied := range []bool{false, true} {
		t.Run("applied="+strconv.FormatBool(applied), func(t *testing.T) {
			f := newFixture(t, nil)
			ctx := context.Background()
			p := f.issue(t, "alice")
			f.fs.On(faultstore.Rule{Op: faultstore.OpCAS, KeyPrefix: "jrev:", Nth: 1, Fail: true, Applied: applied})
			if err := f.tokens.RevokeFamily(ctx, "alice", p.Family.ID); !errors.Is(err, faultstore.ErrInjected) {
				t.Fatalf("RevokeFamily = %v, want the JWT revocation's error", err)
			}
			if !applied {
				f.wantValid(t, p.Access.Token, "the JWT revocation failed")
			}
			if err := f.tokens.RevokeFamily(ctx, "alice", p.Family.ID); err != nil {
				t.Fatalf("retry: %v", err)
			}
			f.wantRevoked(t, p.Access.Token, "after the retry")
		})
	}
}

// R3 through the logout endpoint: a logout whose JWT revocation fails
// answers 503 and keeps the cookie, so that the client retries; the
// family's refresh token is dead already, and presenting it again finishes
// the revocation of the family's JWTs.
func TestLogoutRetryFinishes(t *testing.T) {
	f := newFixture(t, nil)
	p := f.issue(t, "bob")
	f.fs.On(faultstore.Rule{Op: faultstore.OpCAS, KeyPrefix: "jrev:", Nth: 1, Fail: true})
	h := f.pairs.Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, refreshRequest("DELETE", string(p.Refresh)))
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || strings.Contains(rec.Header().Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("logout with the JWT revocation failing: %d %v", rec.Code, rec.Header())
	}
	f.wantValid(t, p.Access.Token, "the JWT revocation failed")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, refreshRequest("POST", string(p.Refresh)))
	if rec.Code != 400 {
		t.Fatalf("refresh with the logged-out cookie: %d", rec.Code)
	}
	f.wantRevoked(t, p.Access.Token, "after the retry")
}

// The same logout retried as the browser retries it, by DELETE with the
// same cookie: the retry finishes the revocation, JWTs included.
func TestLogoutRetriedByDeleteFinishes(t *testing.T) {
	f := newFixture(t, nil)
	p := f.issue(t, "bob")
	f.fs.On(faultstore.Rule{Op: faultstore.OpCAS, KeyPrefix: "jrev:", Nth: 1, Fail: true})
	h := f.pairs.Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, refreshRequest("DELETE", string(p.Refresh)))
	if rec.Code != 503 {
		t.Fatalf("logout with the JWT revocation failing: %d", rec.Code)
	}
	f.wantValid(t, p.Access.Token, "the JWT revocation failed")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, refreshRequest("DELETE", string(p.Refresh)))
	if rec.Code/100 != 2 {
		t.Fatalf("logout retried: %d", rec.Code)
	}
	f.wantRevoked(t, p.Access.Token, "after the logout was retried")
}

// R1 under contention: 24 concurrent family revocations of one subject on
// a store whose every call takes a millisecond (an attacker holding several
// of the victim's JWTs can cause this through the logout endpoint). Each
// returns nil and the family's JWT is refused, or returns an error and a
// retry finishes it; none is dropped.
func TestConcurrentFamilyRevocationsLand(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	const n = 24
	pairs := make([]Pair, n)
	for i := range pairs {
		pairs[i] = f.issue(t, "victim")
	}
	f.fs.On(faultstore.Rule{Before: func(context.Context, faultstore.Call) { time.Sleep(time.Millisecond) }})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = f.tokens.RevokeFamily(ctx, "victim", pairs[i].Family.ID) })
	}
	wg.Wait()
	f.fs.Reset()
	landed := 0
	for i, err := range errs {
		if err == nil {
			landed++
		} else if err := f.tokens.RevokeFamily(ctx, "victim", pairs[i].Family.ID); err != nil {
			t.Fatalf("retry %d: %v", i, err)
		}
		f.wantRevoked(t, pairs[i].Access.Token, "family "+strconv.Itoa(i))
	}
	t.Logf("%d of %d concurrent family revocations landed at once, %d returned an error", landed, n, n-landed)
}

// R2: a refresh racing RevokeSubject. The rotation lands first; then, before
// the access token is signed, the subject is revoked everywhere, and the
// clock moves on, so that the new JWT's iat is after the watermark. What
// the refresh hands out must be refused: the JWT through its family.
func TestRefreshRacingRevokeSubject(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	p := f.issue(t, "carol")
	f.fs.On(faultstore.Rule{Op: faultstore.OpCAS, KeyPrefix: "rtf:", Nth: 1, After: func(ctx context.Context, c faultstore.Call) {
		if err := authkit.RevokeSubject(ctx, "carol", f.tokens, f.ver); err != nil {
			t.Error(err)
		}
		f.clk.Add(time.Millisecond)
	}})
	next, err := f.pairs.Refresh(ctx, p.Refresh, "")
	if f.fs.Count(faultstore.OpCAS, "jrev:") == 0 {
		t.Fatal("the revocation did not run in between")
	}
	if err != nil {
		return // refused: nothing handed out
	}
	f.wantRevoked(t, next.Access.Token, "the JWT the racing refresh returned")
	if _, err := f.pairs.Refresh(ctx, next.Refresh, ""); !errors.Is(err, authkit.ErrInvalidCredentials) {
		t.Fatalf("the refresh token the racing refresh returned: %v", err)
	}
}

// R5: a refresh whose rotation landed but whose access token could not be
// signed hands the client the successor (the handler sets it in the cookie
// with its 503), so that the retry is no reuse and the user stays signed in.
func TestRefreshWithoutAccessTokenKeepsTheSuccessor(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	p := f.issue(t, "dave")

	f.signer.fail.Store(true)
	got, err := f.pairs.Refresh(ctx, p.Refresh, "")
	if !errors.Is(err, ErrNoAccessToken) || got.Refresh == "" || got.Refresh == p.Refresh || got.Access.Token != "" {
		t.Fatalf("Refresh with the signer down: %v, %v", got, err)
	}

	h := f.pairs.Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, refreshRequest("POST", string(got.Refresh)))
	sc := rec.Header().Get("Set-Cookie")
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || !strings.Contains(sc, DefaultRefreshCookie+"=") || strings.Contains(sc, "Max-Age=0") {
		t.Fatalf("handler with the signer down: %d, Set-Cookie %q", rec.Code, sc)
	}
	successor := strings.TrimPrefix(strings.SplitN(sc, ";", 2)[0], DefaultRefreshCookie+"=")

	f.signer.fail.Store(false)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, refreshRequest("POST", successor))
	if rec.Code != 200 {
		t.Fatalf("the retry with the cookie it was given: %d %s", rec.Code, rec.Body)
	}
	fams, err := f.tokens.Families(ctx, "dave")
	if err != nil || len(fams) != 1 || fams[0].Revoked {
		t.Fatalf("the family after the retry: %+v, %v", fams, err)
	}
}

// A sign-in whose access token cannot be signed revokes the family it
// started, which nobody holds.
func TestIssueWithoutAccessTokenEndsTheFamily(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	f.signer.fail.Store(true)
	if _, err := f.pairs.Issue(ctx, "erin", token.FamilyOptions{}); !errors.Is(err, ErrNoAccessToken) {
		t.Fatalf("Issue with the signer down: %v", err)
	}
	fams, err := f.tokens.Families(ctx, "erin")
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range fams {
		if !fam.Revoked {
			t.Fatalf("family %+v left live", fam)
		}
	}
}

// R5 for a lost store reply: the rotation applied but its reply was lost.
// The token manager reads the family back and the refresh succeeds, so
// the client never retries with the rotated-out token.
func TestRefreshWithALostReply(t *testing.T) {
	f := newFixture(t, nil)
	p := f.issue(t, "frank")
	f.fs.On(faultstore.Rule{Op: faultstore.OpCAS, KeyPrefix: "rtf:", Nth: 1, Fail: true, Applied: true})
	rec := httptest.NewRecorder()
	f.pairs.Handler().ServeHTTP(rec, refreshRequest("POST", string(p.Refresh)))
	if rec.Code != 200 {
		t.Fatalf("refresh with a lost reply: %d %s", rec.Code, rec.Body)
	}
	if f.fs.Count(faultstore.OpCAS, "rtf:") == 0 {
		t.Fatal("no rotation seen")
	}
	f.wantValid(t, p.Access.Token, "the family is not revoked")
}

// Verification of a pair's JWT stays one store read: the revocation record.
func TestVerifyIsOneStoreRead(t *testing.T) {
	f := newFixture(t, nil)
	p := f.issue(t, "gina")
	for i := range 3 { // the first is a full verification, then the cache
		before := len(f.fs.Calls())
		f.wantValid(t, p.Access.Token, "verify")
		calls := f.fs.Calls()[before:]
		if len(calls) != 1 || calls[0].Op != faultstore.OpGet || !strings.HasPrefix(calls[0].Key, "jrev:") {
			t.Fatalf("verification %d made %+v", i, calls)
		}
	}
}
