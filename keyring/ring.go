package keyring

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/cookie"
	"github.com/authkit/authkit/internal/cas"
	"github.com/authkit/authkit/internal/secret"
	"github.com/authkit/authkit/jwt"
)

// cookieKeySize is the size of a cookie key the keyring generates.
const cookieKeySize = 32

// maxGone bounds the IDs of removed keys a ring remembers, so that a cookie
// naming one of them does not trigger a reload.
const maxGone = 64

// ring is the keys of one purpose on one server: the record as last read or
// written, the decrypted material, and the Codec or KeySet it feeds.
type ring struct {
	kr       *Keyring
	name     string
	kind     byte
	alg      jwt.Algorithm
	sched    Schedule
	plan     plan
	storeKey string

	// mu serializes reads, writes and applies of this purpose. It is held
	// across store calls; requests never take it except to wait for a
	// reload triggered by an unknown key ID.
	mu         sync.Mutex
	raw        []byte               // the record as last read or written; nil before the first load
	rec        *record              // raw, decoded
	mat        map[string]*material // decrypted keys of rec, by ID
	applied    []string             // IDs given to the Codec or KeySet, signing key first
	gone       []string             // IDs removed from rec, newest last, at most maxGone
	nextReload time.Time

	version  atomic.Uint64            // incremented whenever applied changes
	view     atomic.Pointer[record]   // rec, for readers that must not wait for a reload
	missMu   sync.Mutex               // held during a reload for an unknown key ID
	lastMiss atomic.Int64             // Unix ms of the last reload for an unknown key ID
	refused  atomic.Pointer[[]string] // revoked and removed IDs: no reload for them

	codec *cookie.Codec // cookie purposes
	keys  *jwt.KeySet   // JWT purposes
}

// material is one decrypted key.
type material struct {
	sealed []byte   // the sealed form it was read from or written as
	kek    [8]byte  // the KEK it is sealed under
	secret []byte   // cookie purposes: the secret
	key    *jwt.Key // JWT purposes: the key, private half included
}

func newRing(kr *Keyring, name string, kind byte, alg jwt.Algorithm, s Schedule) *ring {
	r := &ring{kr: kr, name: name, kind: kind, alg: alg, sched: s, plan: s.plan(), storeKey: storePrefix + name}
	r.refused.Store(&[]string{})
	return r
}

func (r *ring) now() time.Time { return r.kr.cfg.Now() }

// op changes a record for a manual operation; see update.
type op func(rec *record, now int64, mats map[string]*material) (changed bool, evs []event, err error)

// event is a security event to report once the write that caused it won.
type event struct {
	typ    authkit.EventType
	id     string
	reason string
}

// load rereads the record and performs the steps that are due.
func (r *ring) load(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.update(ctx, nil)
}

// update runs one read-modify-write of the record with CompareAndSwap: it
// decodes the stored record (or starts one), checks that every live key
// decrypts, applies fn (a manual operation, or nothing), performs the steps
// of the schedule that are due, and writes the result if anything changed.
// Whether it wrote or not, the outcome becomes this server's view. r.mu must
// be held.
func (r *ring) update(ctx context.Context, fn op) error {
	var (
		final    *record
		finalRaw []byte
		finalMat map[string]*material
		evs      []event
	)
	err := cas.Update(ctx, r.kr.st, r.storeKey, cas.Policy{}, func(cur []byte) ([]byte, time.Time, error) {
		now := r.now().UnixMilli()
		evs = nil
		rec, mats, restored, err := r.start(cur)
		if err != nil {
			return nil, time.Time{}, err
		}
		changed := restored
		if restored {
			evs = append(evs, event{EventKeysReencrypted, "", "restored"})
		}
		if fn != nil {
			c, e, err := fn(rec, now, mats)
			if err != nil {
				return nil, time.Time{}, err
			}
			changed = changed || c
			evs = append(evs, e...)
		}
		c, e, err := r.steps(rec, now, mats)
		if err != nil {
			return nil, time.Time{}, err
		}
		changed = changed || c
		evs = append(evs, e...)
		final, finalMat = rec, mats
		if !changed {
			finalRaw = cur
			return nil, time.Time{}, cas.ErrNoChange
		}
		rec.seq++
		finalRaw = rec.encode()
		return finalRaw, time.UnixMilli(now).Add(r.recordLifetime()), nil
	})
	if err != nil {
		if errors.Is(err, cas.ErrConflict) {
			return fmt.Errorf("keyring: purpose %s: %w", r.name, err)
		}
		if errors.Is(err, ErrWrongKEK) || errors.Is(err, ErrCorrupt) || errors.Is(err, ErrFull) || errors.Is(err, ErrKeyNotFound) {
			return err
		}
		return fmt.Errorf("keyring: purpose %s: %w", r.name, err)
	}
	r.adopt(final, finalRaw, finalMat)
	if iv := r.kr.cfg.ReloadInterval; iv > 0 {
		r.nextReload = r.now().Add(r.kr.jitter())
	}
	for _, e := range evs {
		subject := r.name
		if e.id != "" {
			subject += "/" + e.id
		}
		r.kr.emit(ctx, e.typ, subject, e.reason)
	}
	return nil
}

