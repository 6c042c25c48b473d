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
)

// RevokeFamily revokes the family with the given ID if it belongs to
// subject, with the access tokens issued from it; otherwise, or if there is
// no such family, it returns ErrNotFound. Revoking a revoked family is not
// an error. Use it for logout when the access credential carries the
// family ID, and for "sign out this device" pages.
//
// It returns nil only once the family, every access token issued from it
// and every [Manager.OnFamilyRevoked] listener are done with. After an
// error, the family is revoked (no refresh token of it works) but some of
// that may be left: calling RevokeFamily or RevokeSubject again finishes
// it.
func (m *Manager) RevokeFamily(ctx context.Context, subject, id string) error {
	if !validID(id) {
		return ErrNotFound
	}
	key := storeKey(familyNS + id)
	errNotMine := errors.New("not the subject's")
	found := false
	f, fresh, err := m.revokeFamily(ctx, key, func(f *familyRecord) error {
		found = true
		if f.subject != subject {
			return errNotMine
		}
		return nil
	}, time.Time{})
	if err == errNotMine || err == nil && !found {
		return ErrNotFound
	}
	if fresh { // not when it was revoked already
		m.emit(ctx, authkit.EventRevoke, subject, authkit.ReasonFamily)
	}
	if f != nil {
		m.familyDone(ctx, subject, key, err)
	}
	return err
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
	key := familyKey(loc)
	f, fresh, err := m.revokeFamily(ctx, key, func(f *familyRecord) error {
		// A revoked family has dropped its hashes, so a token of it is no
		// longer recognised; but while its revocation is unfinished (access
		// tokens or listeners pending), a token naming it finishes the job,
		// as a logout retried after a failure must. Finishing what is
		// already decided grants nothing to whoever presents it.
		if !f.member(h) && !f.unfinished() {
			return errSkip
		}
		if check != nil {
			return check(f)
		}
		return nil
	}, time.Time{})
	if err == errSkip {
		return nil
	}
	if fresh {
		m.emit(ctx, authkit.EventRevoke, f.subject, why)
	}
	if f != nil {
		m.familyDone(ctx, f.subject, key, err)
	}
	return err
}

// familySwap is what revokeFamily's swap found and did.
type familySwap struct {
	found *familyRecord // the family record found (before this call revoked it, if it did)
	fresh bool          // this call revoked the family
	tomb  *familyRecord // the revoked family, when its revocation is unfinished
	raw   []byte        // tomb as stored
	extra []accessRef   // access tokens to end beyond what tomb can hold
}

// revokeFamily revokes the family under key, if check (when non-nil)
// approves, and finishes the revocation: it ends the access tokens issued
// from the family and tells the listeners ([Manager.finishFamily]). A
// family revoked earlier whose revocation is unfinished is finished here.
// When markerUntil is set and the record is absent (the family of an index
// member whose creation may still be on its way), a revoked marker is
// written until then, so that the creation fails.
//
// It returns the family record it found (as it was before this call
// revoked it, if it did), nil if there was none, and whether this call
// revoked it. check (run whenever the family exists, revoked or not)
// returns its error as is. After any other error the family may be revoked
// with its revocation unfinished: a later call finishes it.
func (m *Manager) revokeFamily(ctx context.Context, key storeKey, check func(*familyRecord) error, markerUntil time.Time) (*familyRecord, bool, error) {
	var checkErr error
	r, err := cas.Do(ctx, m.st, string(key), cas.Policy{}, func(cur []byte) ([]byte, time.Time, familySwap, error) {
		checkErr = nil
		switch {
		case cur == nil && !markerUntil.IsZero():
			return revokedMarker, markerUntil, familySwap{}, nil
		case cur == nil, isMarker(cur):
			return nil, time.Time{}, familySwap{}, cas.ErrNoChange
		}
		f, err := decodeFamily(cur)
		if err != nil {
			return nil, time.Time{}, familySwap{}, err
		}
		// The check runs on revoked families too, so that a caller learns
		// "not yours" whatever the family's state.
		if check != nil {
			if checkErr = check(f); checkErr != nil {
				return nil, time.Time{}, familySwap{}, checkErr
			}
		}
		if f.revoked {
			if f.unfinished() {
				return nil, time.Time{}, familySwap{found: f, tomb: f, raw: cur}, cas.ErrNoChange
			}
			return nil, time.Time{}, familySwap{found: f}, cas.ErrNoChange
		}
		t, extra := m.tombstone(f, m.now())
		enc := encodeFamily(t)
		return enc, f.storeExpiry(), familySwap{found: f, fresh: true, tomb: t, raw: enc, extra: extra}, nil
	})
	switch {
	case err == nil:
	case checkErr != nil && err == checkErr, errors.Is(err, ErrCorrupt):
		return nil, false, err
	default:
		return r.found, false, fmt.Errorf("token: revoke family: %w", err)
	}
	if r.tomb != nil && (r.tomb.unfinished() || len(r.extra) > 0) {
		return r.found, r.fresh, m.finishFamily(ctx, key, r.tomb, r.raw, r.extra)
	}
	return r.found, r.fresh, nil
}

// tombstone returns f revoked: identity and deadlines kept; hashes and
// sealed successor dropped; every access token issued from it, not yet
// expired, to be ended; the listeners to be told, if there are any. It
// also returns the access tokens to end that the tombstone cannot hold
// (see capEnding).
func (m *Manager) tombstone(f *familyRecord, now time.Time) (*familyRecord, []accessRef) {
	t := *f
	t.revoked = true
	t.notify = m.cfg.FamilyRevoked != nil || m.listeners.Load() != nil
	t.cur, t.prev = [sha256.Size]byte{}, [sha256.Size]byte{}
	t.history, t.sealed, t.access = nil, nil, nil
	var extra []accessRef
	t.ending, extra = capEnding(append(liveRefs(f.ending, now), liveRefs(f.access, now)...))
	return &t, extra
}

