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
	"github.com/authkit/authkit/internal/index"
	"github.com/authkit/authkit/internal/secret"
	"github.com/authkit/authkit/store"
)

// FamilyOptions describes a refresh family to start.
type FamilyOptions struct {
	// ClientID is the OAuth client the family is issued to, if any. When
	// set, Refresh refuses the family's tokens from another authenticated
	// client, and only this client may revoke them at the revocation
	// endpoint.
	ClientID string
	// Scopes are what the family's access credentials allow, each an
	// RFC 6749 scope-token.
	Scopes []string
	// Metadata is free-form data kept with the family (a device name). It
	// must not hold secrets.
	Metadata map[string]string
	// AuthTime is when the subject proved who they are. Zero means now.
	AuthTime time.Time
}

// FamilyInfo describes a refresh family: the chain of refresh tokens that
// descend, one rotation at a time, from one sign-in.
type FamilyInfo struct {
	// ID identifies the family, stable across rotations: 43 base64url
	// characters (the SHA-256 of a secret part of its tokens). It is not a
	// secret: put it in access JWTs to tie them to the family, check the
	// family with Family, revoke it with RevokeFamily.
	ID       string
	Subject  string
	ClientID string
	Scopes   []string
	Metadata map[string]string
	// AuthTime is when the subject proved who they are to start the family.
	AuthTime time.Time
	// Created is when the family started; Expires = Created +
	// Config.RefreshLifetime is its absolute end.
	Created time.Time
	Expires time.Time
	// Rotated is the last rotation (Created before any); IdleExpires =
	// Rotated + Config.RefreshIdleTimeout, capped at Expires.
	Rotated     time.Time
	IdleExpires time.Time
	// Generation counts the rotations so far.
	Generation uint64
	// Revoked is set on a revoked family, as reported by Family.
	Revoked bool
}

func (f *familyRecord) info(key storeKey) FamilyInfo {
	return FamilyInfo{
		ID: key.id(), Subject: f.subject, ClientID: f.clientID, Scopes: f.scopes, Metadata: f.metadata,
		AuthTime: f.authTime, Created: f.created, Expires: f.expires,
		Rotated: f.rotated, IdleExpires: f.idleExpires, Generation: f.gen, Revoked: f.revoked,
	}
}

// Pair is an opaque access token with the refresh token that renews it.
type Pair struct {
	Access     Token
	Refresh    Token
	AccessInfo Info
	Family     FamilyInfo
}

// IssueRefresh starts a refresh family for subject and returns its first
// refresh token. Issuing past Config.MaxFamilies for the subject revokes
// their oldest family. Use it with an access credential of your own (a JWT
// carrying FamilyInfo.ID, say); IssuePair issues an opaque access token with
// it.
func (m *Manager) IssueRefresh(ctx context.Context, subject string, opts FamilyOptions) (Token, FamilyInfo, error) {
	rt, fam, _, _, err := m.startFamily(ctx, subject, opts, false)
	return rt, fam, err
}

// IssuePair starts a refresh family for subject and returns its first
// refresh token with an opaque access token issued from it (lifetime
// Config.AccessLifetime). Revoking the family deletes the access token.
func (m *Manager) IssuePair(ctx context.Context, subject string, opts FamilyOptions) (Pair, error) {
	rt, fam, at, info, err := m.startFamily(ctx, subject, opts, true)
	if err != nil {
		return Pair{}, err
	}
	return Pair{Access: at, Refresh: rt, AccessInfo: info, Family: fam}, nil
}

