package keyring

import (
	"container/heap"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/authkit/authkit/cookie"
	"github.com/authkit/authkit/internal/clocktest"
	"github.com/authkit/authkit/jwt"
	"github.com/authkit/authkit/store"
)

// The three-server test. Three servers — each with its own Keyring, cookie
// Codecs, JWT KeySet, Issuer and Verifier — share one store and one fake
// clock, and live through fleetDays of rotations as a discrete-event
// simulation: each server wakes exactly when its background loop would
// (reload interval with jitter, or a change of keys by the clock); cookies
// and JWTs are issued by random servers at random times and checked on every
// server at issue, at a random moment of their life, one millisecond before
// they expire and at expiry; servers restart at random; at every scheduled
// rotation all three servers refresh at once, forced to read the same record
// before any writes; manual rotations race between two servers; keys are
// revoked. A remote verifier caches the JWKS for the advertised max-age.
//
// It asserts: every cookie and JWT verifies on every server (and the remote
// verifier) for its whole lifetime unless its key was revoked; a revoked
// key's tokens are refused by every server within the reload interval (and
// by the remote verifier within the reload interval plus the JWKS max-age);
// every write adds at most one key, and adds one only when the step is due;
// no server signs with a key published for less than the prepublish time,
// except the first key and the replacement of a revoked signing key.
var (
	fleetDays  = flag.Int("keyring.days", 0, "simulated days of the three-server test (default 180, 30 under the race detector)")
	fleetIssue = flag.Duration("keyring.issue", 100*time.Minute, "mean simulated time between two issues in the three-server test")
	fleetSeed  = flag.Uint64("keyring.seed", 0, "seed of the three-server test; 0 picks one")
)

const fleetServers = 3

var (
	fleetConfig    = Config{ReloadInterval: 2 * time.Hour, UnknownKeyInterval: time.Second, JWKSMaxAge: 30 * time.Minute, Logger: slog.New(slog.DiscardHandler)}
	fleetSchedules = map[string]Schedule{
		CookieSeal:            {Rotation: 7 * 24 * time.Hour, Prepublish: 2*time.Hour + 30*time.Minute, MaxLifetime: 24 * time.Hour, Leeway: 15 * time.Minute},
		CookieSign:            {Rotation: 10 * 24 * time.Hour, Prepublish: 3 * time.Hour, MaxLifetime: 48 * time.Hour, Leeway: 15 * time.Minute},
		JWTPurpose(jwt.EdDSA): {Rotation: 5 * 24 * time.Hour, Prepublish: 3 * time.Hour, MaxLifetime: 12 * time.Hour, Leeway: 15 * time.Minute},
	}
	fleetPurposes = []string{CookieSeal, CookieSign, JWTPurpose(jwt.EdDSA)}
)

