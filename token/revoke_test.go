package token

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/internal/faultstore"
)

// faultEnv is a Manager on a faultstore wrapping a backend's store.
type faultEnv struct {
	m     *Manager
	fs    *faultstore.Store
	clock *clock // nil on real time
}

func newFaultEnv(t *testing.T, b backend, cfg Config) *faultEnv {
	t.Helper()
	e := &faultEnv{}
	var now func() time.Time
	if b.fakeClock {
		e.clock = newClock()
		now = e.clock.Now
		cfg.Now = now
	}
	st, _ := b.open(t, now)
	e.fs = faultstore.New(st)
	e.m = New(e.fs, cfg)
	return e
}

// isWrite selects the calls that write.
func isWrite(c faultstore.Call) bool { return c.Op != faultstore.OpGet }

// issued is a credential handed out by one of the issue calls, with probes
// that tell whether it still works and whether its subject's listing shows
// it.
type issued struct {
	works  func(ctx context.Context) bool
	listed func(ctx context.Context) bool
}

// issuers issue each kind of credential for subject, naming the key
// prefixes of their records and their index.
func issuers(m *Manager) []struct {
	name          string
	records       []string
	index         string
	issue         func(ctx context.Context, subject string) (issued, error)
	listedIfWorks bool
} {
	type entry = struct {
		name          string
		records       []string
		index         string
		issue         func(ctx context.Context, subject string) (issued, error)
		listedIfWorks bool
	}
	accessWorks := func(at Token) func(context.Context) bool {
		return func(ctx context.Context) bool { _, err := m.Verify(ctx, at); return err == nil }
	}
	familyWorks := func(id string) func(context.Context) bool {
		return func(ctx context.Context) bool { _, err := m.Family(ctx, id); return err == nil }
	}
	familyListed := func(subject, id string) func(context.Context) bool {
		return func(ctx context.Context) bool {
			fams, err := m.Families(ctx, subject)
			return err == nil && slices.ContainsFunc(fams, func(f FamilyInfo) bool { return f.ID == id })
		}
	}
	return []entry{
		{"Issue", []string{accessNS}, tokenIdx, func(ctx context.Context, s string) (issued, error) {
			at, info, err := m.Issue(ctx, s, IssueOptions{})
			return issued{accessWorks(at), func(ctx context.Context) bool {
				l, err := m.List(ctx, s)
				return err == nil && slices.ContainsFunc(l, func(i Info) bool { return i.ID == info.ID })
			}}, err
		}, true},
		{"IssueRefresh", []string{familyNS}, familyIdx, func(ctx context.Context, s string) (issued, error) {
			_, fam, err := m.IssueRefresh(ctx, s, FamilyOptions{})
			return issued{familyWorks(fam.ID), familyListed(s, fam.ID)}, err
		}, true},
		{"IssuePair", []string{familyNS, accessNS}, familyIdx, func(ctx context.Context, s string) (issued, error) {
			p, err := m.IssuePair(ctx, s, FamilyOptions{})
			fw, aw := familyWorks(p.Family.ID), accessWorks(p.Access)
			return issued{func(ctx context.Context) bool { return fw(ctx) || aw(ctx) }, familyListed(s, p.Family.ID)}, err
		}, true},
		{"IssueOneTime", []string{oneTimeNS}, oneTimeIdx, func(ctx context.Context, s string) (issued, error) {
			ot, err := m.IssueOneTime(ctx, s, PurposePasswordReset, OneTimeOptions{})
			return issued{func(ctx context.Context) bool {
				_, err := m.Consume(ctx, ot, PurposePasswordReset)
				return err == nil
			}, nil}, err
		}, false},
	}
}