func (m *Manager) startFamily(ctx context.Context, subject string, opts FamilyOptions, withAccess bool) (Token, FamilyInfo, Token, Info, error) {
	if err := checkCommon(subject, opts.ClientID, opts.Scopes, opts.Metadata); err != nil {
		return "", FamilyInfo{}, "", Info{}, err
	}
	now := m.now()
	loc := secret.Base62(locatorLen)
	key := familyKey(loc)
	rt := newToken(m.cfg.RefreshPrefix, loc)
	f := &familyRecord{
		created: now, authTime: opts.AuthTime, rotated: now,
		expires: now.Add(m.cfg.RefreshLifetime),
		subject: subject, clientID: opts.ClientID,
		scopes: cloneScopes(opts.Scopes), metadata: cloneMeta(opts.Metadata),
		cur: sha256.Sum256([]byte(rt)),
	}
	if f.authTime.IsZero() {
		f.authTime = now
	}
	f.idleExpires = minTime(now.Add(m.cfg.RefreshIdleTimeout), f.expires)
	var (
		at     Token
		atInfo Info
		atKey  storeKey
	)
	if withAccess {
		var atRec *accessRecord
		at, atKey, atRec = m.newFamilyAccess(key, f, now)
		if err := m.st.Set(ctx, string(atKey), encodeAccess(atRec), atRec.expires); err != nil {
			return "", FamilyInfo{}, "", Info{}, fmt.Errorf("token: issue: %w", err)
		}
		f.access = []accessRef{{hash: sha256.Sum256([]byte(at)), expires: atRec.expires}}
		atInfo = atRec.info(atKey)
	}
	undo := func() {
		if withAccess {
			m.cleanup(ctx, m.st.Delete(ctx, string(atKey)))
		}
	}
	// "Only if absent": the locator is 131 random bits, so this never
	// collides, but a collision must not overwrite another family.
	ok, err := m.st.CompareAndSwap(ctx, string(key), nil, encodeFamily(f), f.storeExpiry())
	if err == nil && !ok {
		err = errors.New("family ID collision")
	}
	if err != nil {
		undo()
		return "", FamilyInfo{}, "", Info{}, fmt.Errorf("token: issue: %w", err)
	}
	evicted, err := m.families.Add(ctx, subject, index.Member{ID: string(key), Created: now, Expires: f.expires})
	if err != nil {
		m.cleanup(ctx, m.st.Delete(ctx, string(key)))
		undo()
		return "", FamilyInfo{}, "", Info{}, fmt.Errorf("token: issue: %w", err)
	}
	var ended []string
	for _, mb := range evicted {
		if _, err := m.revokeFamily(ctx, storeKey(mb.ID), nil, false); err != nil {
			m.cleanup(ctx, err)
			continue
		}
		ended = append(ended, mb.ID)
	}
	m.cleanup(ctx, m.families.Finish(ctx, subject, ended...))
	m.emit(ctx, authkit.EventLogin, subject, authkit.ReasonRefreshFamily)
	return rt, f.info(key), at, atInfo, nil
}

// newFamilyAccess makes an access token for family f (under key) and its
// record. It lives Config.AccessLifetime, never past the family's deadlines, so
// it never outlives the family record that tracks it.
func (m *Manager) newFamilyAccess(key storeKey, f *familyRecord, now time.Time) (Token, storeKey, *accessRecord) {
	at := newToken(m.cfg.AccessPrefix, "")
	rec := &accessRecord{
		created: now, expires: minTime(now.Add(m.cfg.AccessLifetime), f.storeExpiry()), authTime: f.authTime,
		subject: f.subject, clientID: f.clientID, familyID: key.id(),
		scopes: f.scopes,
	}
	return at, accessKey(at), rec
}