func TestFleetMemory(t *testing.T) {
	clk := clocktest.New(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	runFleet(t, clk, memoryStore(t, clk))
}

// TestFleetRedis runs the same simulation on Redis. Redis expires entries by
// its own clock, so the fake clock starts at the real time (to the second,
// so that a seed replays the same run) and only moves ahead of it.
func TestFleetRedis(t *testing.T) {
	st := redisStore(t)
	runFleet(t, clocktest.New(time.Now().Truncate(time.Second)), st)
}

type fleetServer struct {
	kr         *Keyring
	seal, sign *cookie.Codec
	keys       *jwt.KeySet
	iss        *jwt.Issuer
	ver        *jwt.Verifier
}

type token struct {
	purpose string
	value   string
	payload string
	keyID   string
	issued  time.Time
	exp     time.Time
}

// simEvent is one event of the simulation; at equal times, lower prio runs
// first.
type simEvent struct {
	at   time.Time
	prio int
	seq  int
	run  func()
}

const (
	prioStep  = iota // concurrent refresh at a scheduled rotation
	prioWake         // a server's background loop
	prioOther        // issues, checks, restarts, manual operations
)

type eventQueue []*simEvent

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	if q[i].prio != q[j].prio {
		return q[i].prio < q[j].prio
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*simEvent)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// sim is the state of one run.
type sim struct {
	t       *testing.T
	ctx     context.Context
	clk     *clocktest.Clock
	st      *hookStore
	keks    []*KEK
	rng     *rand.Rand
	queue   eventQueue
	seq     int
	servers [fleetServers]*fleetServer
	wakeAt  [fleetServers]time.Time
	ledger  *ledger
	remote  remoteVerifier
	steps   map[string]time.Time // scheduled rotation already planned, by purpose

	t0        time.Time
	revokedAt map[string]time.Time // key ID → revocation time
	stats     struct {
		tokens, checks, restarts, steps, manual, revocations int
	}
}

func runFleet(t *testing.T, clk *clocktest.Clock, base store.Store) {
	seed := *fleetSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (rerun with -keyring.seed=%d)", seed, seed)
	start := time.Now()
	s := &sim{
		t: t, ctx: context.Background(), clk: clk, st: newHookStore(base), keks: testKEKs(t),
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), steps: map[string]time.Time{},
		revokedAt: map[string]time.Time{},
	}
	s.ledger = newLedger(t, clk)
	s.st.onWrite = s.ledger.observe
	s.remote.sim = s
	t0 := clk.Now()
	s.t0 = t0
	days := *fleetDays
	if days == 0 {
		days = 180
		if raceEnabled {
			days = 30 // the race detector makes the run about ten times slower
		}
	}
	end := t0.Add(time.Duration(days) * 24 * time.Hour)
	for i := range s.servers {
		s.restart(i)
	}
	s.planSteps()
	s.at(t0.Add(s.exp(*fleetIssue)), prioOther, s.issue)
	s.at(t0.Add(s.exp(3*24*time.Hour)), prioOther, s.restartRandom)
	s.at(t0.Add(s.exp(8*24*time.Hour)), prioOther, s.manualRotate)
	s.at(t0.Add(s.exp(8*24*time.Hour)), prioOther, s.revokeRandom)
	for s.queue.Len() > 0 && !t.Failed() {
		e := heap.Pop(&s.queue).(*simEvent)
		if e.at.After(end) {
			break
		}
		if e.at.After(clk.Now()) {
			clk.Set(e.at)
		}
		e.run()
	}
	for _, srv := range s.servers {
		srv.kr.Close()
	}
	s.ledger.final(s)
	t.Logf("%v simulated in %v: %d tokens, %d checks, %d keys created (%d scheduled steps, %d manual, %d revocations), %d restarts, %d keyring reads",
		clk.Now().Sub(t0).Round(time.Hour), time.Since(start).Round(time.Millisecond), s.stats.tokens, s.stats.checks, s.ledger.created,
		s.stats.steps, s.stats.manual, s.stats.revocations, s.stats.restarts, s.st.gets.Load())
}

func (s *sim) at(t time.Time, prio int, run func()) {
	s.seq++
	heap.Push(&s.queue, &simEvent{at: t, prio: prio, seq: s.seq, run: run})
}

// exp draws an exponentially distributed duration of the given mean.
func (s *sim) exp(mean time.Duration) time.Duration {
	return time.Duration(s.rng.ExpFloat64() * float64(mean)).Truncate(time.Millisecond)
}

// restart replaces server i with a new one that loads the keys from the
// store, as a process restart does.
func (s *sim) restart(i int) {
	if old := s.servers[i]; old != nil {
		old.kr.Close()
	}
	cfg := fleetConfig
	cfg.KEKs, cfg.Now = s.keks, s.clk.Now
	kr, err := newKeyring(s.st, cfg, false)
	if err != nil {
		s.t.Fatal(err)
	}
	// Each server draws its jitter from its own generator, seeded from the
	// run's, so that a seed replays the same run.
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(s.rng.Uint64(), s.rng.Uint64()))
	kr.randN = func(n int64) int64 { mu.Lock(); defer mu.Unlock(); return rng.Int64N(n) }
	srv := &fleetServer{kr: kr}
	if srv.seal, err = kr.Codec(s.ctx, CookieSeal, fleetSchedules[CookieSeal]); err != nil {
		s.t.Fatal(err)
	}
	if srv.sign, err = kr.Codec(s.ctx, CookieSign, fleetSchedules[CookieSign]); err != nil {
		s.t.Fatal(err)
	}
	if srv.keys, err = kr.KeySet(s.ctx, jwt.EdDSA, fleetSchedules[JWTPurpose(jwt.EdDSA)]); err != nil {
		s.t.Fatal(err)
	}
	srv.iss = jwt.NewIssuer(srv.keys, jwt.IssuerConfig{Issuer: "https://fleet.test", Audience: []string{"fleet"}, Now: s.clk.Now})
	srv.ver = jwt.NewVerifier(srv.keys, jwt.Config{
		Issuer: "https://fleet.test", Audience: "fleet", MaxLifetime: 13 * time.Hour,
		InsecureDisableRevocation: true, Now: s.clk.Now,
	})
	s.servers[i] = srv
	s.scheduleWake(i, s.clk.Now())
	s.ledger.observeSigners(s, i)
}

