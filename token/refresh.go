package token

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/internal/cas"
)

// Refresh rotates a refresh token: it consumes presented and returns its
// successor in the same family, with the family's description, in one
// CompareAndSwap on the family record (two store round trips), so
// concurrent uses of one token give exactly one rotation. It issues no
// access credential: the caller issues its own (a JWT carrying
// FamilyInfo.ID), or calls RefreshPair.
//
// clientID is the client the caller authenticated, or "" when the endpoint
// does not authenticate clients; when non-empty it must match the family's
// ClientID, or the token is refused with ErrClientMismatch and nothing is
// rotated (a rotated-out token is reuse whoever presents it).
//
// Presenting a token that was already rotated out is reuse (RFC 9700
// §4.14.2): the family is revoked with the access tokens issued from it,
// EventRefreshReuse is reported, and the error is ErrReused — returned
// only once those access tokens are ended and the [Manager.OnFamilyRevoked]
// listeners have succeeded, with the revoked family's FamilyInfo (Revoked
// set), so a caller that issued other credentials from the family (JWTs
// carrying its ID) can end them too. If ending them failed, the error says
// so instead, with the same FamilyInfo (it is no ErrReused and no bad
// credential: answer it as a store failure); the family is revoked all the
// same, and the next refresh with one of its tokens, RevokeFamily or
// RevokeSubject finishes the job. Every other error comes with a zero
// FamilyInfo. With Config.Grace,
// presenting the token rotated out last again within Grace of that
// rotation returns the same successor and revokes nothing.
//
// # Failures and retries
//
// The rotation is Refresh's only write. If it fails before taking effect,
// the presented token is still current and a retry rotates as usual. If
// its outcome is unknown (the store applied it and the reply was lost),
// Refresh reads the family back and, finding its own successor there,
// returns it as a success. Only when that read fails as well does a client
// get an error for a rotation that happened; its retry with the same token
// is then reuse, unless it comes within Config.Grace of the rotation — the
// same case as a response lost on its way to the client, and the same
// bound.
//
// Errors: ErrMalformed (no store access), ErrNotFound (unknown or forged),
// ErrExpired (idle or absolute lifetime over), ErrRevoked, ErrReused,
// ErrClientMismatch — all matching authkit.ErrInvalidCredentials — or a
// store failure.
func (m *Manager) Refresh(ctx context.Context, presented Token, clientID string) (Token, FamilyInfo, error) {
	key, loc, err := m.refreshKey(ctx, presented)
	if err != nil {
		return "", FamilyInfo{}, err
	}
	t, err := m.rotate(ctx, key, nil, presented, clientID, step{next: newToken(m.cfg.RefreshPrefix, loc)})
	if err != nil {
		return "", FamilyInfo{}, m.refused(ctx, key, t, err)
	}
	if t.verdict == reuse {
		info := t.fam.info(key)
		info.Revoked = true
		return "", info, m.reused(ctx, key, t)
	}
	m.rotatedEvent(ctx, t)
	return t.next, t.fam.info(key), nil
}

// RefreshPair is Refresh followed by issuing an opaque access token from the
// family (lifetime Config.AccessLifetime, never past the family's
// deadlines). A retry inside the grace window gets the same refresh token
// and a new access token.
//
// It costs four store round trips: it links the new access token into the
// family record (reading it and checking the presented token), creates the
// access token's record, and then rotates the family from the record it
// linked. A failure of either of the first two writes leaves the presented
// token current, so the client's retry is no reuse; the rotation itself
// behaves as Refresh's, described there.
func (m *Manager) RefreshPair(ctx context.Context, presented Token, clientID string) (Pair, error) {
	key, loc, err := m.refreshKey(ctx, presented)
	if err != nil {
		return Pair{}, err
	}
	at := newToken(m.cfg.AccessPrefix, "")
	// The family record is the index of its access tokens: link first, so
	// that a revocation of the family finds the token whether or not its
	// record exists yet.
	t, err := swapFrom(ctx, m, key, nil, m.refreshStep(key, presented, clientID, step{link: at}))
	if err != nil {
		return Pair{}, m.refused(ctx, key, t, err)
	}
	if t.verdict == reuse {
		return Pair{}, m.reused(ctx, key, t)
	}
	atKey := accessKey(at)
	if err := m.create(ctx, atKey, encodeAccess(t.rec), t.rec.expires); err != nil {
		// Even when a marker is there (the family was revoked meanwhile,
		// or the token evicted by a concurrent refresh), this is no
		// refusal of the refresh token: a retry learns which.
		return Pair{}, fmt.Errorf("token: refresh: creating the access token: %w", err)
	}
	// End the access tokens the MaxFamilyAccess cap moved out (and any a
	// failed call left); the rotation then drops them from the record.
	ended, err := m.endRefs(ctx, append(t.fam.ending, t.extra...))
	m.cleanup(ctx, err)
	if t.verdict == replay {
		if len(ended) > 0 {
			m.cleanup(ctx, m.dropEnded(ctx, key, t.raw, ended))
		}
		m.rotatedEvent(ctx, t)
		return Pair{Access: at, Refresh: t.next, AccessInfo: t.rec.info(atKey), Family: t.fam.info(key)}, nil
	}
	r, err := m.rotate(ctx, key, t.raw, presented, clientID, step{next: newToken(m.cfg.RefreshPrefix, loc), ended: ended})
	if err != nil {
		return Pair{}, m.refused(ctx, key, r, err)
	}
	if r.verdict == reuse {
		return Pair{}, m.reused(ctx, key, r)
	}
	m.rotatedEvent(ctx, r)
	return Pair{Access: at, Refresh: r.next, AccessInfo: t.rec.info(atKey), Family: r.fam.info(key)}, nil
}