// Refresh rotates a refresh token: it consumes presented and returns its
// successor in the same family, with the family's description, in one
// CompareAndSwap on the family record, so concurrent uses of one token give
// exactly one rotation. It issues no access credential: the caller issues
// its own (a JWT carrying FamilyInfo.ID), or calls RefreshPair.
//
// clientID is the client the caller authenticated, or "" when the endpoint
// does not authenticate clients; when non-empty it must match the family's
// ClientID, or the token is refused with ErrClientMismatch and nothing is
// rotated (a rotated-out token is reuse whoever presents it).
//
// Presenting a token that was already rotated out is reuse (RFC 9700
// §4.14.2): the family is revoked with the access tokens issued from it,
// EventRefreshReuse is reported, and the error is ErrReused — returned with
// the revoked family's FamilyInfo (Revoked set), so a caller that issued
// other credentials from the family (JWTs carrying its ID) can end them too.
// Every other error comes with a zero FamilyInfo. With
// Config.Grace, presenting the token rotated out last again within Grace of
// that rotation returns the same successor and revokes nothing.
//
// Errors: ErrMalformed (no store access), ErrNotFound (unknown or forged),
// ErrExpired (idle or absolute lifetime over), ErrRevoked, ErrReused,
// ErrClientMismatch — all matching authkit.ErrInvalidCredentials — or a
// store failure.
func (m *Manager) Refresh(ctx context.Context, presented Token, clientID string) (Token, FamilyInfo, error) {
	loc, ok := m.refreshLocator(presented)
	if !ok {
		m.emit(ctx, authkit.EventRejected, "", authkit.ReasonMalformed)
		return "", FamilyInfo{}, ErrMalformed
	}
	key := familyKey(loc)
	h := sha256.Sum256([]byte(presented))
	next := newToken(m.cfg.RefreshPrefix, loc)
	nextHash := sha256.Sum256([]byte(next))

	const (
		rotated = iota + 1
		replayed
		reused
	)
	var (
		outcome int
		out     Token
		info    FamilyInfo
		old     *familyRecord // the family as it was before reuse revoked it
		subject string
	)
	err := cas.Update(ctx, m.st, string(key), cas.Policy{}, func(cur []byte) ([]byte, time.Time, error) {
		outcome, out, info, old, subject = 0, "", FamilyInfo{}, nil, ""
		if cur == nil {
			return nil, time.Time{}, ErrNotFound
		}
		f, err := decodeFamily(cur)
		if err != nil {
			return nil, time.Time{}, err
		}
		subject = f.subject
		if f.revoked {
			return nil, time.Time{}, ErrRevoked
		}
		now := m.now()
		if !now.Before(f.expires) || !now.Before(f.idleExpires) {
			return nil, time.Time{}, ErrExpired
		}
		// The client check applies to a token that could be honoured; a
		// rotated-out token is reuse whoever presents it.
		clientOK := clientID == "" || clientID == f.clientID
		aad := func(gen uint64) []byte { return sealAAD(key, gen) }
		switch {
		case subtle.ConstantTimeCompare(h[:], f.cur[:]) == 1:
			if !clientOK {
				return nil, time.Time{}, ErrClientMismatch
			}
			n := *f
			if f.gen > 0 {
				n.history = appendHistory(f.history, f.prev)
			}
			n.prev, n.cur = f.cur, nextHash
			n.gen = f.gen + 1
			n.rotated = now
			n.idleExpires = minTime(now.Add(m.cfg.RefreshIdleTimeout), f.expires)
			n.access = liveAccess(f.access, now)
			n.sealed = nil
			if m.cfg.Grace > 0 {
				if n.sealed, err = sealSuccessor(presented, next, aad(n.gen)); err != nil {
					return nil, time.Time{}, err
				}
			}
			outcome, out, info = rotated, next, n.info(key)
			return encodeFamily(&n), n.storeExpiry(), nil
		case f.gen > 0 && subtle.ConstantTimeCompare(h[:], f.prev[:]) == 1:
			// The grace window is for the family's own client retrying;
			// the predecessor from another client is reuse, like any other
			// rotated-out token.
			if clientOK && m.cfg.Grace > 0 && now.Before(f.rotated.Add(m.cfg.Grace)) && f.sealed != nil {
				s, err := openSuccessor(presented, f.sealed, aad(f.gen))
				if sh := sha256.Sum256([]byte(s)); err == nil && subtle.ConstantTimeCompare(sh[:], f.cur[:]) == 1 {
					outcome, out, info = replayed, s, f.info(key)
					return nil, time.Time{}, cas.ErrNoChange
				}
			}
		case inHistory(f.history, h):
		default:
			// Not a token of this family: forged by someone who knows a
			// locator, or older than the history remembers. Refused, but
			// no grounds to revoke the family.
			return nil, time.Time{}, ErrNotFound
		}
		// Reuse of a rotated-out token: revoke the family.
		outcome, old = reused, f
		return encodeFamily(tombstone(f)), f.storeExpiry(), nil
	})
	if err != nil {
		if errors.Is(err, authkit.ErrInvalidCredentials) {
			m.emit(ctx, authkit.EventRejected, subject, reason(err))
			return "", FamilyInfo{}, err
		}
		if errors.Is(err, ErrCorrupt) {
			return "", FamilyInfo{}, err
		}
		return "", FamilyInfo{}, fmt.Errorf("token: refresh: %w", err)
	}
	switch outcome {
	case reused:
		aerr := m.afterRevoke(ctx, key, old, true)
		m.emit(ctx, authkit.EventRefreshReuse, old.subject, authkit.ReasonReuse)
		revoked := old.info(key)
		revoked.Revoked = true
		if aerr != nil {
			return "", revoked, fmt.Errorf("token: refresh token reused and its family revoked, but ending what was issued from it failed: %w", aerr)
		}
		return "", revoked, ErrReused
	case replayed:
		m.emit(ctx, authkit.EventRefresh, info.Subject, authkit.ReasonGrace)
	default:
		m.emit(ctx, authkit.EventRefresh, info.Subject, "")
	}
	return out, info, nil
}