func (s *sim) scheduleWake(i int, at time.Time) {
	srv := s.servers[i]
	s.wakeAt[i] = at
	s.at(at, prioWake, func() {
		if s.servers[i] != srv || !s.wakeAt[i].Equal(at) {
			return // restarted since, or rescheduled
		}
		d := srv.kr.wake(s.ctx)
		s.ledger.observeSigners(s, i)
		s.scheduleWake(i, s.clk.Now().Add(d))
	})
}

// planSteps schedules, for each purpose, a concurrent refresh of every
// server at the time its next rotation is due.
func (s *sim) planSteps() {
	for _, p := range fleetPurposes {
		due := s.ledger.rotationDue(p)
		if due.IsZero() || s.steps[p].Equal(due) {
			continue
		}
		s.steps[p] = due
		s.at(due, prioStep, func() {
			if !s.ledger.rotationDue(p).Equal(due) {
				s.planSteps() // a manual rotation moved it
				return
			}
			s.stats.steps++
			s.concurrently(fleetServers, func(i int) error { return s.servers[i].kr.Refresh(s.ctx) })
			for i := range s.servers {
				s.ledger.observeSigners(s, i)
			}
			s.planSteps()
		})
	}
}

// concurrently runs f on servers 0..n-1 at once, every keyring record armed
// so that the n first reads of each happen before any write.
func (s *sim) concurrently(n int, f func(i int) error) {
	for _, p := range fleetPurposes {
		s.st.arm(storePrefix+p, n)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = f(i) })
	}
	wg.Wait()
	s.st.disarm()
	for i, err := range errs {
		if err != nil {
			s.t.Errorf("server %d: %v", i, err)
		}
	}
}

func (s *sim) restartRandom() {
	s.stats.restarts++
	s.restart(s.rng.IntN(fleetServers))
	s.at(s.clk.Now().Add(s.exp(3*24*time.Hour)), prioOther, s.restartRandom)
}

func (s *sim) manualRotate() {
	s.stats.manual++
	p := fleetPurposes[s.rng.IntN(len(fleetPurposes))]
	before := s.ledger.created
	var mu sync.Mutex
	var ids []string
	s.concurrently(2, func(i int) error {
		k, err := s.servers[i].kr.Rotate(s.ctx, p)
		mu.Lock()
		ids = append(ids, k.ID)
		mu.Unlock()
		return err
	})
	if ids[0] != ids[1] || s.ledger.created > before+1 {
		s.t.Errorf("two concurrent rotations of %s: keys %v, %d created", p, ids, s.ledger.created-before)
	}
	s.planSteps()
	s.at(s.clk.Now().Add(s.exp(8*24*time.Hour)), prioOther, s.manualRotate)
}

// revokeRandom plans the revocation of a random key of a random purpose for
// the worst moment: just after a server (not the revoking one) reloaded the
// purpose, so that it learns of it only at its next reload.
func (s *sim) revokeRandom() {
	p := fleetPurposes[s.rng.IntN(len(fleetPurposes))]
	late := s.rng.IntN(fleetServers)
	by := (late + 1 + s.rng.IntN(fleetServers-1)) % fleetServers
	r, err := s.servers[late].kr.ring(p)
	if err != nil {
		s.t.Fatal(err)
	}
	r.mu.Lock()
	at := r.nextReload.Add(time.Millisecond)
	r.mu.Unlock()
	s.at(at, prioOther, func() { s.revoke(p, by) })
	s.at(at.Add(s.exp(8*24*time.Hour)), prioOther, s.revokeRandom)
}

// revoke revokes a random live key of purpose p through server by and
// checks, one reload interval later, that its tokens are refused everywhere.
func (s *sim) revoke(p string, by int) {
	s.stats.revocations++
	live := s.ledger.liveIDs(p)
	id := live[s.rng.IntN(len(live))]
	now := s.clk.Now()
	if err := s.servers[by].kr.Revoke(s.ctx, p, id); err != nil {
		s.t.Fatalf("revoke %s/%s: %v", p, id, err)
	}
	s.revokedAt[id] = now
	s.ledger.revoked(id)
	s.planSteps()
	// The revoking server signs at once with the replacement, if the key
	// was signing: every other server must load it on first sight.
	s.issueOn(by)
	deadline := now.Add(fleetConfig.ReloadInterval)
	s.at(deadline, prioOther, func() { s.checkRevoked(id, false) })
	s.at(deadline.Add(fleetConfig.JWKSMaxAge), prioOther, func() { s.checkRevoked(id, true) })
}