// recordLifetime is how long a record is kept in the store after a write.
// A running fleet writes at least once per rotation period; a record left
// alone for twice the life of a key holds nothing anyone still needs.
func (r *ring) recordLifetime() time.Duration {
	return max(2*(r.sched.Rotation+r.sched.Prepublish+r.sched.MaxLifetime+r.sched.Leeway), 7*24*time.Hour)
}

// start decodes cur into a record to change, with the material of each of
// its live keys. An absent record starts a new one, or — when this server
// already holds the keys, because the store lost the record — a copy of
// what it holds (restored).
func (r *ring) start(cur []byte) (rec *record, mats map[string]*material, restored bool, err error) {
	mats = make(map[string]*material, len(r.mat)+1)
	if len(cur) == 0 {
		if r.rec == nil {
			return &record{kind: r.kind, purpose: r.name, alg: string(r.alg)}, mats, false, nil
		}
		for id, m := range r.mat {
			mats[id] = m
		}
		return r.rec.clone(), mats, true, nil
	}
	if r.raw != nil && bytes.Equal(cur, r.raw) {
		for id, m := range r.mat {
			mats[id] = m
		}
		return r.rec.clone(), mats, false, nil
	}
	rec, err = decodeRecord(cur)
	if err != nil {
		return nil, nil, false, fmt.Errorf("%w (purpose %s)", err, r.name)
	}
	if rec.kind != r.kind || rec.purpose != r.name || rec.alg != string(r.alg) {
		return nil, nil, false, fmt.Errorf("%w: the record under %s is of another purpose or kind", ErrCorrupt, r.storeKey)
	}
	rec.keys = slices.Clone(rec.keys)
	for i := range rec.keys {
		e := &rec.keys[i]
		e.sealed = bytes.Clone(e.sealed) // cur belongs to the store call
		if e.isRevoked() {
			continue
		}
		if m := r.mat[e.id]; m != nil && bytes.Equal(m.sealed, e.sealed) {
			mats[e.id] = m
			continue
		}
		m, err := r.unseal(rec, e)
		if err != nil {
			return nil, nil, false, err
		}
		mats[e.id] = m
	}
	return rec, mats, false, nil
}

// unseal decrypts and parses the key e of rec.
func (r *ring) unseal(rec *record, e *entry) (*material, error) {
	var kek *KEK
	for _, k := range r.kr.cfg.KEKs {
		if k.id == e.kek {
			kek = k
			break
		}
	}
	if kek == nil {
		return nil, fmt.Errorf("%w: key %s of purpose %s is encrypted under KEK %x, which this server does not hold", ErrWrongKEK, e.id, r.name, e.kek)
	}
	pt, ok := kek.open(e.sealed, rec.additionalData(e.id))
	if !ok {
		return nil, fmt.Errorf("%w: key %s of purpose %s does not decrypt under KEK %x", ErrWrongKEK, e.id, r.name, e.kek)
	}
	m := &material{sealed: e.sealed, kek: e.kek}
	if r.kind == kindCookie {
		if len(pt) != cookieKeySize {
			clear(pt)
			return nil, fmt.Errorf("%w: key %s of purpose %s has the wrong size", ErrCorrupt, e.id, r.name)
		}
		m.secret = pt
		return m, nil
	}
	k, err := jwt.ParseKey(r.alg, pt)
	clear(pt)
	if err != nil || k.ID() != e.id || !k.CanSign() {
		return nil, fmt.Errorf("%w: key %s of purpose %s is not a %s signing key with that kid", ErrCorrupt, e.id, r.name, r.alg)
	}
	m.key = k
	return m, nil
}