// RefreshPair is Refresh followed by issuing an opaque access token from the
// family (lifetime Config.AccessLifetime, never past the family's deadlines). A
// retry inside the grace window gets the same refresh token and a new access
// token.
func (m *Manager) RefreshPair(ctx context.Context, presented Token, clientID string) (Pair, error) {
	rt, fam, err := m.Refresh(ctx, presented, clientID)
	if err != nil {
		return Pair{}, err
	}
	at, info, err := m.issueFromFamily(ctx, storeKey(familyNS+fam.ID))
	if err != nil {
		return Pair{}, err
	}
	return Pair{Access: at, Refresh: rt, AccessInfo: info, Family: fam}, nil
}

// issueFromFamily issues an access token tied to the family under key. The
// token's record is written first and then linked into the family record,
// so a revocation of the family either sees the link (and deletes the
// token) or makes the link fail (and the token is deleted here).
func (m *Manager) issueFromFamily(ctx context.Context, key storeKey) (Token, Info, error) {
	raw, err := m.st.Get(ctx, string(key))
	if errors.Is(err, store.ErrNotFound) {
		return "", Info{}, ErrNotFound
	}
	if err != nil {
		return "", Info{}, fmt.Errorf("token: issue: %w", err)
	}
	f, err := decodeFamily(raw)
	if err != nil {
		return "", Info{}, err
	}
	now := m.now()
	at, atKey, rec := m.newFamilyAccess(key, f, now)
	if err := m.st.Set(ctx, string(atKey), encodeAccess(rec), rec.expires); err != nil {
		return "", Info{}, fmt.Errorf("token: issue: %w", err)
	}
	ref := accessRef{hash: sha256.Sum256([]byte(at)), expires: rec.expires}
	var evicted []accessRef
	err = cas.Update(ctx, m.st, string(key), cas.Policy{}, func(cur []byte) ([]byte, time.Time, error) {
		evicted = nil
		if cur == nil {
			return nil, time.Time{}, ErrNotFound
		}
		f, err := decodeFamily(cur)
		if err != nil {
			return nil, time.Time{}, err
		}
		if f.revoked {
			return nil, time.Time{}, ErrRevoked
		}
		now := m.now()
		if !now.Before(f.expires) || !now.Before(f.idleExpires) {
			return nil, time.Time{}, ErrExpired
		}
		f.access = append(liveAccess(f.access, now), ref)
		if n := len(f.access) - m.cfg.MaxFamilyAccess; n > 0 {
			slices.SortStableFunc(f.access, func(a, b accessRef) int { return a.expires.Compare(b.expires) })
			evicted = slices.Clone(f.access[:n])
			f.access = f.access[n:]
		}
		return encodeFamily(f), f.storeExpiry(), nil
	})
	if err != nil {
		m.cleanup(ctx, m.st.Delete(ctx, string(atKey)))
		if errors.Is(err, authkit.ErrInvalidCredentials) || errors.Is(err, ErrCorrupt) {
			return "", Info{}, err
		}
		return "", Info{}, fmt.Errorf("token: issue: %w", err)
	}
	for _, a := range evicted {
		m.cleanup(ctx, m.st.Delete(ctx, string(accessKeyFromHash(a.hash))))
	}
	return at, rec.info(atKey), nil
}