// TestIssueRacingRevokeSubject runs RevokeSubject at each point of every
// issue call — before and after its index update, before and after each
// of its record writes — and checks what the revocation invariants
// promise: a credential whose record was written, or whose index entry
// was added, before RevokeSubject began is refused once it has returned
// (or its issue failed and handed nothing out); and any credential that
// still works is listed for its subject.
func TestIssueRacingRevokeSubject(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		probe := newFaultEnv(t, b, Config{})
		for _, is := range issuers(probe.m) {
			points := []struct {
				name   string
				rule   faultstore.Rule
				before bool
			}{
				{"before the index update", faultstore.Rule{Op: faultstore.OpCAS, KeyPrefix: is.index}, true},
				{"after the index update", faultstore.Rule{Op: faultstore.OpCAS, KeyPrefix: is.index}, false},
			}
			for _, p := range is.records {
				points = append(points,
					struct {
						name   string
						rule   faultstore.Rule
						before bool
					}{"before writing " + p, faultstore.Rule{KeyPrefix: p, Match: isWrite}, true},
					struct {
						name   string
						rule   faultstore.Rule
						before bool
					}{"after writing " + p, faultstore.Rule{KeyPrefix: p, Match: isWrite}, false})
			}
			for _, pt := range points {
				t.Run(is.name+"/"+pt.name, func(t *testing.T) {
					e := newFaultEnv(t, b, Config{})
					ctx := context.Background()
					const subject = "alice"
					var issue func(context.Context, string) (issued, error)
					var listedIfWorks bool
					for _, x := range issuers(e.m) {
						if x.name == is.name {
							issue, listedIfWorks = x.issue, x.listedIfWorks
						}
					}
					var ran, mustEnd bool
					hook := func(ctx context.Context, c faultstore.Call) {
						// Did the credential's record or index entry exist
						// before the revocation began? Yes if the issue
						// wrote either before this call, or this call (a
						// write) has taken effect.
						mustEnd = !pt.before
						for _, w := range e.fs.Calls() {
							for _, p := range append([]string{is.index}, is.records...) {
								if w.Seq < c.Seq && isWrite(w) && strings.HasPrefix(w.Key, p) {
									mustEnd = true
								}
							}
						}
						ran = true
						if err := e.m.RevokeSubject(ctx, subject); err != nil {
							t.Errorf("RevokeSubject: %v", err)
						}
					}
					r := pt.rule
					r.Nth = 1
					if pt.before {
						r.Before = hook
					} else {
						r.After = hook
					}
					e.fs.On(r)
					cred, err := issue(ctx, subject)
					e.fs.Reset()
					if !ran {
						t.Fatal("the hook did not run")
					}
					if err != nil {
						if errors.Is(err, authkit.ErrInvalidCredentials) {
							t.Fatalf("a refused issue looks like a bad credential: %v", err)
						}
						return // nothing handed out
					}
					works := cred.works(ctx)
					if mustEnd && works {
						t.Fatal("a credential that existed before RevokeSubject began works after it returned nil")
					}
					if works && listedIfWorks && !cred.listed(ctx) {
						t.Fatal("a working credential is not listed for its subject")
					}
				})
			}
		}
	})
}

