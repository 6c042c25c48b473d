package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/internal/cas"
	"github.com/authkit/authkit/internal/index"
)

// A renewal moves the request's session to a new ID: Login (bound to a
// subject, new lifetimes) or RenewID (everything kept). Its steps, in this
// order, make the subject's index the ordering point against revocations:
//
//  1. take: the old record is swapped for a tombstone naming the new ID
//     (the old ID is dead from here on), and the new record is built from
//     what it held — atomically, so no concurrent save is lost;
//  2. index: the new ID is added to the subject's index. RenewID replaces
//     the old ID there, and only while the old ID is live: a session being
//     revoked is never renewed. Login adds the new ID whatever became of the
//     old one, since the user has just proved who they are;
//  3. create: the new record is stored only if its key is absent. A
//     revocation that took the new ID from the index after step 2 has
//     written its revoked marker there, and the renewal fails.
//
// A revocation that swaps the index before step 2 ends the old ID (or
// finds it a tombstone) and makes RenewID fail at step 2; one that swaps it
// after step 2 ends the new ID. Either way no renewed session outlives it.

// renewal is a renewal in progress.
type renewal struct {
	st      *state
	id      sessionID
	key     storeKey
	rec     record // the new record
	enc     []byte
	subject string // the new session's subject, "" for an anonymous one

	oldKey     storeKey // the session taken, "" if none
	oldSubject string   // its subject, "" if none
	replaced   bool     // the old ID left the index with step 2
}

// taken is what step 1 found under the old key.
type taken struct {
	rec        record // the new record built from the old one
	enc        []byte
	oldSubject string
	found      bool // a record was there and is now a tombstone
	renewed    bool // a tombstone was there: a parallel request renewed first
}

// take performs step 1 for the new key: it replaces the request's record
// with a tombstone naming key, and builds the new record from the record
// taken with build (base is zero if that record had expired or was
// corrupt). A build error leaves the old record as it is.
func (st *state) take(ctx context.Context, key storeKey, build func(base *record) (record, error)) (taken, error) {
	m := st.m
	return swapFrom(ctx, m.store, string(st.key), st.raw, func(cur []byte, known bool) ([]byte, time.Time, taken, error) {
		var t taken
		if len(cur) == 0 || isRevoked(cur) || isTombstone(cur) {
			t.renewed = isTombstone(cur)
			return nil, time.Time{}, t, cas.ErrNoChange
		}
		now := m.now()
		var base record
		if known {
			base = st.rec
		} else if decodeRecord(cur, &base, nil) != nil {
			base = record{}
		}
		if now.UnixMilli() >= base.deadline() {
			base = record{}
		}
		rec, err := build(&base)
		if err != nil {
			return nil, time.Time{}, t, err
		}
		enc := encode(&rec)
		if len(enc) > m.cfg.MaxSize {
			return nil, time.Time{}, t, fmt.Errorf("%w: %d bytes, over %d", ErrTooLarge, len(enc), m.cfg.MaxSize)
		}
		t.rec, t.enc, t.found = rec, enc, true
		if base.hasSubject() {
			t.oldSubject = string(base.subject)
		}
		return appendTombstone(nil, key, rec.deadline()), now.Add(renewGrace), t, nil
	})
}

// newRenewal starts a renewal of st's session under a fresh ID.
func (st *state) newRenewal() *renewal {
	id := newID()
	r := &renewal{st: st, id: id, key: id.key()}
	if st.stored {
		r.oldKey = st.key
	}
	return r
}

// login binds the request's session to subject under a new ID (Login).
// The caller holds st.mu and has checked that headers can still be sent.
func (st *state) login(ctx context.Context, subject string) error {
	m := st.m
	ctx = context.WithoutCancel(ctx)
	now := m.nowMS()
	build := func(base *record) (record, error) {
		remember := base.flags&flagRemember != 0
		if st.remember != 0 {
			remember = st.remember > 0
		}
		rec := record{flags: flagSubject, created: now, touched: now, authTime: now, subject: []byte(subject)}
		m.applyRemember(&rec, remember)
		var entries []entry
		if !base.hasSubject() || string(base.subject) == subject {
			entries = base.entries
		}
		rec.entries = applyOps(nil, entries, st.ops)
		return rec, nil
	}
	r := st.newRenewal()
	r.subject = subject
	if r.oldKey != "" {
		t, err := st.take(ctx, r.key, build)
		if err != nil {
			return r.takeFailed(err)
		}
		r.rec, r.enc, r.oldSubject = t.rec, t.enc, t.oldSubject
		if !t.found {
			r.oldKey = "" // gone meanwhile: log in afresh
		}
	}
	if r.enc == nil {
		r.rec, _ = build(&record{})
		if r.enc = encode(&r.rec); len(r.enc) > m.cfg.MaxSize {
			return fmt.Errorf("%w: %d bytes, over %d", ErrTooLarge, len(r.enc), m.cfg.MaxSize)
		}
	}
	ending, err := m.index.UpdateAll(ctx, subject, func(live, ending []index.Member) ([]index.Member, error) {
		if r.oldKey != "" && r.oldSubject == subject {
			live = slices.DeleteFunc(live, func(x index.Member) bool { return x.ID == string(r.oldKey) })
		}
		return append(append(live, r.member(nil)), ending...), nil
	})
	// The cap's evictions, and members a failed revocation left behind.
	for range m.endEvicted(ctx, subject, ending) {
		st.event(authkit.EventRevoke, subject, authkit.ReasonCap)
	}
	if err != nil {
		return r.abort(ctx, fmt.Errorf("session: recording the session in the index: %w", err))
	}
	r.replaced = r.oldSubject == subject
	if err := r.create(ctx); err != nil {
		return err
	}
	if r.oldKey != "" && r.oldSubject != "" && r.oldSubject != subject {
		m.cleanupIndex(ctx, r.oldSubject, r.oldKey)
	}
	r.adopt(authkit.EventLogin)
	return nil
}

