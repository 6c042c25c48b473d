package keyring

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/authkit/authkit"
)

// rotate adds a key published now that signs after Prepublish, unless one
// is already waiting, and returns the waiting key.
func (r *ring) rotate(ctx context.Context) (KeyInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var id string
	err := r.update(ctx, func(rec *record, now int64, mats map[string]*material) (bool, []event, error) {
		for _, i := range rec.live() {
			if rec.keys[i].activates > now {
				id = rec.keys[i].id
				return false, nil, nil
			}
		}
		e, err := r.addPublished(rec, mats, 0)
		if err != nil {
			return false, nil, err
		}
		id = e.id
		return true, []event{{EventKeyCreated, e.id, "manual"}}, nil
	})
	if err != nil {
		return KeyInfo{}, err
	}
	for _, k := range r.info(r.now()) {
		if k.ID == id {
			return k, nil
		}
	}
	return KeyInfo{}, fmt.Errorf("%w: the key added to purpose %s is gone", ErrKeyNotFound, r.name)
}

// revoke marks key id revoked and erases its material; if it was signing,
// the steps that follow add a replacement that signs at once.
func (r *ring) revoke(ctx context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.update(ctx, func(rec *record, now int64, _ map[string]*material) (bool, []event, error) {
		for i := range rec.keys {
			e := &rec.keys[i]
			if e.id != id {
				continue
			}
			if e.isRevoked() {
				return false, nil, nil
			}
			// What it signed lives at most until now + the verify window;
			// the record remembers the ID until then, so that servers do
			// not reload for its cookies.
			e.flags |= flagRevoked
			e.revoked = now
			e.removes = max(e.removes, now+r.plan.verify)
			if e.deactivates == 0 || e.deactivates > now {
				e.deactivates = now
			}
			e.kek, e.sealed = [8]byte{}, nil
			return true, []event{{EventKeyRevoked, id, authkit.ReasonRevoked}}, nil
		}
		return false, nil, fmt.Errorf("%w: purpose %s has no key %q", ErrKeyNotFound, r.name, id)
	})
}

// info returns the keys of the purpose with their state at now, from the
// last record adopted; it never waits for a reload.
func (r *ring) info(now time.Time) []KeyInfo {
	rec, ms := r.view.Load(), now.UnixMilli()
	signer := rec.signer(ms)
	out := make([]KeyInfo, 0, len(rec.keys))
	for i, e := range rec.keys {
		k := KeyInfo{
			Purpose:     r.name,
			Algorithm:   rec.alg,
			ID:          e.id,
			Created:     msTime(e.created),
			Activates:   msTime(e.activates),
			Deactivates: msTime(e.deactivates),
			Removes:     msTime(e.removes),
			Revoked:     msTime(e.revoked),
			Early:       e.flags&flagEarly != 0,
		}
		switch {
		case e.isRevoked():
			k.State = StateRevoked
		case i == signer:
			k.State = StateSigning
		case e.activates > ms:
			k.State = StatePublished
		case rec.verifies(i, ms):
			k.State = StateVerifyOnly
		default:
			continue // removal due; the next write drops it
		}
		if !e.isRevoked() {
			k.KEK = hex.EncodeToString(e.kek[:])
		}
		out = append(out, k)
	}
	return out
}

func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// Logging helpers: attributes that never carry key material.

const levelWarn = slog.LevelWarn

func slogPurpose(p string) slog.Attr { return slog.String("purpose", p) }
func slogKey(id string) slog.Attr    { return slog.String("key_id", id) }
func slogErr(err error) slog.Attr    { return slog.String("error", err.Error()) }