// refreshKey returns the family key and locator of a refresh token, or
// ErrMalformed (reported as an event) without touching the store.
func (m *Manager) refreshKey(ctx context.Context, presented Token) (storeKey, string, error) {
	loc, ok := m.refreshLocator(presented)
	if !ok {
		m.emit(ctx, authkit.EventRejected, "", authkit.ReasonMalformed)
		return "", "", ErrMalformed
	}
	return familyKey(loc), loc, nil
}

// verdict is what presenting a refresh token to its family means.
type verdict int

const (
	current verdict = iota + 1 // the family's current token: rotate
	replay                     // the predecessor within Grace: the same successor again
	reuse                      // a rotated-out token: revoke the family
)

// step says what a refresh swap is to do besides judging the token.
type step struct {
	next  Token       // rotate to this successor
	ended []accessRef // drop these from the record's ending list: their markers are written
	link  Token       // instead of rotating, link this new access token into the family
}

// turn is what a refresh swap found in the family record and did.
type turn struct {
	verdict verdict
	next    Token         // the successor to hand out (current, replay)
	fam     *familyRecord // the family as written (current, link), as found (replay), or as it was before reuse revoked it
	raw     []byte        // the record as written, by a link or by reuse
	rec     *accessRecord // the linked access token's record
	tomb    *familyRecord // a revoked family whose revocation is unfinished: just revoked by reuse, or found so
	extra   []accessRef   // access tokens to end that the record cannot hold
	subject string        // the family's subject, for the event of a refusal
}

// refreshStep returns the swap function of a refresh: it judges the
// presented token against the family record and, as the verdict and s say,
// rotates the family, links an access token into it, or revokes it.
func (m *Manager) refreshStep(key storeKey, presented Token, clientID string, s step) func([]byte) ([]byte, time.Time, turn, error) {
	h := sha256.Sum256([]byte(presented))
	return func(cur []byte) ([]byte, time.Time, turn, error) {
		f, err := loadFamily(cur)
		if err != nil {
			return nil, time.Time{}, turn{}, err
		}
		now := m.now()
		v, successor, err := m.judge(key, f, presented, h, clientID, now)
		if err != nil {
			t := turn{subject: f.subject}
			if f.unfinished() {
				t.tomb, t.raw = f, cur
			}
			return nil, time.Time{}, t, err
		}
		switch {
		case v == reuse:
			tomb, extra := m.tombstone(f, now)
			enc := encodeFamily(tomb)
			return enc, f.storeExpiry(), turn{verdict: reuse, fam: f, raw: enc, tomb: tomb, extra: extra, subject: f.subject}, nil
		case s.link != "":
			n, rec, extra := m.linkAccess(key, f, s.link, now)
			enc := encodeFamily(n)
			return enc, n.storeExpiry(), turn{verdict: v, next: successor, fam: n, raw: enc, rec: rec, extra: extra}, nil
		case v == replay:
			return nil, time.Time{}, turn{verdict: replay, next: successor, fam: f}, cas.ErrNoChange
		}
		n, err := m.rotated(key, f, presented, s, now)
		if err != nil {
			return nil, time.Time{}, turn{}, err
		}
		return encodeFamily(n), n.storeExpiry(), turn{verdict: current, next: s.next, fam: n}, nil
	}
}