// renewID moves the request's stored session to a new ID, keeping
// everything (RenewID). The caller holds st.mu and has checked that
// headers can still be sent.
func (st *state) renewID(ctx context.Context) error {
	m := st.m
	ctx = context.WithoutCancel(ctx)
	now := m.nowMS()
	r := st.newRenewal()
	t, err := st.take(ctx, r.key, func(base *record) (record, error) {
		if base.created == 0 {
			return record{}, ErrEnded
		}
		rec := *base
		rec.touched = now
		if st.remember != 0 {
			m.applyRemember(&rec, st.remember > 0)
		}
		if now >= rec.deadline() {
			return record{}, ErrEnded
		}
		rec.entries = applyOps(nil, base.entries, st.ops)
		return rec, nil
	})
	switch {
	case err != nil:
		return r.takeFailed(err)
	case !t.found:
		// A parallel request that renewed the ID first has sent the new
		// cookie; deleting the cookie here could overwrite it.
		st.forget(!t.renewed)
		return ErrEnded
	}
	r.rec, r.enc, r.oldSubject, r.subject = t.rec, t.enc, t.oldSubject, t.oldSubject
	if r.subject != "" {
		ending, err := m.index.UpdateAll(ctx, r.subject, func(live, ending []index.Member) ([]index.Member, error) {
			i := slices.IndexFunc(live, func(x index.Member) bool { return x.ID == string(r.oldKey) })
			if i < 0 {
				return nil, errNotListed
			}
			live[i] = r.member(&live[i])
			return append(live, ending...), nil
		})
		m.endLeftovers(ctx, r.subject, ending)
		if errors.Is(err, errNotListed) {
			return r.abort(ctx, fmt.Errorf("%w: the session was revoked", ErrEnded))
		}
		if err != nil {
			return r.abort(ctx, fmt.Errorf("session: recording the session in the index: %w", err))
		}
		r.replaced = true
	}
	if err := r.create(ctx); err != nil {
		return err
	}
	r.adopt(authkit.EventRenew)
	return nil
}

// member returns the index member of the new session: for RenewID
// (replacing old) with old's creation time and tag, for Login new, tagged
// by SetTag in this request if it was called.
func (r *renewal) member(old *index.Member) index.Member {
	st := r.st
	tag := st.tag
	if old != nil && !st.tagSet {
		tag = memberTag(*old)
	}
	x := st.m.member(st.r, r.key, r.rec.created, memberExpiry(&r.rec), tag)
	if old != nil {
		x.Created = old.Created
	}
	return x
}

// create performs step 3: the new record, only if its key is absent.
func (r *renewal) create(ctx context.Context) error {
	m := r.st.m
	ok, err := m.store.CompareAndSwap(ctx, string(r.key), nil, r.enc, time.UnixMilli(r.rec.deadline()))
	if err != nil {
		// The outcome is unknown: the index keeps the new ID, so a
		// revocation still finds it.
		return r.abort(ctx, fmt.Errorf("session: storing the session: %w", err))
	}
	if !ok {
		// A revocation took the new ID from the index and wrote its marker
		// first: the record is ended, and its index entry can go.
		if r.subject != "" {
			m.cleanupIndex(ctx, r.subject, r.key)
		}
		return r.abort(ctx, fmt.Errorf("%w: the session was revoked while being created", ErrEnded))
	}
	return nil
}

// takeFailed ends a renewal whose step 1 failed: nothing was written, and
// the request keeps its session — unless step 1 found it ended.
func (r *renewal) takeFailed(err error) error {
	if errors.Is(err, ErrEnded) {
		r.st.forget(true)
		return err
	}
	if errors.Is(err, ErrTooLarge) {
		return err
	}
	return fmt.Errorf("session: ending the old session ID: %w", err)
}

// abort ends a renewal that failed after step 1: the old ID is dead, so
// the request is left anonymous and told to drop the cookie, and the old
// ID leaves its subject's index unless step 2 already replaced it there.
func (r *renewal) abort(ctx context.Context, err error) error {
	if r.oldKey != "" && r.oldSubject != "" && !r.replaced {
		r.st.m.cleanupIndex(ctx, r.oldSubject, r.oldKey)
	}
	r.st.forget(true)
	return err
}

// adopt makes the new session the request's, and reports the event.
func (r *renewal) adopt(typ authkit.EventType) {
	r.st.adopt(r.id, r.key, r.enc, r.rec)
	r.st.event(typ, r.subject, "")
}
