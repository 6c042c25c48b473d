package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/authkit/authkit/internal/cas"
	"github.com/authkit/authkit/store"
)

// The save path: a request's pending changes (the op log, remember-me, the
// idle extension) are written just before its response starts — a new
// session is created, an existing one is merged onto the latest stored
// record with CompareAndSwap.

// mergeBufs holds a merge's working entries, so a small session merges
// without allocating per attempt.
type mergeBufs struct {
	latest [8]entry  // the latest stored entries, when they must be re-read
	merged [12]entry // those entries with the ops applied
}

// swapFrom is [cas.Do] with a first attempt against known, the value last
// read under key, with no read: when nobody else wrote meanwhile, an update
// costs one round trip. fn is told whether cur is known, so it can reuse
// what was decoded from it.
func swapFrom[R any](ctx context.Context, st store.Store, key string, known []byte, fn func(cur []byte, known bool) ([]byte, time.Time, R, error)) (R, error) {
	next, exp, r, err := fn(known, true)
	switch {
	case errors.Is(err, cas.ErrNoChange):
		return r, nil
	case err != nil:
		return r, err
	case len(known) == 0 && len(next) == 0:
		return r, nil
	}
	ok, err := st.CompareAndSwap(ctx, key, known, next, exp)
	if err != nil || ok {
		if err != nil {
			var zero R
			return zero, err
		}
		return r, nil
	}
	return cas.Do(ctx, st, key, cas.Policy{}, func(cur []byte) ([]byte, time.Time, R, error) {
		return fn(cur, false)
	})
}

// applyRemember sets rec's remember flag and lifetimes to on.
func (m *Manager) applyRemember(rec *record, on bool) {
	if on {
		rec.flags |= flagRemember
		rec.idle, rec.absolute = m.rIdle, rec.created+m.rLife
	} else {
		rec.flags &^= flagRemember
		rec.idle, rec.absolute = m.idle, rec.created+m.life
	}
}

// save writes the request's pending changes: it creates the record of a new
// session, or merges the changes onto the latest stored record.
func (st *state) save(ctx context.Context) error {
	if !st.dirty() {
		if !st.stored {
			st.ops = st.ops[:0]
		}
		return nil
	}
	if !st.stored {
		return st.create(ctx)
	}
	return st.merge(ctx)
}

// create stores a new, anonymous session holding the pending sets under a
// fresh ID.
func (st *state) create(ctx context.Context) error {
	m := st.m
	now := m.nowMS()
	rec := record{created: now, touched: now}
	m.applyRemember(&rec, st.remember > 0)
	rec.entries = st.sortedSets()
	enc := encode(&rec)
	if len(enc) > m.cfg.MaxSize {
		return fmt.Errorf("%w: %d bytes, over %d", ErrTooLarge, len(enc), m.cfg.MaxSize)
	}
	id := newID()
	key := id.key()
	ok, err := m.store.CompareAndSwap(ctx, string(key), nil, enc, time.UnixMilli(rec.deadline()))
	if err == nil && !ok {
		err = errors.New("a record already exists under a new session ID")
	}
	if err != nil {
		return fmt.Errorf("session: creating session: %w", err)
	}
	st.adopt(id, key, enc, rec)
	return nil
}

// adopt makes rec, just stored as enc under key, the request's current
// session, to be sent to the client.
func (st *state) adopt(id sessionID, key storeKey, enc []byte, rec record) {
	st.id, st.key, st.stored, st.raw, st.rec = id, key, true, enc, rec
	st.ops = st.ops[:0]
	st.touch, st.remember = false, 0
	st.sendID, st.clear = true, false
}

// forget makes the request anonymous after its session ended. With clear,
// the client is told to drop the cookie (Logout); without, the cookie is
// left alone, because the session may have been renewed by a parallel
// request whose new cookie a deletion would overwrite.
func (st *state) forget(clear bool) {
	st.id, st.key, st.stored, st.raw = "", "", false, nil
	st.rec = record{}
	st.ops = st.ops[:0]
	st.touch, st.remember, st.sendID = false, 0, false
	st.clear = clear && st.present && !st.dup
}

// merged is what a merge attempt made of the latest stored record.
type merged struct {
	rec     record // the merged record; its entries may live in st.mb.merged
	enc     []byte // what the store holds once the attempt wins
	removed bool   // turning remember-me off ended the session: it is deleted
}

