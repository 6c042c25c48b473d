package token

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/store"
)

// events records the events a Manager reports.
type events struct {
	mu  sync.Mutex
	got []authkit.Event
}

func (ev *events) fn(_ context.Context, e authkit.Event) {
	ev.mu.Lock()
	ev.got = append(ev.got, e)
	ev.mu.Unlock()
}

func (ev *events) count(typ authkit.EventType) int {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	n := 0
	for _, e := range ev.got {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func TestRefreshRotation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, Config{})
		ctx := context.Background()
		rt1, fam, err := e.m.IssueRefresh(ctx, "alice", FamilyOptions{ClientID: "app", Scopes: []string{"read"}, Metadata: map[string]string{"device": "phone"}})
		if err != nil {
			t.Fatal(err)
		}
		if fam.Generation != 0 || fam.Subject != "alice" || !validID(fam.ID) {
			t.Fatalf("new family %+v", fam)
		}
		e.st.reset()
		rt2, fam2, err := e.m.Refresh(ctx, rt1, "app")
		if err != nil {
			t.Fatal(err)
		}
		if g, c := e.st.gets.Load(), e.st.cas.Load(); g != 1 || c != 1 || e.st.sets.Load()+e.st.deletes.Load() != 0 {
			t.Fatalf("rotation made %d reads, %d CAS, %d other writes; want 1, 1, 0", g, c, e.st.sets.Load()+e.st.deletes.Load())
		}
		if rt2 == rt1 || fam2.ID != fam.ID || fam2.Generation != 1 || fam2.ClientID != "app" ||
			!slices.Equal(fam2.Scopes, []string{"read"}) || fam2.Metadata["device"] != "phone" {
			t.Fatalf("rotated to %+v", fam2)
		}
		rt3, fam3, err := e.m.Refresh(ctx, rt2, "")
		if err != nil || fam3.Generation != 2 {
			t.Fatalf("second rotation: %+v, %v", fam3, err)
		}
		if got, err := e.m.Family(ctx, fam.ID); err != nil || got.Generation != 2 {
			t.Fatalf("Family = %+v, %v", got, err)
		}
		if fams, err := e.m.Families(ctx, "alice"); err != nil || len(fams) != 1 || fams[0].ID != fam.ID {
			t.Fatalf("Families = %+v, %v", fams, err)
		}
		_ = rt3
	})
}

func TestRefreshReuseRevokesFamilyAndAccessTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		var ev events
		e := newEnv(t, b, Config{Events: ev.fn})
		ctx := context.Background()
		p1, err := e.m.IssuePair(ctx, "alice", FamilyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p2, err := e.m.RefreshPair(ctx, p1.Refresh, "")
		if err != nil {
			t.Fatal(err)
		}
		if p2.AccessInfo.FamilyID != p1.Family.ID || p2.Family.Generation != 1 {
			t.Fatalf("pair %+v", p2)
		}
		for _, at := range []Token{p1.Access, p2.Access} {
			if _, err := e.m.Verify(ctx, at); err != nil {
				t.Fatalf("access token before reuse: %v", err)
			}
		}
		// The thief (or the victim) presents the rotated-out token.
		_, revoked, err := e.m.Refresh(ctx, p1.Refresh, "")
		if !errors.Is(err, ErrReused) || !errors.Is(err, authkit.ErrInvalidCredentials) {
			t.Fatalf("reuse: %v, want ErrReused", err)
		}
		// The caller learns which family ended, to end what it issued from it.
		if revoked.ID != p1.Family.ID || revoked.Subject != p1.Family.Subject || !revoked.Revoked {
			t.Fatalf("reuse returned family %+v, want %s of %s, revoked", revoked, p1.Family.ID, p1.Family.Subject)
		}
		if ev.count(authkit.EventRefreshReuse) != 1 {
			t.Fatalf("%d reuse events, want 1", ev.count(authkit.EventRefreshReuse))
		}
		// The whole family is dead: its current token, and both access tokens,
		// each still checked by one read.
		if _, _, err := e.m.Refresh(ctx, p2.Refresh, ""); !errors.Is(err, ErrRevoked) {
			t.Fatalf("current token after reuse: %v, want ErrRevoked", err)
		}
		for i, at := range []Token{p1.Access, p2.Access} {
			e.st.reset()
			if _, err := e.m.Verify(ctx, at); !errors.Is(err, ErrNotFound) {
				t.Fatalf("access token %d after reuse: %v", i, err)
			}
			if e.st.total() != 1 {
				t.Fatalf("verify made %d store calls", e.st.total())
			}
		}
		if _, err := e.m.Family(ctx, p1.Family.ID); !errors.Is(err, ErrRevoked) {
			t.Fatalf("Family after reuse: %v", err)
		}
		if fams, _ := e.m.Families(ctx, "alice"); len(fams) != 0 {
			t.Fatalf("revoked family still listed: %+v", fams)
		}
	})
}