// Family returns the family with the given ID. A revoked family is returned
// with ErrRevoked, one past its idle or absolute lifetime with ErrExpired; an
// unknown ID is ErrNotFound. A JWT verifier can call it to check that the
// family a JWT was issued from is still alive.
func (m *Manager) Family(ctx context.Context, id string) (FamilyInfo, error) {
	if !validID(id) {
		return FamilyInfo{}, ErrNotFound
	}
	key := storeKey(familyNS + id)
	raw, err := m.st.Get(ctx, string(key))
	if errors.Is(err, store.ErrNotFound) {
		return FamilyInfo{}, ErrNotFound
	}
	if err != nil {
		return FamilyInfo{}, fmt.Errorf("token: family: %w", err)
	}
	f, err := decodeFamily(raw)
	if err != nil {
		return FamilyInfo{}, err
	}
	info := f.info(key)
	now := m.now()
	switch {
	case f.revoked:
		return info, ErrRevoked
	case !now.Before(f.expires) || !now.Before(f.idleExpires):
		return info, ErrExpired
	}
	return info, nil
}

// Families returns subject's live refresh families (their signed-in
// devices), oldest first. It reads one record per family, at most
// Config.MaxFamilies.
func (m *Manager) Families(ctx context.Context, subject string) ([]FamilyInfo, error) {
	members, err := m.families.List(ctx, subject)
	if err != nil {
		return nil, fmt.Errorf("token: families: %w", err)
	}
	var out []FamilyInfo
	for _, mb := range members {
		key := storeKey(mb.ID)
		info, err := m.Family(ctx, key.id())
		if err != nil {
			if errors.Is(err, authkit.ErrInvalidCredentials) {
				continue
			}
			return nil, err
		}
		if info.Subject == subject {
			out = append(out, info)
		}
	}
	slices.SortStableFunc(out, func(a, b FamilyInfo) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// RevokeFamily revokes the family with the given ID if it belongs to
// subject, deleting the access tokens issued from it; otherwise, or if there
// is no such family, it returns ErrNotFound. Revoking a revoked family is
// not an error. Use it for logout when the access credential carries the
// family ID, and for "sign out this device" pages.
func (m *Manager) RevokeFamily(ctx context.Context, subject, id string) error {
	if !validID(id) {
		return ErrNotFound
	}
	key := storeKey(familyNS + id)
	errNotMine := errors.New("not the subject's")
	found := false
	old, err := m.revokeFamily(ctx, key, func(f *familyRecord) error {
		found = true
		if f.subject != subject {
			return errNotMine
		}
		return nil
	}, true)
	if old != nil { // not when it was revoked already
		m.emit(ctx, authkit.EventRevoke, subject, authkit.ReasonFamily)
	}
	switch {
	case err == errNotMine, err == nil && !found:
		return ErrNotFound
	case err != nil:
		return err
	}
	return nil
}

// errSkip is returned by a revocation check to leave a family alone silently.
var errSkip = errors.New("token: revocation skipped")

// revokeByRefresh revokes the family of a refresh token, if the token belongs
// to it (current, previous or remembered) and check approves; a check
// returning errSkip leaves it alone without error.
func (m *Manager) revokeByRefresh(ctx context.Context, t Token, check func(*familyRecord) error, why string) error {
	loc, ok := m.refreshLocator(t)
	if !ok {
		return ErrMalformed
	}
	h := sha256.Sum256([]byte(t))
	f, err := m.revokeFamily(ctx, familyKey(loc), func(f *familyRecord) error {
		if !f.member(h) {
			return errSkip
		}
		if check != nil {
			return check(f)
		}
		return nil
	}, true)
	if err == errSkip {
		return nil
	}
	if f != nil {
		m.emit(ctx, authkit.EventRevoke, f.subject, why)
	}
	return err
}

// revokeFamily marks the family under key revoked if check (when non-nil)
// approves, deletes the access tokens issued from it and, when dropIndex is
// set, drops it from its subject's index. It returns the family as it was
// when this call revoked it, or nil if it was absent or already revoked.
// check (run whenever the family exists, revoked or not) returns its error
// as is.
func (m *Manager) revokeFamily(ctx context.Context, key storeKey, check func(*familyRecord) error, dropIndex bool) (*familyRecord, error) {
	var old *familyRecord
	var checkErr error
	err := cas.Update(ctx, m.st, string(key), cas.Policy{}, func(cur []byte) ([]byte, time.Time, error) {
		old, checkErr = nil, nil
		if cur == nil {
			return nil, time.Time{}, cas.ErrNoChange
		}
		f, err := decodeFamily(cur)
		if err != nil {
			return nil, time.Time{}, err
		}
		// The check runs on revoked families too, so that a caller learns
		// "not yours" whatever the family's state.
		if check != nil {
			if checkErr = check(f); checkErr != nil {
				return nil, time.Time{}, checkErr
			}
		}
		if f.revoked {
			return nil, time.Time{}, cas.ErrNoChange
		}
		old = f
		return encodeFamily(tombstone(f)), f.storeExpiry(), nil
	})
	switch {
	case err == nil:
	case checkErr != nil && err == checkErr, errors.Is(err, ErrCorrupt):
		return nil, err
	default:
		return nil, fmt.Errorf("token: revoke: %w", err)
	}
	if old != nil {
		if err := m.afterRevoke(ctx, key, old, dropIndex); err != nil {
			return old, err
		}
	}
	return old, nil
}

// afterRevoke deletes the access tokens of a just-revoked family, drops it
// from its subject's index when dropIndex is set, and tells the listeners,
// returning their error.
func (m *Manager) afterRevoke(ctx context.Context, key storeKey, old *familyRecord, dropIndex bool) error {
	for _, a := range old.access {
		m.cleanup(ctx, m.st.Delete(ctx, string(accessKeyFromHash(a.hash))))
	}
	if dropIndex {
		m.cleanup(ctx, m.families.Remove(ctx, old.subject, string(key)))
	}
	info := old.info(key)
	info.Revoked = true
	return m.notifyRevoked(ctx, info)
}

// tombstone returns f revoked: identity and deadlines kept, hashes, sealed
// successor and access tokens dropped.
func tombstone(f *familyRecord) *familyRecord {
	t := *f
	t.revoked = true
	t.cur, t.prev = [sha256.Size]byte{}, [sha256.Size]byte{}
	t.history, t.sealed, t.access = nil, nil, nil
	return &t
}

// member reports whether a token hashing to h is, or was, in the family.
func (f *familyRecord) member(h [sha256.Size]byte) bool {
	return subtle.ConstantTimeCompare(h[:], f.cur[:]) == 1 ||
		(f.gen > 0 && subtle.ConstantTimeCompare(h[:], f.prev[:]) == 1) ||
		inHistory(f.history, h)
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

// liveAccess returns the access references not yet expired at now, in a new
// slice.
func liveAccess(refs []accessRef, now time.Time) []accessRef {
	out := make([]accessRef, 0, len(refs)+1)
	for _, a := range refs {
		if now.Before(a.expires) {
			out = append(out, a)
		}
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