// TestIssueConcurrentWithRevokeSubject runs 200 Issue calls from 20
// clients at once with a RevokeSubject in their midst, with no hooks: no token whose record was
// written before RevokeSubject began may survive it, and every token that
// works is listed.
func TestIssueConcurrentWithRevokeSubject(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newFaultEnv(t, b, Config{MaxPerSubject: 1000})
		ctx := context.Background()
		const n = 200
		type result struct {
			tok  Token
			info Info
			err  error
		}
		results := make([]result, n)
		var started atomic.Int32
		revokeAt := make(chan struct{})
		var revokeSeq int
		var revokeErr error
		var wg sync.WaitGroup
		wg.Go(func() {
			<-revokeAt
			revokeSeq = len(e.fs.Calls())
			revokeErr = e.m.RevokeSubject(ctx, "alice")
		})
		// 20 clients issue 10 tokens each: concurrent enough to overlap
		// RevokeSubject from every side, without spending the test on
		// 200 writers contending for one index record.
		const clients = 20
		for c := range clients {
			wg.Go(func() {
				for i := c; i < n; i += clients {
					if started.Add(1) == n/2 {
						close(revokeAt)
					}
					tok, info, err := e.m.Issue(ctx, "alice", IssueOptions{})
					results[i] = result{tok, info, err}
				}
			})
		}
		wg.Wait()
		// 200 writers on one index can outlast RevokeSubject's swap
		// retries (on Redis, say): it then returns an error, and the
		// caller retries it, as R3 says.
		for i := 0; revokeErr != nil && i < 5; i++ {
			t.Logf("RevokeSubject: %v; retrying", revokeErr)
			revokeErr = e.m.RevokeSubject(ctx, "alice")
		}
		if revokeErr != nil {
			t.Fatalf("RevokeSubject retried: %v", revokeErr)
		}
		created := map[string]int{} // record key → seq of its first write
		for _, c := range e.fs.Calls() {
			if isWrite(c) && strings.HasPrefix(c.Key, accessNS) {
				if _, ok := created[c.Key]; !ok {
					created[c.Key] = c.Seq
				}
			}
		}
		list, err := e.m.List(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		survivors, alive := 0, 0
		for _, r := range results {
			if r.err != nil {
				continue
			}
			if _, err := e.m.Verify(ctx, r.tok); err != nil {
				continue
			}
			alive++
			if created[string(accessKey(r.tok))] <= revokeSeq {
				survivors++
			}
			if !slices.ContainsFunc(list, func(i Info) bool { return i.ID == r.info.ID }) {
				t.Errorf("token %s works but is not listed", r.info.ID)
			}
		}
		t.Logf("%d of %d tokens work after RevokeSubject (issued after it), %d survived it", alive, n, survivors)
		if survivors != 0 {
			t.Fatalf("%d tokens whose record was written before RevokeSubject began survived it", survivors)
		}
	})
}

// revokers end a family in each way a family ends; each returns the error
// of that revocation.
var revokers = []struct {
	name   string
	revoke func(ctx context.Context, m *Manager, p Pair, spent Token) error
}{
	{"RevokeFamily", func(ctx context.Context, m *Manager, p Pair, _ Token) error {
		return m.RevokeFamily(ctx, p.Family.Subject, p.Family.ID)
	}},
	{"RevokeSubject", func(ctx context.Context, m *Manager, p Pair, _ Token) error {
		return m.RevokeSubject(ctx, p.Family.Subject)
	}},
	{"RevokeToken", func(ctx context.Context, m *Manager, p Pair, _ Token) error {
		return m.RevokeToken(ctx, p.Refresh)
	}},
	{"reuse", func(ctx context.Context, m *Manager, _ Pair, spent Token) error {
		_, _, err := m.Refresh(ctx, spent, "")
		if errors.Is(err, ErrReused) {
			return nil // the revocation succeeded
		}
		if errors.Is(err, authkit.ErrInvalidCredentials) {
			return fmt.Errorf("reuse reported as %w, not ErrReused", err)
		}
		return err
	}},
}

// TestFamilyRevocationEndsItsAccessTokens fails the revoked-marker write of
// a family's access token (before or after it takes effect), for every way
// a family is revoked: the revocation must report an error — reuse must
// not claim ErrReused — and, called again (reuse: RevokeSubject, as a
// user's "sign out everywhere"), finish the job.
func TestFamilyRevocationEndsItsAccessTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, rv := range revokers {
			for _, applied := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/applied=%v", rv.name, applied), func(t *testing.T) {
					e := newFaultEnv(t, b, Config{})
					ctx := context.Background()
					p1, err := e.m.IssuePair(ctx, "alice", FamilyOptions{})
					if err != nil {
						t.Fatal(err)
					}
					p2, err := e.m.RefreshPair(ctx, p1.Refresh, "")
					if err != nil {
						t.Fatal(err)
					}
					e.fs.On(faultstore.Rule{KeyPrefix: accessNS, Match: isWrite, Nth: 1, Fail: true, Applied: applied})
					err = rv.revoke(ctx, e.m, p2, p1.Refresh)
					e.fs.Reset()
					if err == nil {
						for _, at := range []Token{p1.Access, p2.Access} {
							if _, verr := e.m.Verify(ctx, at); verr == nil {
								t.Fatal("the revocation returned nil while an access token of the family still works")
							}
						}
						if !applied {
							t.Fatal("a failed store write went unreported")
						}
					}
					if errors.Is(err, authkit.ErrInvalidCredentials) {
						t.Fatalf("unfinished revocation reported as a bad credential: %v", err)
					}
					if _, _, err := e.m.Refresh(ctx, p2.Refresh, ""); !errors.Is(err, ErrRevoked) {
						t.Fatalf("the family's refresh token after the revocation: %v, want ErrRevoked", err)
					}
					// Retry: the same call for the explicit revocations,
					// RevokeSubject after reuse.
					retry := rv.revoke
					if rv.name == "reuse" || rv.name == "RevokeToken" {
						retry = revokers[1].revoke
					}
					if err := retry(ctx, e.m, p2, p1.Refresh); err != nil {
						t.Fatalf("retried revocation: %v", err)
					}
					for i, at := range []Token{p1.Access, p2.Access} {
						if _, err := e.m.Verify(ctx, at); !errors.Is(err, ErrNotFound) {
							t.Fatalf("access token %d after the retried revocation: %v", i, err)
						}
					}
				})
			}
		}
	})
}