func TestConcurrentRefreshNoGrace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		var ev events
		e := newEnv(t, b, Config{Events: ev.fn})
		ctx := context.Background()
		rt, fam, err := e.m.IssueRefresh(ctx, "alice", FamilyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		const n = 50
		var (
			wg              sync.WaitGroup
			mu              sync.Mutex
			wins            []Token
			reused, revoked int
		)
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				next, _, err := e.m.Refresh(ctx, rt, "")
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins = append(wins, next)
				case errors.Is(err, ErrReused):
					reused++
				case errors.Is(err, ErrRevoked):
					revoked++
				default:
					t.Errorf("Refresh: %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		if len(wins) != 1 || reused < 1 || reused+revoked != n-1 {
			t.Fatalf("%d successes, %d reuse, %d revoked; want 1, ≥1, and %d failures in all", len(wins), reused, revoked, n-1)
		}
		if ev.count(authkit.EventRefreshReuse) != 1 {
			t.Fatalf("%d reuse events, want exactly 1", ev.count(authkit.EventRefreshReuse))
		}
		if _, err := e.m.Family(ctx, fam.ID); !errors.Is(err, ErrRevoked) {
			t.Fatalf("family after concurrent reuse: %v, want ErrRevoked", err)
		}
		if _, _, err := e.m.Refresh(ctx, wins[0], ""); !errors.Is(err, ErrRevoked) {
			t.Fatalf("the winner's successor: %v, want ErrRevoked", err)
		}
	})
}

func TestConcurrentRefreshGrace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		var ev events
		e := newEnv(t, b, Config{Grace: 5 * time.Second, Events: ev.fn})
		ctx := context.Background()
		rt, fam, err := e.m.IssueRefresh(ctx, "alice", FamilyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		const n = 50
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			got  = map[Token]int{}
			gens = map[uint64]int{}
		)
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				next, info, err := e.m.Refresh(ctx, rt, "")
				if err != nil {
					t.Errorf("Refresh: %v", err)
					return
				}
				mu.Lock()
				got[next]++
				gens[info.Generation]++
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
		if len(got) != 1 || gens[1] != n {
			t.Fatalf("%d distinct successors, generations %v; want 1 successor held by all %d at generation 1", len(got), gens, n)
		}
		info, err := e.m.Family(ctx, fam.ID)
		if err != nil || info.Generation != 1 {
			t.Fatalf("family after grace retries: %+v, %v; want alive at generation 1", info, err)
		}
		if ev.count(authkit.EventRefreshReuse) != 0 {
			t.Fatal("reuse reported inside the grace window")
		}
		var successor Token
		for tok := range got {
			successor = tok
		}
		if _, info, err := e.m.Refresh(ctx, successor, ""); err != nil || info.Generation != 2 {
			t.Fatalf("successor refresh: %+v, %v", info, err)
		}
	})
}