// checkRevoked asserts that no server (or, with remote, the remote
// verifier) accepts an unexpired token of a revoked key.
func (s *sim) checkRevoked(id string, remote bool) {
	now := s.clk.Now()
	if !remote {
		for i, srv := range s.servers {
			held := slices.Contains(srv.seal.KeyIDs(), parseID(id)) || slices.Contains(srv.sign.KeyIDs(), parseID(id))
			if _, ok := srv.keys.Key(id); ok || held {
				s.t.Errorf("server %d still holds key %s, revoked at %v, at %v", i, id, s.revokedAt[id], now)
			}
		}
	}
	for _, tok := range s.ledger.tokens[id] {
		if !now.Before(tok.exp) {
			continue
		}
		if remote {
			if tok.purpose == JWTPurpose(jwt.EdDSA) && s.remote.verify(tok) == nil {
				s.t.Errorf("remote verifier accepts a token of %s, revoked at %v, at %v", id, s.revokedAt[id], now)
			}
			continue
		}
		for i := range s.servers {
			if err := s.verify(i, tok); err == nil {
				s.t.Errorf("server %d accepts a token of %s, revoked at %v, at %v", i, id, s.revokedAt[id], now)
			}
		}
	}
}

// issue makes a sealed cookie, a signed cookie and a JWT on a random server,
// checks the signing keys' publication, and plans the checks of each.
func (s *sim) issue() {
	s.issueOn(s.rng.IntN(fleetServers))
	s.at(s.clk.Now().Add(s.exp(*fleetIssue)), prioOther, s.issue)
}

// issueOn makes a sealed cookie, a signed cookie and a JWT on server i.
func (s *sim) issueOn(i int) {
	srv := s.servers[i]
	now := s.clk.Now()
	for _, p := range fleetPurposes {
		life := time.Millisecond + time.Duration(s.rng.Int64N(int64(fleetSchedules[p].MaxLifetime)))
		tok := token{purpose: p, issued: now, payload: strconv.Itoa(s.stats.tokens)}
		var err error
		switch p {
		case CookieSeal:
			if tok.value, err = srv.seal.Seal("n", []byte(tok.payload), life); err == nil {
				_, tok.exp, err = srv.seal.OpenWithExpiry("n", tok.value)
			}
			tok.keyID = cookieKeyID(tok.value)
		case CookieSign:
			if tok.value, err = srv.sign.Sign("n", []byte(tok.payload), life); err == nil {
				_, tok.exp, err = srv.sign.VerifyWithExpiry("n", tok.value)
			}
			tok.keyID = cookieKeyID(tok.value)
		default:
			life = min(life.Truncate(time.Second)+time.Second, fleetSchedules[p].MaxLifetime)
			var is jwt.Issued
			is, err = srv.iss.Issue(jwt.Grant{Subject: tok.payload, Lifetime: life})
			tok.value, tok.keyID, tok.exp = is.Token, is.KeyID, is.ExpiresAt
		}
		if err != nil {
			s.t.Fatalf("server %d, %s: %v", i, p, err)
		}
		s.stats.tokens++
		s.ledger.signedWith(s, p, tok.keyID, i)
		s.ledger.tokens[tok.keyID] = append(s.ledger.tokens[tok.keyID], tok)
		s.check(tok)
		mid := now.Add(time.Duration(s.rng.Int64N(int64(tok.exp.Sub(now)))))
		s.at(mid, prioOther, func() { s.check(tok) })
		s.at(tok.exp.Add(-time.Millisecond), prioOther, func() { s.check(tok) })
		s.at(tok.exp, prioOther, func() { s.checkExpired(tok) })
	}
}

func idString(id uint32) string { return strconv.FormatUint(uint64(id), 10) }

// parseID returns the cookie key ID id names, or 0 for a JWT kid.
func parseID(id string) uint32 {
	v, _ := cookieID(id)
	return v
}

func cookieKeyID(v string) string {
	raw, err := b64.DecodeString(v[:8])
	if err != nil {
		return ""
	}
	return strconv.FormatUint(uint64(raw[1])<<24|uint64(raw[2])<<16|uint64(raw[3])<<8|uint64(raw[4]), 10)
}

