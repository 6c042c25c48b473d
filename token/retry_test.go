package token

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/internal/faultstore"
)

// rotation selects the swap that rotates the family from generation gen.
func rotation(gen uint64) func(faultstore.Call) bool {
	return func(c faultstore.Call) bool {
		f, err := decodeFamily(c.New)
		return err == nil && !f.revoked && f.gen == gen+1
	}
}

// TestRefreshPairFailureIsNoReuse fails each store write of a RefreshPair
// — before it takes effect, or after (a lost reply) — and retries with the
// same refresh token, as a client does after an error: the retry must
// succeed, never count as reuse.
func TestRefreshPairFailureIsNoReuse(t *testing.T) {
	cases := []struct {
		name string
		rule faultstore.Rule
	}{
		{"access token write fails", faultstore.Rule{KeyPrefix: accessNS, Match: isWrite, Fail: true}},
		{"access token write reply lost", faultstore.Rule{KeyPrefix: accessNS, Match: isWrite, Fail: true, Applied: true}},
		{"first family write fails", faultstore.Rule{Op: faultstore.OpCAS, KeyPrefix: familyNS, Fail: true}},
		{"first family write reply lost", faultstore.Rule{Op: faultstore.OpCAS, KeyPrefix: familyNS, Fail: true, Applied: true}},
		{"rotation fails", faultstore.Rule{Op: faultstore.OpCAS, KeyPrefix: familyNS, Match: rotation(0), Fail: true}},
		{"rotation reply lost", faultstore.Rule{Op: faultstore.OpCAS, KeyPrefix: familyNS, Match: rotation(0), Fail: true, Applied: true}},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				var ev events
				e := newFaultEnv(t, b, Config{Events: ev.fn})
				ctx := context.Background()
				p, err := e.m.IssuePair(ctx, "alice", FamilyOptions{})
				if err != nil {
					t.Fatal(err)
				}
				r := c.rule
				r.Nth = 1
				e.fs.On(r)
				got, err := e.m.RefreshPair(ctx, p.Refresh, "")
				e.fs.Reset()
				if err != nil {
					if errors.Is(err, authkit.ErrInvalidCredentials) {
						t.Fatalf("a store failure refused the token: %v", err)
					}
					// The client retries with the same token.
					got, err = e.m.RefreshPair(ctx, p.Refresh, "")
					if err != nil {
						t.Fatalf("retry after a failed refresh: %v", err)
					}
				}
				if ev.count(authkit.EventRefreshReuse) != 0 {
					t.Fatal("reuse reported")
				}
				if _, err := e.m.Verify(ctx, got.Access); err != nil {
					t.Fatalf("new access token: %v", err)
				}
				if _, err := e.m.RefreshPair(ctx, got.Refresh, ""); err != nil {
					t.Fatalf("the family after the retry: %v", err)
				}
			})
		}
	})
}

// TestRefreshRotationReplyLost loses the reply of Refresh's rotation: the
// rotation took effect, and Refresh returns it as a success, having read
// the family back.
func TestRefreshRotationReplyLost(t *testing.T) {
	e := newFaultEnv(t, memoryBackend, Config{})
	ctx := context.Background()
	rt, _, err := e.m.IssueRefresh(ctx, "alice", FamilyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.fs.On(faultstore.Rule{Op: faultstore.OpCAS, KeyPrefix: familyNS, Match: rotation(0), Nth: 1, Fail: true, Applied: true})
	next, fam, err := e.m.Refresh(ctx, rt, "")
	if err != nil || fam.Generation != 1 {
		t.Fatalf("Refresh after a lost reply: %+v, %v; want the rotation", fam, err)
	}
	if _, _, err := e.m.Refresh(ctx, next, ""); err != nil {
		t.Fatalf("the successor: %v", err)
	}
}

// TestRefreshUnknownOutcomeBoundedByGrace loses the rotation's reply and
// fails the read that would tell what happened: the client gets an error
// for a rotation that took effect. That is the one case where its retry
// is reuse — unless it comes within Config.Grace, which returns the
// successor.
func TestRefreshUnknownOutcomeBoundedByGrace(t *testing.T) {
	for _, grace := range []time.Duration{0, time.Second} {
		t.Run("grace="+grace.String(), func(t *testing.T) {
			e := newFaultEnv(t, memoryBackend, Config{Grace: grace})
			ctx := context.Background()
			p, err := e.m.IssuePair(ctx, "alice", FamilyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var rotated atomic.Bool
			e.fs.On(faultstore.Rule{Op: faultstore.OpCAS, KeyPrefix: familyNS, Match: rotation(0), Nth: 1, Fail: true, Applied: true,
				After: func(context.Context, faultstore.Call) { rotated.Store(true) }})
			e.fs.On(faultstore.Rule{Op: faultstore.OpGet, KeyPrefix: familyNS, Match: func(faultstore.Call) bool { return rotated.Load() }, Nth: 1, Fail: true})
			if _, err := e.m.RefreshPair(ctx, p.Refresh, ""); err == nil || errors.Is(err, authkit.ErrInvalidCredentials) {
				t.Fatalf("RefreshPair with its outcome unknown: %v, want a store error", err)
			}
			e.fs.Reset()
			e.clock.Add(grace / 2)
			_, err = e.m.RefreshPair(ctx, p.Refresh, "")
			if grace == 0 && !errors.Is(err, ErrReused) {
				t.Fatalf("retry without a grace window: %v, want ErrReused (the documented case)", err)
			}
			if grace > 0 && err != nil {
				t.Fatalf("retry within the grace window: %v", err)
			}
		})
	}
}

// TestRefreshPairRacingRevokeSubject runs RevokeSubject between each two
// store calls of a RefreshPair: the pair it returns, if any, is refused
// once RevokeSubject has returned.
func TestRefreshPairRacingRevokeSubject(t *testing.T) {
	probe := newFaultEnv(t, memoryBackend, Config{})
	ctx := context.Background()
	p0, _ := probe.m.IssuePair(ctx, "alice", FamilyOptions{})
	before := len(probe.fs.Calls())
	if _, err := probe.m.RefreshPair(ctx, p0.Refresh, ""); err != nil {
		t.Fatal(err)
	}
	n := len(probe.fs.Calls()) - before
	for i := 1; i <= n; i++ {
		for _, after := range []bool{false, true} {
			e := newFaultEnv(t, memoryBackend, Config{})
			p, _ := e.m.IssuePair(ctx, "alice", FamilyOptions{})
			seq := len(e.fs.Calls()) + i
			hook := func(ctx context.Context, c faultstore.Call) {
				if err := e.m.RevokeSubject(ctx, "alice"); err != nil {
					t.Errorf("RevokeSubject: %v", err)
				}
			}
			r := faultstore.Rule{Match: func(c faultstore.Call) bool { return c.Seq == seq }}
			if after {
				r.After = hook
			} else {
				r.Before = hook
			}
			e.fs.On(r)
			got, err := e.m.RefreshPair(ctx, p.Refresh, "")
			e.fs.Reset()
			if err != nil {
				continue
			}
			if _, err := e.m.Verify(ctx, got.Access); err == nil {
				t.Errorf("call %d (after=%v): the access token works after RevokeSubject", i, after)
			}
			if _, _, err := e.m.Refresh(ctx, got.Refresh, ""); !errors.Is(err, ErrRevoked) {
				t.Errorf("call %d (after=%v): the refresh token after RevokeSubject: %v", i, after, err)
			}
		}
	}
}