func TestGrace(t *testing.T) {
	ctx := context.Background()
	t.Run("retry returns the same successor and revokes nothing", func(t *testing.T) {
		e := newMemEnv(t, Config{Grace: 2 * time.Second})
		p1, _ := e.m.IssuePair(ctx, "alice", FamilyOptions{})
		p2, err := e.m.RefreshPair(ctx, p1.Refresh, "")
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Add(1999 * time.Millisecond)
		e.st.reset()
		again, _, err := e.m.Refresh(ctx, p1.Refresh, "")
		if err != nil || again != p2.Refresh {
			t.Fatalf("retry: %v, same successor %v", err, again == p2.Refresh)
		}
		if e.st.writes() != 0 {
			t.Fatalf("a grace retry wrote %d times", e.st.writes())
		}
		p3, err := e.m.RefreshPair(ctx, p1.Refresh, "")
		if err != nil || p3.Refresh != p2.Refresh || p3.Access == p2.Access {
			t.Fatalf("RefreshPair retry: %v", err)
		}
		for _, at := range []Token{p1.Access, p2.Access, p3.Access} {
			if _, err := e.m.Verify(ctx, at); err != nil {
				t.Fatalf("access token after grace retry: %v", err)
			}
		}
		if _, _, err := e.m.Refresh(ctx, p2.Refresh, ""); err != nil {
			t.Fatalf("successor after retries: %v", err)
		}
	})
	t.Run("a token two rotations old is reuse inside the window", func(t *testing.T) {
		e := newMemEnv(t, Config{Grace: MaxGrace})
		rt1, fam, _ := e.m.IssueRefresh(ctx, "alice", FamilyOptions{})
		rt2, _, err := e.m.Refresh(ctx, rt1, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.m.Refresh(ctx, rt2, ""); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.m.Refresh(ctx, rt1, ""); !errors.Is(err, ErrReused) {
			t.Fatalf("two rotations old: %v, want ErrReused", err)
		}
		if _, err := e.m.Family(ctx, fam.ID); !errors.Is(err, ErrRevoked) {
			t.Fatalf("family: %v, want ErrRevoked", err)
		}
	})
	t.Run("the predecessor after the window is reuse", func(t *testing.T) {
		e := newMemEnv(t, Config{Grace: 2 * time.Second})
		rt1, _, _ := e.m.IssueRefresh(ctx, "alice", FamilyOptions{})
		rt2, _, _ := e.m.Refresh(ctx, rt1, "")
		e.clock.Add(2 * time.Second)
		if _, _, err := e.m.Refresh(ctx, rt1, ""); !errors.Is(err, ErrReused) {
			t.Fatalf("after the window: %v, want ErrReused", err)
		}
		if _, _, err := e.m.Refresh(ctx, rt2, ""); !errors.Is(err, ErrRevoked) {
			t.Fatalf("successor: %v, want ErrRevoked", err)
		}
	})
	t.Run("without grace a retry is reuse", func(t *testing.T) {
		e := newMemEnv(t, Config{})
		rt1, _, _ := e.m.IssueRefresh(ctx, "alice", FamilyOptions{})
		if _, _, err := e.m.Refresh(ctx, rt1, ""); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.m.Refresh(ctx, rt1, ""); !errors.Is(err, ErrReused) {
			t.Fatalf("retry without grace: %v, want ErrReused", err)
		}
	})
	t.Run("a successor sealed under another server's zero grace is reuse", func(t *testing.T) {
		e := newMemEnv(t, Config{})
		rt1, _, _ := e.m.IssueRefresh(ctx, "alice", FamilyOptions{})
		if _, _, err := e.m.Refresh(ctx, rt1, ""); err != nil {
			t.Fatal(err)
		}
		graceful := New(e.st, Config{Grace: time.Second, Now: e.clock.Now})
		if _, _, err := graceful.Refresh(ctx, rt1, ""); !errors.Is(err, ErrReused) {
			t.Fatalf("retry with nothing sealed: %v, want ErrReused", err)
		}
	})
}

// TestGraceWindowSynctest runs the window's edges on a bubble's fake clock,
// with the store created inside the bubble.
func TestGraceWindowSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := store.NewMemory(store.MemoryConfig{})
		defer st.Close()
		m := New(st, Config{Grace: 3 * time.Second, RefreshIdleTimeout: time.Minute})
		ctx := context.Background()
		rt1, _, _ := m.IssueRefresh(ctx, "alice", FamilyOptions{})
		rt2, _, err := m.Refresh(ctx, rt1, "")
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		if again, _, err := m.Refresh(ctx, rt1, ""); err != nil || again != rt2 {
			t.Fatalf("inside the window: %v", err)
		}
		rt3, _, err := m.Refresh(ctx, rt2, "")
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(59 * time.Second)
		rt4, _, err := m.Refresh(ctx, rt3, "")
		if err != nil {
			t.Fatalf("before the idle timeout: %v", err)
		}
		time.Sleep(time.Minute)
		if _, _, err := m.Refresh(ctx, rt4, ""); !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrExpired) {
			t.Fatalf("after the idle timeout: %v", err)
		}
	})
}