// generate returns a new key entry for rec with its material, sealed under
// the first KEK.
func (r *ring) generate(rec *record, created, activates int64, flags byte) (entry, *material, error) {
	e := entry{flags: flags, created: created, activates: activates}
	var pt []byte
	m := &material{}
	if r.kind == kindCookie {
		for {
			var b [4]byte
			copy(b[:], secret.Bytes(4))
			v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
			e.id = strconv.FormatUint(uint64(v), 10)
			if v != 0 && !slices.ContainsFunc(rec.keys, func(o entry) bool { return o.id == e.id }) {
				break
			}
		}
		m.secret = secret.Bytes(cookieKeySize)
		pt = m.secret
	} else {
		k, err := jwt.GenerateKey(r.alg)
		if err != nil {
			return entry{}, nil, fmt.Errorf("keyring: purpose %s: %w", r.name, err)
		}
		if pt, err = k.Export(); err != nil {
			return entry{}, nil, fmt.Errorf("keyring: purpose %s: %w", r.name, err)
		}
		defer clear(pt)
		e.id, m.key = k.ID(), k
	}
	kek := r.kr.cfg.KEKs[0]
	e.kek = kek.id
	e.sealed = kek.seal(pt, rec.additionalData(e.id))
	m.sealed, m.kek = e.sealed, e.kek
	return e, m, nil
}

// addPublished adds a key that signs from activates, or Prepublish after it
// is written if that is later. Its creation is stamped with the clock
// rounded up to the millisecond, so that a key written at 12:00:00.0003 is
// stamped 12:00:00.001 and signs no sooner than a whole Prepublish after.
func (r *ring) addPublished(rec *record, mats map[string]*material, activates int64) (*entry, error) {
	t := r.now()
	created := t.UnixMilli()
	if t.After(time.UnixMilli(created)) {
		created++
	}
	return r.add(rec, mats, created, max(activates, created+r.plan.prepublish), 0)
}

// add generates a key and inserts it into rec, failing with ErrFull when rec
// has no room.
func (r *ring) add(rec *record, mats map[string]*material, created, activates int64, flags byte) (*entry, error) {
	if len(rec.keys) >= MaxKeys {
		return nil, fmt.Errorf("%w: purpose %s holds %d keys", ErrFull, r.name, len(rec.keys))
	}
	e, m, err := r.generate(rec, created, activates, flags)
	if err != nil {
		return nil, err
	}
	mats[e.id] = m
	return &rec.keys[rec.insert(e)], nil
}

// steps performs on rec the steps of the schedule due at now: drop the keys
// whose verify window has ended; add a key that signs at once if none signs
// (a new keyring, or its signing key revoked); add the next key once the
// rotation is due, published Prepublish before it signs; re-encrypt keys
// stored under a KEK other than the first; and set every key's dates.
func (r *ring) steps(rec *record, now int64, mats map[string]*material) (bool, []event, error) {
	var evs []event
	changed := false
	for _, id := range rec.prune(now) {
		changed = true
		evs = append(evs, event{EventKeyRemoved, id, "expired"})
	}
	if rec.signer(now) < 0 && !rec.replacementWaiting(now) {
		reason := "replacement"
		if len(rec.live()) == 0 && len(rec.keys) == 0 {
			reason = "first"
		}
		e, err := r.add(rec, mats, now, now, flagEarly)
		if err != nil {
			return false, nil, err
		}
		changed = true
		evs = append(evs, event{EventKeyCreated, e.id, reason})
	}
	if live := rec.live(); len(live) > 0 && now >= rec.rotationDue(r.plan) {
		last := rec.keys[live[len(live)-1]]
		e, err := r.addPublished(rec, mats, last.activates+r.plan.rotation)
		if err != nil {
			return false, nil, err
		}
		changed = true
		evs = append(evs, event{EventKeyCreated, e.id, "scheduled"})
	}
	if r.reencrypt(rec, mats) {
		changed = true
		evs = append(evs, event{EventKeysReencrypted, "", "kek"})
	}
	before := slices.Clone(rec.keys)
	rec.normalize(now, r.plan)
	if !slices.EqualFunc(before, rec.keys, sameDates) {
		changed = true
	}
	return changed, evs, nil
}

func sameDates(a, b entry) bool {
	return a.id == b.id && a.deactivates == b.deactivates && a.removes == b.removes
}

