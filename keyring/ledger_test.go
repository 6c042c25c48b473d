package keyring

import (
	"encoding/base64"
	"github.com/authkit/authkit/internal/clocktest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var b64 = base64.RawURLEncoding

// ledger follows the keyring records through every successful write to the
// store, independently of the servers' views: when each key first appeared
// in the store, and what each write changed.
type ledger struct {
	t   *testing.T
	clk *clocktest.Clock

	mu        sync.Mutex
	records   map[string]*record        // latest record per purpose
	published map[string]time.Time      // key ID → first write holding it
	early     map[string]bool           // key ID → created with the early flag
	revokedID map[string]bool           // IDs revoked by the test
	created   int                       // keys created over the run
	tokens    map[string][]token        // key ID → tokens it signed
	signers   map[string]map[string]int // purpose → key ID → servers seen signing with it
}

func newLedger(t *testing.T, clk *clocktest.Clock) *ledger {
	return &ledger{
		t: t, clk: clk, records: map[string]*record{}, published: map[string]time.Time{}, early: map[string]bool{},
		revokedID: map[string]bool{}, tokens: map[string][]token{}, signers: map[string]map[string]int{},
	}
}

// observe is the store's write hook: it decodes the new record and checks
// what the write changed.
func (l *ledger) observe(key string, value []byte) {
	purpose, ok := strings.CutPrefix(key, storePrefix)
	if !ok {
		return
	}
	rec, err := decodeRecord(value)
	if err != nil {
		l.t.Errorf("a write left an undecodable record under %s: %v", key, err)
		return
	}
	now := l.clk.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	prev := l.records[purpose]
	var added []entry
	for _, e := range rec.keys {
		if _, seen := l.published[e.id]; !seen {
			l.published[e.id] = now
			l.early[e.id] = e.flags&flagEarly != 0
			added = append(added, e)
		}
	}
	l.created += len(added)
	if len(added) > 1 {
		l.t.Errorf("one write added %d keys to %s", len(added), purpose)
	}
	for _, e := range added {
		if e.flags&flagEarly != 0 {
			// Only a new keyring or a revoked signing key makes one.
			if prev != nil && prev.signer(now.UnixMilli()) >= 0 && !l.signerRevoked(prev, rec, now) {
				l.t.Errorf("%s: early key %s added while a key could sign", purpose, e.id)
			}
			continue
		}
		if prev == nil {
			l.t.Errorf("%s: scheduled key %s in the first write", purpose, e.id)
			continue
		}
		// A key still waiting to sign beside it means a duplicate step.
		for _, i := range rec.live() {
			if w := rec.keys[i]; w.id != e.id && w.activates > now.UnixMilli() {
				l.t.Errorf("%s: key %s added while key %s was already waiting (a duplicate step)", purpose, e.id, w.id)
			}
		}
		if e.activates-e.created < fleetSchedules[purpose].Prepublish.Milliseconds() {
			l.t.Errorf("%s: key %s activates %v after it was created", purpose, e.id, time.Duration(e.activates-e.created)*time.Millisecond)
		}
	}
	l.records[purpose] = rec
}

// signerRevoked reports whether the signing key of prev is revoked in rec.
func (l *ledger) signerRevoked(prev, rec *record, now time.Time) bool {
	id := prev.keys[prev.signer(now.UnixMilli())].id
	i := slices.IndexFunc(rec.keys, func(e entry) bool { return e.id == id })
	return i < 0 || rec.keys[i].isRevoked()
}

func (l *ledger) isEarly(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.early[id]
}

func (l *ledger) revoked(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.revokedID[id] = true
}

// rotationDue returns when the next scheduled step of purpose is due.
func (l *ledger) rotationDue(purpose string) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	rec := l.records[purpose]
	if rec == nil {
		return time.Time{}
	}
	return time.UnixMilli(rec.rotationDue(fleetSchedules[purpose].plan()))
}

// liveIDs returns the IDs of the keys of purpose that are not revoked.
func (l *ledger) liveIDs(purpose string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	rec := l.records[purpose]
	var ids []string
	for _, i := range rec.live() {
		ids = append(ids, rec.keys[i].id)
	}
	return ids
}

// signedWith checks that server i signs for purpose with a key that has
// been in the store for the prepublish time, unless it is an early key.
func (l *ledger) signedWith(s *sim, purpose, id string, i int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	pub, ok := l.published[id]
	switch {
	case !ok:
		l.t.Errorf("server %d signs %s with key %s, which was never written to the store", i, purpose, id)
	case !l.early[id] && l.clk.Now().Sub(pub) < fleetSchedules[purpose].Prepublish:
		l.t.Errorf("server %d signs %s with key %s, published %v ago", i, purpose, id, l.clk.Now().Sub(pub))
	case l.revokedID[id] && l.clk.Now().Sub(s.revokedAt[id]) > fleetConfig.ReloadInterval:
		l.t.Errorf("server %d still signs %s with key %s, revoked at %v", i, purpose, id, s.revokedAt[id])
	}
	if l.signers[purpose] == nil {
		l.signers[purpose] = map[string]int{}
	}
	l.signers[purpose][id]++
}

// observeSigners checks the signing keys of server i as it holds them now.
func (l *ledger) observeSigners(s *sim, i int) {
	srv := s.servers[i]
	l.signedWith(s, CookieSeal, idString(srv.seal.KeyIDs()[0]), i)
	l.signedWith(s, CookieSign, idString(srv.sign.KeyIDs()[0]), i)
	kid := srv.keys.SigningKey().ID()
	l.signedWith(s, fleetPurposes[2], kid, i)
	// A verifier elsewhere that cached the JWKS for the advertised max-age
	// already has the key this server signs with.
	if _, revoked := s.revokedAt[kid]; !revoked && !l.early[kid] && !s.remote.knows(kid) {
		l.t.Errorf("server %d signs JWTs with %s, missing from the JWKS a remote verifier cached until %v", i, kid, s.remote.until)
	}
}

// final checks the run as a whole: each purpose rotated about as often as
// its schedule says, and only the first key and replacements were early.
func (l *ledger) final(s *sim) {
	l.mu.Lock()
	defer l.mu.Unlock()
	days := l.clk.Now().Sub(s.t0)
	for _, p := range fleetPurposes {
		n := len(l.signers[p])
		want := int(days / fleetSchedules[p].Rotation)
		if n < want {
			l.t.Errorf("%s: %d signing keys over %v, want at least %d", p, n, days, want)
		}
	}
	early := 0
	for _, e := range l.early {
		if e {
			early++
		}
	}
	if early > len(fleetPurposes)+s.stats.revocations {
		l.t.Errorf("%d early keys for %d purposes and %d revocations", early, len(fleetPurposes), s.stats.revocations)
	}
}