func TestFamilyLifetimes(t *testing.T) {
	ctx := context.Background()
	t.Run("idle", func(t *testing.T) {
		e := newMemEnv(t, Config{RefreshIdleTimeout: time.Hour, RefreshLifetime: 10 * time.Hour})
		rt, fam, _ := e.m.IssueRefresh(ctx, "alice", FamilyOptions{})
		e.clock.Add(59 * time.Minute)
		rt, _, err := e.m.Refresh(ctx, rt, "")
		if err != nil {
			t.Fatalf("inside the idle timeout: %v", err)
		}
		e.clock.Add(time.Hour)
		if _, _, err := e.m.Refresh(ctx, rt, ""); !errors.Is(err, ErrExpired) && !errors.Is(err, ErrNotFound) {
			t.Fatalf("after the idle timeout: %v", err)
		}
		if _, err := e.m.Family(ctx, fam.ID); err == nil {
			t.Fatal("idle family still alive")
		}
	})
	t.Run("absolute", func(t *testing.T) {
		e := newMemEnv(t, Config{RefreshIdleTimeout: time.Hour, RefreshLifetime: 3 * time.Hour, AccessLifetime: 2 * time.Hour})
		p, _ := e.m.IssuePair(ctx, "alice", FamilyOptions{})
		rt := p.Refresh
		for i := range 5 {
			e.clock.Add(30 * time.Minute)
			next, info, err := e.m.Refresh(ctx, rt, "")
			if err != nil {
				t.Fatalf("rotation %d: %v", i, err)
			}
			if info.IdleExpires.After(info.Expires) {
				t.Fatalf("idle deadline %v past absolute %v", info.IdleExpires, info.Expires)
			}
			rt = next
		}
		pair, err := e.m.RefreshPair(ctx, rt, "")
		if err != nil {
			t.Fatal(err)
		}
		if pair.AccessInfo.Expires.After(pair.Family.Expires) {
			t.Fatalf("access token outlives its family: %v > %v", pair.AccessInfo.Expires, pair.Family.Expires)
		}
		e.clock.Add(30 * time.Minute) // 3 h since creation
		if _, _, err := e.m.Refresh(ctx, pair.Refresh, ""); !errors.Is(err, ErrExpired) && !errors.Is(err, ErrNotFound) {
			t.Fatalf("past the absolute lifetime: %v", err)
		}
	})
}

func TestRefreshClientBinding(t *testing.T) {
	e := newMemEnv(t, Config{})
	ctx := context.Background()
	rt, fam, _ := e.m.IssueRefresh(ctx, "alice", FamilyOptions{ClientID: "app"})
	if _, _, err := e.m.Refresh(ctx, rt, "other"); !errors.Is(err, ErrClientMismatch) {
		t.Fatalf("another client: %v, want ErrClientMismatch", err)
	}
	if info, err := e.m.Family(ctx, fam.ID); err != nil || info.Generation != 0 {
		t.Fatalf("a mismatched client changed the family: %+v, %v", info, err)
	}
	if _, _, err := e.m.Refresh(ctx, rt, "app"); err != nil {
		t.Fatalf("own client: %v", err)
	}
	// A rotated-out token is reuse whoever presents it.
	if _, _, err := e.m.Refresh(ctx, rt, "other"); !errors.Is(err, ErrReused) {
		t.Fatalf("rotated-out token from another client: %v, want ErrReused", err)
	}
}