// reencrypt seals every live key that is not under the first KEK under it.
func (r *ring) reencrypt(rec *record, mats map[string]*material) bool {
	kek := r.kr.cfg.KEKs[0]
	changed := false
	for i := range rec.keys {
		e := &rec.keys[i]
		if e.isRevoked() || e.kek == kek.id {
			continue
		}
		m := mats[e.id]
		pt := m.secret
		if r.kind == kindJWT {
			var err error
			if pt, err = m.key.Export(); err != nil {
				r.kr.logger.Error("keyring: cannot re-encrypt a key", slogPurpose(r.name), slogKey(e.id))
				continue
			}
		}
		e.kek, e.sealed = kek.id, kek.seal(pt, rec.additionalData(e.id))
		if r.kind == kindJWT {
			clear(pt)
		}
		mats[e.id] = &material{sealed: e.sealed, kek: e.kek, secret: m.secret, key: m.key}
		changed = true
	}
	return changed
}

// adopt makes rec this server's view and applies it.
func (r *ring) adopt(rec *record, raw []byte, mats map[string]*material) {
	if r.rec != nil {
		for _, e := range r.rec.keys {
			if !slices.ContainsFunc(rec.keys, func(o entry) bool { return o.id == e.id }) {
				r.gone = append(r.gone, e.id)
			}
		}
		if len(r.gone) > maxGone {
			r.gone = slices.Clone(r.gone[len(r.gone)-maxGone:])
		}
	}
	for id, m := range mats {
		i := slices.IndexFunc(rec.keys, func(e entry) bool { return e.id == id })
		if i < 0 || rec.keys[i].isRevoked() {
			// Removed or revoked: forget the secret. (A Codec keeps only
			// subkeys derived from it.)
			delete(mats, id)
			clear(m.secret)
		}
	}
	r.rec, r.raw, r.mat = rec, raw, mats
	r.view.Store(rec)
	refused := slices.Clone(r.gone)
	for _, e := range rec.keys {
		if e.isRevoked() {
			refused = append(refused, e.id)
		}
	}
	r.refused.Store(&refused)
	r.apply(r.now())
}

// apply gives the Codec or KeySet the keys of r.rec at now: the signing key
// first, then the rest of the verify set, newest first. r.mu must be held.
func (r *ring) apply(now time.Time) {
	rec, ms := r.rec, now.UnixMilli()
	s := rec.signer(ms)
	if s < 0 {
		// A key that must sign at once (a replacement) was written by a
		// server whose clock is ahead of this one: sign with it already.
		// A key that stopped signing must not sign again (its tokens
		// would outlive its removal), nor a scheduled key before its time.
		s = rec.replacement(ms)
		if s < 0 {
			r.kr.logger.Error("keyring: no key can sign; keeping the current keys", slogPurpose(r.name))
			return
		}
	}
	ids := []string{rec.keys[s].id}
	for i := len(rec.keys) - 1; i >= 0; i-- {
		if i != s && rec.verifies(i, ms) {
			ids = append(ids, rec.keys[i].id)
		}
	}
	if slices.Equal(ids, r.applied) {
		return
	}
	var err error
	if r.kind == kindCookie {
		err = r.applyCookie(ids)
	} else {
		err = r.applyJWT(ids)
	}
	if err != nil {
		r.kr.logger.Error("keyring: applying keys failed", slogPurpose(r.name), slogErr(err))
		return
	}
	r.applied = ids
	r.version.Add(1)
}

func (r *ring) applyCookie(ids []string) error {
	keys := make([]cookie.Key, len(ids))
	for i, id := range ids {
		v, _ := cookieID(id)
		keys[i] = cookie.Key{ID: v, Secret: r.mat[id].secret}
	}
	if r.codec == nil {
		c, err := cookie.NewCodec(keys...)
		if err != nil {
			return err
		}
		c.Now, c.MaxTTL, c.OnUnknownKey = r.kr.cfg.Now, r.sched.MaxLifetime, r.unknownCookie
		r.codec = c
		return nil
	}
	return r.codec.SetKeys(keys...)
}