// merge applies the pending changes onto the latest stored record with
// CompareAndSwap: first against the record as loaded (no extra read or
// decode when nobody else wrote), then in a bounded, jittered retry loop
// that re-reads it. A record that is gone or past its deadline is never
// recreated. A change that extends the session's deadline (the idle
// extension, remember-me) first extends its entry in the subject's index.
func (st *state) merge(ctx context.Context) error {
	m := st.m
	now := m.nowMS()
	if st.mb == nil {
		st.mb = new(mergeBufs)
	}
	if st.rec.hasSubject() && (st.touch || st.remember > 0) {
		err := st.extendMember(ctx, now)
		switch {
		case errors.Is(err, errNotListed):
			st.ended(ctx)
			return nil
		case err != nil && st.remember > 0:
			return fmt.Errorf("session: saving session: %w", err)
		case err != nil:
			// Only the idle extension is lost: the record keeps the
			// deadline its index entry covers.
			m.logger.LogAttrs(ctx, slog.LevelWarn, "session: cannot extend idle deadline", slog.Any("error", err))
			st.touch = false
			if !st.dirty() {
				return nil
			}
		}
	}
	res, err := swapFrom(ctx, m.store, string(st.key), st.raw, func(cur []byte, known bool) ([]byte, time.Time, merged, error) {
		return st.mergeOnto(cur, known, now)
	})
	switch {
	case errors.Is(err, ErrEnded):
		st.ended(ctx)
		return nil
	case err != nil && len(st.ops) == 0 && st.remember == 0:
		// Only the idle extension failed: the request itself is fine.
		m.logger.LogAttrs(ctx, slog.LevelWarn, "session: cannot extend idle deadline", slog.Any("error", err))
		st.touch = false
		return nil
	case errors.Is(err, ErrTooLarge):
		return err
	case err != nil:
		return fmt.Errorf("session: saving session: %w", err)
	case res.removed:
		if st.rec.hasSubject() {
			m.cleanupIndex(ctx, string(st.rec.subject), st.key)
		}
		st.ended(ctx)
		return nil
	}
	st.raw, st.rec = res.enc, res.rec
	st.rec.entries = append(st.buf[:0], res.rec.entries...) // out of st.mb, which the next merge reuses
	st.ops = st.ops[:0]
	st.touch = false
	if st.remember != 0 {
		st.remember, st.sendID = 0, true
	}
	return nil
}

// mergeOnto is one attempt of merge on cur, the latest stored value (the
// record as loaded when known).
func (st *state) mergeOnto(cur []byte, known bool, now int64) ([]byte, time.Time, merged, error) {
	m := st.m
	var res merged
	if len(cur) == 0 || isTombstone(cur) || isRevoked(cur) {
		return nil, time.Time{}, res, ErrEnded
	}
	rec := st.rec
	if !known {
		if err := decodeRecord(cur, &rec, st.mb.latest[:]); err != nil {
			return nil, time.Time{}, res, fmt.Errorf("session: stored record: %w", err)
		}
	}
	if now >= rec.deadline() {
		return nil, time.Time{}, res, ErrEnded
	}
	if len(st.ops) > 0 {
		rec.entries = applyOps(st.mb.merged[:], rec.entries, st.ops)
	}
	if st.remember != 0 {
		m.applyRemember(&rec, st.remember > 0)
		if now >= rec.deadline() {
			// Turning remember-me off ended a session older than Lifetime.
			res.removed = true
			return nil, time.Time{}, res, nil
		}
	}
	if st.touch && now-rec.touched >= m.refreshAfter(rec.idle) {
		rec.touched = now
	}
	res.rec = rec
	enc := encode(&rec)
	if len(enc) > m.cfg.MaxSize {
		return nil, time.Time{}, res, fmt.Errorf("%w: %d bytes after merging, over %d", ErrTooLarge, len(enc), m.cfg.MaxSize)
	}
	if bytes.Equal(enc, cur) {
		res.enc = cur // the latest record already holds every change
		return nil, time.Time{}, res, cas.ErrNoChange
	}
	res.enc = enc
	return enc, time.UnixMilli(rec.deadline()), res, nil
}

// ended makes the request anonymous after a save found its session ended
// by a concurrent request (logged out, renewed, revoked or expired); its
// changes are dropped, and logged.
func (st *state) ended(ctx context.Context) {
	if len(st.ops) > 0 {
		st.m.logger.LogAttrs(ctx, slog.LevelWarn, "session: session ended by a concurrent request; this request's changes were discarded",
			slog.Int("changes", len(st.ops)))
	}
	st.forget(false)
}

// extendMember extends the session's entry in its subject's index to
// cover the deadline this save may give the record (the idle extension,
// remember-me) before the record is written, and records the request's
// device details: the index must never let a member lapse while its record
// is valid. It fails with errNotListed when the session is no longer a
// live member — a revocation is ending it.
func (st *state) extendMember(ctx context.Context, now int64) error {
	rec := st.rec
	if st.remember != 0 {
		st.m.applyRemember(&rec, st.remember > 0)
	}
	if st.touch {
		rec.touched = now
	}
	return st.m.refreshMember(ctx, st.r, string(rec.subject), st.key, memberExpiry(&rec))
}