// TestFamilyListenerFailure makes an OnFamilyRevoked listener fail once:
// each revocation reports an error, and its retry calls the listener again
// and then succeeds.
func TestFamilyListenerFailure(t *testing.T) {
	for _, rv := range revokers {
		t.Run(rv.name, func(t *testing.T) {
			e := newFaultEnv(t, memoryBackend, Config{})
			ctx := context.Background()
			var calls atomic.Int32
			e.m.OnFamilyRevoked(func(context.Context, FamilyInfo) error {
				if calls.Add(1) == 1 {
					return errors.New("listener store down")
				}
				return nil
			})
			p1, _ := e.m.IssuePair(ctx, "alice", FamilyOptions{})
			p2, err := e.m.RefreshPair(ctx, p1.Refresh, "")
			if err != nil {
				t.Fatal(err)
			}
			if err := rv.revoke(ctx, e.m, p2, p1.Refresh); err == nil || errors.Is(err, authkit.ErrInvalidCredentials) {
				t.Fatalf("revocation with a failing listener: %v", err)
			}
			// Each retries itself — a logout retried with the same refresh
			// token (RevokeToken) finishes the job too — but for reuse, whose
			// retry is any revocation of the family.
			retry := rv.revoke
			if rv.name == "reuse" {
				retry = revokers[1].revoke
			}
			if err := retry(ctx, e.m, p2, p1.Refresh); err != nil {
				t.Fatalf("retry: %v", err)
			}
			if n := calls.Load(); n != 2 {
				t.Fatalf("listener called %d times, want 2", n)
			}
			// Finished: a further revocation tells no one again.
			_ = e.m.RevokeSubject(ctx, "alice")
			if n := calls.Load(); n != 2 {
				t.Fatalf("listener called %d times after the revocation finished, want 2", n)
			}
		})
	}
}