func (r *ring) applyJWT(ids []string) error {
	want := make([]*jwt.Key, len(ids))
	for i, id := range ids {
		want[i] = r.mat[id].key
	}
	if r.keys == nil {
		ks, err := jwt.NewKeySet(want[0], want[1:]...)
		if err != nil {
			return err
		}
		ks.OnUnknownKID(r.unknownJWT)
		r.keys = ks
		return nil
	}
	for _, k := range want[1:] {
		if _, ok := r.keys.Key(k.ID()); !ok {
			if err := r.keys.Add(k); err != nil {
				return err
			}
		}
	}
	if sk := r.keys.SigningKey(); sk == nil || sk.ID() != want[0].ID() {
		if err := r.keys.Rotate(want[0]); err != nil {
			return err
		}
	}
	for _, k := range r.keys.Keys() {
		if !slices.Contains(ids, k.ID()) {
			if err := r.keys.Retire(k.ID()); err != nil {
				return err
			}
		}
	}
	return nil
}

// wake does what is due for this purpose at now and returns how long until
// it next needs attention: a reload once the jittered interval has passed
// or a step of the schedule is due; otherwise only the switch of keys the
// clock brings.
func (r *ring) wake(ctx context.Context) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	interval := r.kr.cfg.ReloadInterval
	if (interval > 0 && !now.Before(r.nextReload)) || r.stepDue(now.UnixMilli()) {
		if interval > 0 {
			r.nextReload = now.Add(r.kr.jitter())
		}
		rctx, cancel := context.WithTimeout(ctx, r.kr.cfg.ReloadTimeout)
		err := r.update(rctx, nil)
		cancel()
		if err != nil {
			r.kr.logger.LogAttrs(ctx, levelWarn, "keyring: reload failed; keeping the keys held", slogPurpose(r.name), slogErr(err))
			r.apply(now)
		}
	} else {
		r.apply(now)
	}
	next := time.Duration(-1)
	if interval > 0 {
		next = r.nextReload.Sub(now)
	}
	if t := r.rec.nextChange(now.UnixMilli(), r.plan); t != 0 {
		if d := time.UnixMilli(t).Sub(now); next < 0 || d < next {
			next = d
		}
	}
	if next < 0 {
		next = time.Hour
	}
	return next
}

// stepDue reports whether the schedule has a step due at now that the
// record does not reflect yet.
func (r *ring) stepDue(now int64) bool {
	rec := r.rec
	if rec.signer(now) < 0 && !rec.replacementWaiting(now) || now >= rec.rotationDue(r.plan) || r.staleKEK() {
		return true
	}
	for _, e := range rec.keys {
		if e.removes != 0 && e.removes <= now {
			return true
		}
	}
	return false
}

// staleKEK reports whether a live key is stored under a KEK other than the
// first, so that a reload re-encrypts it.
func (r *ring) staleKEK() bool {
	for _, e := range r.rec.keys {
		if !e.isRevoked() && e.kek != r.kr.cfg.KEKs[0].id {
			return true
		}
	}
	return false
}

// unknownCookie is the Codec's OnUnknownKey hook.
func (r *ring) unknownCookie(id uint32) bool {
	ctx, cancel := context.WithTimeout(r.kr.ctx, r.kr.cfg.ReloadTimeout)
	defer cancel()
	return r.miss(ctx, strconv.FormatUint(uint64(id), 10))
}

// unknownJWT is the KeySet's OnUnknownKID hook.
func (r *ring) unknownJWT(ctx context.Context) bool { return r.miss(ctx, "") }

// miss reloads the purpose for a value naming a key ID this server does not
// hold, at most once per Config.UnknownKeyInterval, and reports whether the
// keys changed since the value arrived. A request that arrives during such
// a reload waits for it (not for the background reload). IDs known to be
// revoked or removed never reload.
func (r *ring) miss(ctx context.Context, id string) bool {
	v := r.version.Load()
	if id != "" && slices.Contains(*r.refused.Load(), id) {
		return false
	}
	now := r.now().UnixMilli()
	last := r.lastMiss.Load()
	if now-last >= r.kr.cfg.UnknownKeyInterval.Milliseconds() && r.lastMiss.CompareAndSwap(last, now) {
		r.missMu.Lock()
		r.mu.Lock()
		err := r.update(ctx, nil)
		r.mu.Unlock()
		r.missMu.Unlock()
		if err != nil {
			r.kr.logger.LogAttrs(ctx, levelWarn, "keyring: reload for an unknown key ID failed", slogPurpose(r.name), slogErr(err))
		}
		return r.version.Load() != v
	}
	r.missMu.Lock() // waits for a reload for an unknown key ID in progress
	changed := r.version.Load() != v
	r.missMu.Unlock()
	return changed
}