// verify checks tok on server i.
func (s *sim) verify(i int, tok token) error {
	s.stats.checks++
	srv := s.servers[i]
	switch tok.purpose {
	case CookieSeal:
		p, err := srv.seal.OpenString("n", tok.value)
		if err == nil && p != tok.payload {
			err = fmt.Errorf("payload %q", p)
		}
		return err
	case CookieSign:
		p, err := srv.sign.VerifyString("n", tok.value)
		if err == nil && p != tok.payload {
			err = fmt.Errorf("payload %q", p)
		}
		return err
	}
	c, err := srv.ver.Verify(s.ctx, tok.value)
	if err == nil && c.Subject != tok.payload {
		err = fmt.Errorf("subject %q", c.Subject)
	}
	return err
}

// check asserts that tok verifies on every server and on the remote
// verifier, unless its key has been revoked.
func (s *sim) check(tok token) {
	if _, revoked := s.revokedAt[tok.keyID]; revoked {
		return
	}
	for i := range s.servers {
		if err := s.verify(i, tok); err != nil {
			s.t.Errorf("server %d refuses a %s token of key %s issued %v, expiring %v, at %v: %v",
				i, tok.purpose, tok.keyID, tok.issued, tok.exp, s.clk.Now(), err)
		}
	}
	if tok.purpose == JWTPurpose(jwt.EdDSA) {
		if err := s.remote.verify(tok); err != nil {
			s.t.Errorf("remote verifier refuses a token of key %s issued %v at %v: %v", tok.keyID, tok.issued, s.clk.Now(), err)
		}
	}
}

// checkExpired asserts that tok is refused by every server once expired.
func (s *sim) checkExpired(tok token) {
	for i := range s.servers {
		err := s.verify(i, tok)
		switch {
		case err == nil:
			s.t.Errorf("server %d accepts a %s token at its expiry", i, tok.purpose)
		case tok.purpose != JWTPurpose(jwt.EdDSA) && !errors.Is(err, cookie.ErrExpired) && !errors.Is(err, cookie.ErrUnknownKey):
			s.t.Errorf("server %d: expired %s token: %v", i, tok.purpose, err)
		}
	}
}

// remoteVerifier is a verifier of another service: it fetches the JWKS from
// a random server and keeps it for the max-age the response advertises.
type remoteVerifier struct {
	sim   *sim
	until time.Time
	keys  *jwt.KeySet
	ver   *jwt.Verifier
}

func (rv *remoteVerifier) verify(tok token) error {
	rv.refresh()
	_, err := rv.ver.Verify(rv.sim.ctx, tok.value)
	if errors.Is(err, jwt.ErrUnknownKey) && rv.sim.ledger.isEarly(tok.keyID) {
		// A key that signs at once (the replacement of a revoked signing
		// key) is not in any cached JWKS: a remote verifier refetches when
		// it meets an unknown kid, as jwt.RemoteKeySet does.
		rv.until = time.Time{}
		rv.refresh()
		_, err = rv.ver.Verify(rv.sim.ctx, tok.value)
	}
	return err
}

// knows reports whether the cached JWKS holds kid.
func (rv *remoteVerifier) knows(kid string) bool {
	rv.refresh()
	_, ok := rv.keys.Key(kid)
	return ok
}

// refresh fetches the JWKS once the cached copy's max-age has passed.
func (rv *remoteVerifier) refresh() {
	s := rv.sim
	now := s.clk.Now()
	if rv.ver == nil || !now.Before(rv.until) {
		rec := httptest.NewRecorder()
		s.servers[s.rng.IntN(fleetServers)].kr.JWKSHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/jwks", nil))
		cc := rec.Header().Get("Cache-Control")
		age, err := strconv.Atoi(strings.TrimPrefix(cc, "public, max-age="))
		if rec.Code != http.StatusOK || err != nil || age < 1 {
			s.t.Fatalf("JWKS: %d, Cache-Control %q", rec.Code, cc)
		}
		set, err := jwk.Parse(rec.Body.Bytes())
		if err != nil {
			s.t.Fatal(err)
		}
		var keys []*jwt.Key
		for n := range set.Len() {
			jk, _ := set.Key(n)
			kid, _ := jk.KeyID()
			k, err := jwt.NewKeyWithID(kid, jwt.EdDSA, jk)
			if err != nil {
				s.t.Fatal(err)
			}
			keys = append(keys, k)
		}
		ks, err := jwt.NewKeySet(nil, keys...)
		if err != nil {
			s.t.Fatal(err)
		}
		rv.ver = jwt.NewVerifier(ks, jwt.Config{Issuer: "https://fleet.test", Audience: "fleet", MaxLifetime: 13 * time.Hour, InsecureDisableRevocation: true, Now: s.clk.Now})
		rv.until = now.Add(time.Duration(age) * time.Second)
		rv.keys = ks
	}
}