// finishFamily finishes the revocation of the family under key, stored as
// raw (t decoded): it writes a revoked marker under each access token in
// t.ending and extra, tells the listeners if t.notify is set, and records
// what it did in the family record, so that a retry does only the rest.
// It returns nil only when nothing is left.
func (m *Manager) finishFamily(ctx context.Context, key storeKey, t *familyRecord, raw []byte, extra []accessRef) error {
	var errs []error
	if _, err := m.endRefs(ctx, extra); err != nil {
		errs = append(errs, err)
	}
	ended, err := m.endRefs(ctx, t.ending)
	if err != nil {
		errs = append(errs, err)
	}
	told := false
	if t.notify {
		info := t.info(key)
		if err := m.notifyRevoked(ctx, info); err != nil {
			errs = append(errs, err)
		} else {
			told = true
		}
	}
	_, err = swapFrom(ctx, m, key, raw, func(cur []byte) ([]byte, time.Time, struct{}, error) {
		if cur == nil || isMarker(cur) {
			return nil, time.Time{}, struct{}{}, cas.ErrNoChange
		}
		f, err := decodeFamily(cur)
		if err != nil {
			return nil, time.Time{}, struct{}{}, err
		}
		n := *f
		n.ending = withoutRefs(f.ending, ended)
		n.notify = f.notify && !told
		if !f.revoked || n.notify == f.notify && len(n.ending) == len(f.ending) {
			return nil, time.Time{}, struct{}{}, cas.ErrNoChange
		}
		return encodeFamily(&n), f.storeExpiry(), struct{}{}, nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("token: revoke family: unfinished: %w", err)
	}
	return nil
}

// endRefs writes a revoked marker under each access token in refs, until
// its expiry, and returns those it ended (the expired ones included) with
// the errors of the others.
func (m *Manager) endRefs(ctx context.Context, refs []accessRef) ([]accessRef, error) {
	now := m.now()
	var errs []error
	ended := make([]accessRef, 0, len(refs))
	for _, a := range refs {
		if now.Before(a.expires) {
			if err := m.st.Set(ctx, string(accessKeyFromHash(a.hash)), revokedMarker, a.expires); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		ended = append(ended, a)
	}
	return ended, errors.Join(errs...)
}

// endFamilies revokes the families an index update handed back as Ending
// (cap evictions, and revocations left unfinished earlier) and removes from
// the index those whose revocation finished; the others stay Ending, for
// the next update to hand back.
func (m *Manager) endFamilies(ctx context.Context, subject string, ending []index.Member) error {
	if len(ending) == 0 {
		return nil
	}
	var errs []error
	var done []string
	for _, mb := range ending {
		if _, _, err := m.revokeFamily(ctx, storeKey(mb.ID), nil, mb.Expires); err != nil {
			errs = append(errs, err)
			continue
		}
		done = append(done, mb.ID)
	}
	if err := m.families.Finish(ctx, subject, done...); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// familyDone updates subject's family index after the family under key
// was revoked on its own: with err nil, the revocation finished and the
// family leaves the index; otherwise it is marked Ending there, so that
// the next update of the index hands it back to be finished (failing that,
// it stays listed, and RevokeSubject finds it). Failures are logged: the
// family record itself says the family is revoked.
func (m *Manager) familyDone(ctx context.Context, subject string, key storeKey, err error) {
	if err == nil {
		m.cleanup(ctx, m.families.Finish(ctx, subject, string(key)))
		return
	}
	_, terr := m.families.Take(ctx, subject, func(mb index.Member) bool { return mb.ID == string(key) })
	m.cleanup(ctx, terr)
}

// member reports whether a token hashing to h is, or was, in the family.
func (f *familyRecord) member(h [sha256.Size]byte) bool {
	return subtle.ConstantTimeCompare(h[:], f.cur[:]) == 1 ||
		(f.gen > 0 && subtle.ConstantTimeCompare(h[:], f.prev[:]) == 1) ||
		inHistory(f.history, h)
}

// liveRefs returns the references not yet expired at now, in a new slice
// with room for one more (nil when refs is empty).
func liveRefs(refs []accessRef, now time.Time) []accessRef {
	if len(refs) == 0 {
		return nil
	}
	out := make([]accessRef, 0, len(refs)+1)
	for _, a := range refs {
		if now.Before(a.expires) {
			out = append(out, a)
		}
	}
	return out
}

// withoutRefs returns refs without those in drop, in a new slice.
func withoutRefs(refs, drop []accessRef) []accessRef {
	if len(refs) == 0 {
		return nil
	}
	out := make([]accessRef, 0, len(refs))
	for _, a := range refs {
		if !slices.Contains(drop, a) {
			out = append(out, a)
		}
	}
	return out
}

// capEnding splits a list of access tokens being ended into what a family
// record holds (the latest to expire) and the rest. The caller ends the
// rest too, but if that fails no later call retries them — the same bound
// the per-subject indexes put on their Ending members, so that a store
// refusing every marker cannot grow a record without limit.
func capEnding(refs []accessRef) (keep, rest []accessRef) {
	if len(refs) <= maxFamilyEnding {
		return refs, nil
	}
	slices.SortStableFunc(refs, func(a, b accessRef) int { return a.expires.Compare(b.expires) })
	n := len(refs) - maxFamilyEnding
	return refs[n:], refs[:n]
}