// judge decides what presenting the token hashing to h (presented, by
// clientID) to the family f under key means at now. For a replay it also
// returns the successor, opened from the family record.
func (m *Manager) judge(key storeKey, f *familyRecord, presented Token, h [sha256.Size]byte, clientID string, now time.Time) (verdict, Token, error) {
	if f.revoked {
		return 0, "", ErrRevoked
	}
	if !now.Before(f.expires) || !now.Before(f.idleExpires) {
		return 0, "", ErrExpired
	}
	// The client check applies to a token that could be honoured; a
	// rotated-out token is reuse whoever presents it.
	clientOK := clientID == "" || clientID == f.clientID
	switch {
	case subtle.ConstantTimeCompare(h[:], f.cur[:]) == 1:
		if !clientOK {
			return 0, "", ErrClientMismatch
		}
		return current, "", nil
	case f.gen > 0 && subtle.ConstantTimeCompare(h[:], f.prev[:]) == 1:
		// The grace window is for the family's own client retrying; the
		// predecessor from another client is reuse, like any other
		// rotated-out token.
		if clientOK && m.cfg.Grace > 0 && now.Before(f.rotated.Add(m.cfg.Grace)) && f.sealed != nil {
			s, err := openSuccessor(presented, f.sealed, sealAAD(key, f.gen))
			if sh := sha256.Sum256([]byte(s)); err == nil && subtle.ConstantTimeCompare(sh[:], f.cur[:]) == 1 {
				return replay, s, nil
			}
		}
		return reuse, "", nil
	case inHistory(f.history, h):
		return reuse, "", nil
	}
	// Not a token of this family: forged by someone who knows a locator,
	// or older than the history remembers. Refused, but no grounds to
	// revoke the family.
	return 0, "", ErrNotFound
}

// rotated returns family f rotated at now from presented to s.next, with
// the access tokens in s.ended dropped from its ending list.
func (m *Manager) rotated(key storeKey, f *familyRecord, presented Token, s step, now time.Time) (*familyRecord, error) {
	n := *f
	if f.gen > 0 {
		n.history = appendHistory(f.history, f.prev)
	}
	n.prev, n.cur = f.cur, sha256.Sum256([]byte(s.next))
	n.gen = f.gen + 1
	n.rotated = now
	n.idleExpires = minTime(now.Add(m.cfg.RefreshIdleTimeout), f.expires)
	n.access = liveRefs(f.access, now)
	n.ending = withoutRefs(liveRefs(f.ending, now), s.ended)
	n.sealed = nil
	if m.cfg.Grace > 0 {
		var err error
		if n.sealed, err = sealSuccessor(presented, s.next, sealAAD(key, n.gen)); err != nil {
			return nil, err
		}
	}
	return &n, nil
}

// linkAccess returns family f with a new access token at linked into it,
// and the token's record. Expired tokens leave the lists; the oldest live
// ones beyond Config.MaxFamilyAccess move to the ending list, for the
// caller to end. It also returns the tokens to end that the record
// cannot hold (see capEnding).
func (m *Manager) linkAccess(key storeKey, f *familyRecord, at Token, now time.Time) (*familyRecord, *accessRecord, []accessRef) {
	rec := m.familyAccess(key, f, now)
	n := *f
	n.access = append(liveRefs(f.access, now), accessRef{hash: sha256.Sum256([]byte(at)), expires: rec.expires})
	n.ending = liveRefs(f.ending, now)
	if k := len(n.access) - m.cfg.MaxFamilyAccess; k > 0 {
		slices.SortStableFunc(n.access, func(a, b accessRef) int { return a.expires.Compare(b.expires) })
		n.ending = append(n.ending, n.access[:k]...)
		n.access = slices.Clone(n.access[k:])
	}
	var extra []accessRef
	n.ending, extra = capEnding(n.ending)
	return &n, rec, extra
}

// rotate runs a rotation swap (see refreshStep), starting from known (the
// record as this call last wrote it) when not nil. When the swap's outcome
// is unknown, it reads the family back: a family holding this call's
// successor was rotated by it.
func (m *Manager) rotate(ctx context.Context, key storeKey, known []byte, presented Token, clientID string, s step) (turn, error) {
	t, err := swapFrom(ctx, m, key, known, m.refreshStep(key, presented, clientID, s))
	if err == nil || errors.Is(err, authkit.ErrInvalidCredentials) || errors.Is(err, ErrCorrupt) {
		return t, err
	}
	raw, gerr := m.st.Get(ctx, string(key))
	if gerr != nil || isMarker(raw) {
		return t, err
	}
	f, derr := decodeFamily(raw)
	if h := sha256.Sum256([]byte(s.next)); derr == nil && !f.revoked && f.cur == h {
		return turn{verdict: current, next: s.next, fam: f}, nil
	}
	return t, err
}