func TestFamilyRevokedHook(t *testing.T) {
	var mu sync.Mutex
	var got []string
	e := newMemEnv(t, Config{FamilyRevoked: func(_ context.Context, f FamilyInfo) {
		mu.Lock()
		defer mu.Unlock()
		if !f.Revoked || f.Subject == "" {
			t.Errorf("hook got %+v", f)
		}
		got = append(got, f.ID)
	}})
	ctx := context.Background()
	rt, f1, _ := e.m.IssueRefresh(ctx, "alice", FamilyOptions{})
	if _, _, err := e.m.Refresh(ctx, rt, ""); err != nil {
		t.Fatal(err)
	}
	_, _, _ = e.m.Refresh(ctx, rt, "") // reuse
	_, _, _ = e.m.Refresh(ctx, rt, "") // already revoked: no second call
	_, f2, _ := e.m.IssueRefresh(ctx, "alice", FamilyOptions{})
	_, f3, _ := e.m.IssueRefresh(ctx, "alice", FamilyOptions{})
	if err := e.m.RevokeFamily(ctx, "alice", f2.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.m.RevokeSubject(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if want := []string{f1.ID, f2.ID, f3.ID}; !slices.Equal(got, want) {
		t.Fatalf("hook called for %v, want %v", got, want)
	}
}

func TestRefreshForgedWithKnownLocator(t *testing.T) {
	e := newMemEnv(t, Config{})
	ctx := context.Background()
	rt, fam, _ := e.m.IssueRefresh(ctx, "alice", FamilyOptions{})
	loc := string(rt[6 : 6+locatorLen])
	forged := forge(DefaultRefreshPrefix, loc+strings.Repeat("Z", secretLen))
	if _, _, err := e.m.Refresh(ctx, forged, ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("forged token: %v, want ErrNotFound", err)
	}
	if _, err := e.m.Family(ctx, fam.ID); err != nil {
		t.Fatalf("a forged token revoked the family: %v", err)
	}
}

func TestReuseHistory(t *testing.T) {
	e := newMemEnv(t, Config{})
	ctx := context.Background()
	rt, fam, _ := e.m.IssueRefresh(ctx, "alice", FamilyOptions{})
	chain := []Token{rt}
	for range maxHistory + 4 {
		next, _, err := e.m.Refresh(ctx, chain[len(chain)-1], "")
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, next)
	}
	// chain[len-1] is current, chain[len-2] previous; the history remembers
	// the maxHistory before that. Older tokens are refused, without grounds
	// to revoke.
	last := len(chain) - 1
	oldest := last - 2 - maxHistory
	if _, _, err := e.m.Refresh(ctx, chain[oldest], ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("token older than the history: %v, want ErrNotFound", err)
	}
	if _, err := e.m.Family(ctx, fam.ID); err != nil {
		t.Fatalf("family after a forgotten token: %v", err)
	}
	if _, _, err := e.m.Refresh(ctx, chain[oldest+1], ""); !errors.Is(err, ErrReused) {
		t.Fatalf("oldest remembered token: %v, want ErrReused", err)
	}
}

func TestFamilyAccessCap(t *testing.T) {
	e := newMemEnv(t, Config{MaxFamilyAccess: 2, Grace: time.Second})
	ctx := context.Background()
	p, _ := e.m.IssuePair(ctx, "alice", FamilyOptions{})
	var ats []Token
	ats = append(ats, p.Access)
	rt := p.Refresh
	for range 3 {
		e.clock.Add(time.Minute)
		next, err := e.m.RefreshPair(ctx, rt, "")
		if err != nil {
			t.Fatal(err)
		}
		ats = append(ats, next.Access)
		rt = next.Refresh
	}
	for i, at := range ats {
		_, err := e.m.Verify(ctx, at)
		if alive := i >= len(ats)-2; alive != (err == nil) {
			t.Fatalf("access token %d: %v (want alive: %v)", i, err, alive)
		}
	}
}

func TestMaxFamilies(t *testing.T) {
	e := newMemEnv(t, Config{MaxFamilies: 2})
	ctx := context.Background()
	var rts []Token
	for range 3 {
		e.clock.Add(time.Second)
		rt, _, err := e.m.IssueRefresh(ctx, "alice", FamilyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rts = append(rts, rt)
	}
	if _, _, err := e.m.Refresh(ctx, rts[0], ""); !errors.Is(err, ErrRevoked) {
		t.Fatalf("oldest family past the cap: %v, want ErrRevoked", err)
	}
	if fams, _ := e.m.Families(ctx, "alice"); len(fams) != 2 {
		t.Fatalf("%d families listed, want 2", len(fams))
	}
}

func TestRevokeFamilyAndRevoke(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, Config{})
		ctx := context.Background()
		p, _ := e.m.IssuePair(ctx, "alice", FamilyOptions{})
		if err := e.m.RevokeFamily(ctx, "bob", p.Family.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("RevokeFamily by another subject: %v", err)
		}
		if err := e.m.RevokeFamily(ctx, "alice", "not-an-id"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("RevokeFamily with a bad ID: %v", err)
		}
		if err := e.m.RevokeFamily(ctx, "alice", p.Family.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.m.RevokeFamily(ctx, "alice", p.Family.ID); err != nil {
			t.Fatalf("second RevokeFamily: %v", err)
		}
		// A revoked family is still not another subject's to revoke, and a
		// well-formed ID of no family is not found.
		if err := e.m.RevokeFamily(ctx, "bob", p.Family.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("RevokeFamily of a revoked family by another subject: %v", err)
		}
		unknown := []byte(p.Family.ID)
		unknown[0] = 'A'
		if p.Family.ID[0] == 'A' {
			unknown[0] = 'B'
		}
		if err := e.m.RevokeFamily(ctx, "alice", string(unknown)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("RevokeFamily of an unknown family: %v", err)
		}
		if _, err := e.m.Verify(ctx, p.Access); !errors.Is(err, ErrNotFound) {
			t.Fatalf("access token of a revoked family: %v", err)
		}
		// Revoke with the refresh token itself (logout).
		p2, _ := e.m.IssuePair(ctx, "alice", FamilyOptions{})
		next, err := e.m.RefreshPair(ctx, p2.Refresh, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.m.RevokeToken(ctx, next.Refresh); err != nil {
			t.Fatal(err)
		}
		for _, at := range []Token{p2.Access, next.Access} {
			if _, err := e.m.Verify(ctx, at); !errors.Is(err, ErrNotFound) {
				t.Fatalf("access token after logout: %v", err)
			}
		}
		if _, _, err := e.m.Refresh(ctx, next.Refresh, ""); !errors.Is(err, ErrRevoked) {
			t.Fatalf("refresh after logout: %v", err)
		}
	})
}

// TestStoreDumpHoldsNoToken issues every kind of token, rotates with a grace
// window (so a sealed successor is stored), and checks that no key or value
// in the store contains any token or any 12-character piece of one.
func TestStoreDumpHoldsNoToken(t *testing.T) {
	e := newMemEnv(t, Config{Grace: 5 * time.Second, LastUseInterval: time.Second})
	ctx := context.Background()
	var toks []Token
	at, _, _ := e.m.Issue(ctx, "alice", IssueOptions{Metadata: map[string]string{"k": "v"}})
	toks = append(toks, at)
	p, _ := e.m.IssuePair(ctx, "alice", FamilyOptions{})
	p2, err := e.m.RefreshPair(ctx, p.Refresh, "")
	if err != nil {
		t.Fatal(err)
	}
	p3, err := e.m.RefreshPair(ctx, p2.Refresh, "")
	if err != nil {
		t.Fatal(err)
	}
	ot, _ := e.m.IssueOneTime(ctx, "alice", PurposePasswordReset, OneTimeOptions{Data: []byte("x")})
	toks = append(toks, p.Access, p.Refresh, p2.Access, p2.Refresh, p3.Access, p3.Refresh, ot)
	e.clock.Add(2 * time.Second)
	if _, err := e.m.Verify(ctx, at); err != nil { // writes a last-use record
		t.Fatal(err)
	}
	n := 0
	for k, v := range e.mem.All() {
		n++
		for _, tok := range toks {
			body := string(tok[6:])
			for i := 0; i+12 <= len(body); i++ {
				piece := body[i : i+12]
				if strings.Contains(k, piece) || strings.Contains(string(v), piece) {
					t.Fatalf("store entry %q holds a piece of a token", k)
				}
			}
		}
	}
	if n < 6 {
		t.Fatalf("only %d entries in the store", n)
	}
}

func TestRefreshEvents(t *testing.T) {
	var ev events
	e := newMemEnv(t, Config{Events: ev.fn})
	ctx := context.Background()
	rt, _, _ := e.m.IssueRefresh(ctx, "alice", FamilyOptions{})
	next, _, _ := e.m.Refresh(ctx, rt, "")
	_, _, _ = e.m.Refresh(ctx, rt, "")
	_, _, _ = e.m.Refresh(ctx, next, "")
	want := []string{"login/alice/refresh_family", "refresh/alice/", "refresh_reuse/alice/reuse", "rejected/alice/revoked"}
	var got []string
	for _, x := range ev.got {
		if x.Method != "token" || x.Time.IsZero() {
			t.Fatalf("event %+v", x)
		}
		got = append(got, fmt.Sprintf("%s/%s/%s", x.Type, x.Subject, x.Reason))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

// Inside the grace window, the predecessor presented by another client is
// reuse, not a retry: the window exists for the family's own client.
func TestGraceIsForTheOwnClientOnly(t *testing.T) {
	e := newMemEnv(t, Config{Grace: 5 * time.Second})
	ctx := context.Background()
	rt, fam, _ := e.m.IssueRefresh(ctx, "alice", FamilyOptions{ClientID: "app"})
	if _, _, err := e.m.Refresh(ctx, rt, "app"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.m.Refresh(ctx, rt, "other"); !errors.Is(err, ErrReused) {
		t.Fatalf("predecessor from another client inside the window: %v, want ErrReused", err)
	}
	if _, err := e.m.Family(ctx, fam.ID); !errors.Is(err, ErrRevoked) {
		t.Fatalf("family after reuse: %v, want ErrRevoked", err)
	}
}