// TestOneTimeFloodKeepsAccessTokens issues many one-time tokens for a
// subject ("forgot password" requests by anyone): the subject's access
// tokens all survive, and only the oldest one-time tokens are evicted.
func TestOneTimeFloodKeepsAccessTokens(t *testing.T) {
	e := newMemEnv(t, Config{MaxPerSubject: 3})
	ctx := context.Background()
	var ats []Token
	for range 3 {
		at, _, err := e.m.Issue(ctx, "victim", IssueOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ats = append(ats, at)
	}
	for range 100 {
		if _, err := e.m.IssueOneTime(ctx, "victim", PurposePasswordReset, OneTimeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for i, at := range ats {
		if _, err := e.m.Verify(ctx, at); err != nil {
			t.Fatalf("access token %d after a one-time flood: %v", i, err)
		}
	}
}

func TestMaxOneTimePerSubject(t *testing.T) {
	e := newMemEnv(t, Config{MaxOneTimePerSubject: 2})
	ctx := context.Background()
	var ots []Token
	for range 3 {
		e.clock.Add(time.Second)
		ot, err := e.m.IssueOneTime(ctx, "alice", PurposeEmailVerification, OneTimeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ots = append(ots, ot)
	}
	if _, err := e.m.Consume(ctx, ots[0], PurposeEmailVerification); !errors.Is(err, ErrNotFound) {
		t.Fatalf("oldest one-time token past the cap: %v, want ErrNotFound", err)
	}
	for _, ot := range ots[1:] {
		if _, err := e.m.Consume(ctx, ot, PurposeEmailVerification); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOnFamilyRevokedError(t *testing.T) {
	e := newMemEnv(t, Config{})
	ctx := context.Background()
	var calls []string
	fail := errors.New("jwt store down")
	e.m.OnFamilyRevoked(func(_ context.Context, f FamilyInfo) error {
		calls = append(calls, "first:"+f.ID)
		if !f.Revoked || f.Subject != "alice" {
			t.Errorf("listener got %+v", f)
		}
		return fail
	})
	e.m.OnFamilyRevoked(func(_ context.Context, f FamilyInfo) error {
		calls = append(calls, "second:"+f.ID)
		return nil
	})
	_, fam, err := e.m.IssueRefresh(ctx, "alice", FamilyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The failing listener makes the revocation fail; the other listener
	// is called all the same.
	if err := e.m.RevokeFamily(ctx, "alice", fam.ID); !errors.Is(err, fail) {
		t.Fatalf("RevokeFamily with a failing listener: %v", err)
	}
	if want := []string{"first:" + fam.ID, "second:" + fam.ID}; !slices.Equal(calls, want) {
		t.Fatalf("listeners called %v, want %v", calls, want)
	}
	// Reuse: the error says what happened, and is no ErrReused.
	rt, _, _ := e.m.IssueRefresh(ctx, "alice", FamilyOptions{})
	if _, _, err := e.m.Refresh(ctx, rt, ""); err != nil {
		t.Fatal(err)
	}
	if _, info, err := e.m.Refresh(ctx, rt, ""); !errors.Is(err, fail) || errors.Is(err, ErrReused) || !info.Revoked {
		t.Fatalf("reuse with a failing listener: %+v, %v", info, err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("OnFamilyRevoked(nil) did not panic")
		}
	}()
	e.m.OnFamilyRevoked(nil)
}

// TestCapEvictionListenerRetried makes the listener fail for a family the
// MaxFamilies cap evicts: the issue that evicted it succeeds (the new
// family is fine), the evicted family stays refused, and the next issue
// for the subject retries the listener.
func TestCapEvictionListenerRetried(t *testing.T) {
	e := newMemEnv(t, Config{MaxFamilies: 1})
	ctx := context.Background()
	calls := map[string]int{}
	failFirst := true
	e.m.OnFamilyRevoked(func(_ context.Context, f FamilyInfo) error {
		calls[f.ID]++
		if failFirst {
			failFirst = false
			return errors.New("listener store down")
		}
		return nil
	})
	rt1, f1, err := e.m.IssueRefresh(ctx, "alice", FamilyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Second)
	if _, _, err := e.m.IssueRefresh(ctx, "alice", FamilyOptions{}); err != nil {
		t.Fatalf("an issue whose eviction's listener failed: %v", err)
	}
	if calls[f1.ID] != 1 {
		t.Fatalf("listener called %d times for the evicted family, want 1", calls[f1.ID])
	}
	if _, err := e.m.Family(ctx, f1.ID); !errors.Is(err, ErrRevoked) {
		t.Fatalf("evicted family: %v, want ErrRevoked", err)
	}
	e.clock.Add(time.Second)
	if _, _, err := e.m.IssueRefresh(ctx, "alice", FamilyOptions{}); err != nil {
		t.Fatal(err)
	}
	if calls[f1.ID] != 2 {
		t.Fatalf("listener called %d times for the evicted family after the next issue, want 2", calls[f1.ID])
	}
	if len(calls) != 2 {
		t.Fatalf("listener told of %d families, want 2 (both evicted)", len(calls))
	}
	if _, _, err := e.m.Refresh(ctx, rt1, ""); !errors.Is(err, ErrRevoked) {
		t.Fatalf("evicted family: %v, want ErrRevoked", err)
	}
}