// refused returns the error of a refresh swap that failed, reporting a
// refused token as an event. A revoked family found with its revocation
// unfinished is finished on the way: a client retrying after a failed
// revocation completes it.
func (m *Manager) refused(ctx context.Context, key storeKey, t turn, err error) error {
	if t.tomb != nil && errors.Is(err, ErrRevoked) {
		ferr := m.finishFamily(ctx, key, t.tomb, t.raw, nil)
		m.cleanup(ctx, ferr)
		m.familyDone(ctx, t.tomb.subject, key, ferr)
	}
	switch {
	case errors.Is(err, authkit.ErrInvalidCredentials):
		m.emit(ctx, authkit.EventRejected, t.subject, reason(err))
		return err
	case errors.Is(err, ErrCorrupt):
		return err
	}
	return fmt.Errorf("token: refresh: %w", err)
}

// reused finishes the revocation of a family whose rotated-out token was
// presented (t, from the swap that revoked it), reports the reuse and
// returns ErrReused — or, when the revocation could not be finished, an
// error saying so.
func (m *Manager) reused(ctx context.Context, key storeKey, t turn) error {
	var err error
	if t.tomb.unfinished() || len(t.extra) > 0 {
		err = m.finishFamily(ctx, key, t.tomb, t.raw, t.extra)
	}
	m.familyDone(ctx, t.fam.subject, key, err)
	m.emit(ctx, authkit.EventRefreshReuse, t.fam.subject, authkit.ReasonReuse)
	if err != nil {
		return fmt.Errorf("token: refresh token reused and its family revoked, but ending what was issued from it is unfinished (a retry finishes it): %w", err)
	}
	return ErrReused
}

func (m *Manager) rotatedEvent(ctx context.Context, t turn) {
	if t.verdict == replay {
		m.emit(ctx, authkit.EventRefresh, t.fam.subject, authkit.ReasonGrace)
		return
	}
	m.emit(ctx, authkit.EventRefresh, t.fam.subject, "")
}

// dropEnded removes the access tokens in ended, whose markers are written,
// from the ending list of the live family under key (known: its record as
// last written).
func (m *Manager) dropEnded(ctx context.Context, key storeKey, known []byte, ended []accessRef) error {
	_, err := swapFrom(ctx, m, key, known, func(cur []byte) ([]byte, time.Time, struct{}, error) {
		f, err := loadFamily(cur)
		if err != nil || f.revoked {
			return nil, time.Time{}, struct{}{}, cas.ErrNoChange
		}
		n := *f
		n.ending = withoutRefs(f.ending, ended)
		if len(n.ending) == len(f.ending) {
			return nil, time.Time{}, struct{}{}, cas.ErrNoChange
		}
		return encodeFamily(&n), n.storeExpiry(), struct{}{}, nil
	})
	return err
}

// swapFrom is cas.Do on the record under key whose first attempt, when
// known is not nil, takes known as the current value instead of reading
// it: known is what this call last wrote there, most likely still current,
// and a mismatch costs only the read it saved. Only a swap is trusted to
// the guess: when fn makes no write of known (an error, or no change), the
// record is read as cas.Do does.
func swapFrom[R any](ctx context.Context, m *Manager, key storeKey, known []byte, fn func([]byte) ([]byte, time.Time, R, error)) (R, error) {
	if known != nil {
		if next, exp, r, err := fn(known); err == nil && len(next) > 0 {
			ok, err := m.st.CompareAndSwap(ctx, string(key), known, next, exp)
			if err != nil {
				var zero R
				return zero, err
			}
			if ok {
				return r, nil
			}
		}
	}
	return cas.Do(ctx, m.st, string(key), cas.Policy{}, fn)
}

func inHistory(hist [][historyLen]byte, h [sha256.Size]byte) bool {
	found := 0
	for _, e := range hist {
		found |= subtle.ConstantTimeCompare(e[:], h[:historyLen])
	}
	return found == 1
}

// appendHistory remembers the truncated hash h, keeping the newest maxHistory.
func appendHistory(hist [][historyLen]byte, h [sha256.Size]byte) [][historyLen]byte {
	var e [historyLen]byte
	copy(e[:], h[:])
	out := make([][historyLen]byte, 0, min(len(hist)+1, maxHistory))
	if len(hist) >= maxHistory {
		hist = hist[len(hist)-maxHistory+1:]
	}
	out = append(out, hist...)
	return append(out, e)
}
