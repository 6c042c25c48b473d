package session

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/cookie"
	"github.com/authkit/authkit/internal/cas"
	"github.com/authkit/authkit/internal/keyhash"
	"github.com/authkit/authkit/store"
)

// sessionID is the secret the client holds: 32 bytes from crypto/rand,
// base64url without padding (43 characters). It is never stored, logged or
// put in an event.
type sessionID string

// storeKey is where a session's record lives: "sess:" + base64url(SHA-256
// of the ID). It is not a secret: knowing it does not let anyone present the
// session. A distinct type so the two cannot be mixed up.
type storeKey string

const idLen = 43

func newID() sessionID {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24
	return sessionID(base64.RawURLEncoding.EncodeToString(b[:]))
}

// validID reports whether s has the shape of a session ID.
func validID(s string) bool {
	if len(s) != idLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func (id sessionID) key() storeKey {
	return storeKey(keyhash.Key(sessionPrefix, string(id)))
}

// handle is the public identifier of a session in listings: the hash part
// of its store key.
func (k storeKey) handle() string { return string(k[len(sessionPrefix):]) }

type ctxKey struct{}

func fromContext(ctx context.Context) *state {
	st, _ := ctx.Value(ctxKey{}).(*state)
	return st
}

// reqCtx is the request context the Middleware hands down: the parent
// context plus the session state. It lives inside the state, which saves
// the allocation of context.WithValue; cancellation and every other value
// come from the parent.
type reqCtx struct {
	context.Context
	st *state
}

// Value implements [context.Context].
func (c *reqCtx) Value(key any) any {
	if key == (ctxKey{}) {
		return c.st
	}
	return c.Context.Value(key)
}

func (c *reqCtx) String() string { return "session.reqCtx" }

// Results of the cross-origin check.
const (
	originUnknown int8 = iota
	originOK
	originRejected
)

// Pending change kinds.
const (
	opSet   uint8 = iota // store tag/val under key
	opDel                // remove key
	opDelIf              // remove key if it still holds tag/val (Pop)
)

// mergeBufs holds a merge's working entries, so a small session merges
// without allocating per attempt.
type mergeBufs struct {
	latest [8]entry  // the latest stored entries
	merged [12]entry // those entries with the ops applied
}

// op is one pending change to the session data, kept until it is merged
// onto the stored record. At most one op per key.
type op struct {
	key  string
	kind uint8
	tag  byte
	val  []byte
}

// state is one request's view of its session. The Middleware allocates it
// together with the response writer; its mutex makes the data API safe for
// goroutines the handler starts.
type state struct {
	m   *Manager
	r   *http.Request
	w   writer
	ctx reqCtx
	mu  sync.Mutex

	// What the request presented.
	present   bool   // a session cookie or header was sent, valid or not
	viaHeader bool   // the session travels in Config.Header
	cred      string // the credential, when well-formed so far
	credBad   string // why the credential is unusable before any lookup

	loaded  bool
	loadErr error  // the store could not be read; sticky
	invalid string // why a presented credential was refused, "" if it was not
	renewed bool   // the presented ID was renewed moments ago by another request

	id     sessionID
	key    storeKey
	stored bool   // a record for key exists, as far as this request knows
	raw    []byte // the record as last read or written (CAS expectation)
	rec    record // raw decoded; slices alias raw
	buf    [8]entry

	mb   *mergeBufs // allocated by the first merge
	vary [1]string

	ops      []op
	opsBuf   [4]op
	touch    bool   // extend the idle deadline on save
	tag      string // the tag set by SetTag in this request, for a Login
	tagSet   bool   // SetTag was called in this request
	remember int8   // pending remember-me change: +1 on, -1 off

	sendID      bool // send the ID to the client (created, renewed, cookie attributes changed)
	clear       bool // tell the client to drop its credential
	headersSent bool
	done        bool
	crossOrigin int8
}

// readCredential finds the session credential in r without touching the
// store.
func (st *state) readCredential(r *http.Request) {
	m := st.m
	st.r = r
	if m.header != "" {
		if vs := r.Header[m.header]; len(vs) > 0 {
			st.viaHeader = true
			switch {
			case len(vs) > 1:
				st.present, st.credBad = true, "duplicate"
			case vs[0] != "":
				st.present, st.cred = true, vs[0]
			}
			return
		}
	}
	v, err := m.cookie.Read(r)
	switch {
	case err == nil:
		st.present, st.cred = true, v
	case errors.Is(err, cookie.ErrNotFound):
	case errors.Is(err, cookie.ErrDuplicate):
		st.present, st.credBad = true, "duplicate"
	default:
		st.present, st.credBad = true, "malformed"
	}
}

func (st *state) reqContext() context.Context {
	if st.r != nil {
		return st.r.Context()
	}
	return context.Background()
}

// saveCtx is the context for writes: the request's values without its
// cancellation, so a client that hangs up does not leave the session
// half-saved.
func (st *state) saveCtx() context.Context {
	return context.WithoutCancel(st.reqContext())
}

// load reads the session record the first time it is needed.
func (st *state) load() {
	if st.loaded {
		return
	}
	st.loaded = true
	if !st.present {
		return
	}
	if st.credBad != "" {
		st.reject(st.credBad)
		return
	}
	if !validID(st.cred) {
		st.reject("malformed")
		return
	}
	id := sessionID(st.cred)
	key := id.key()
	raw, err := st.m.store.Get(st.reqContext(), string(key))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			st.reject("unknown")
			return
		}
		st.loadErr = fmt.Errorf("session: loading session: %w", err)
		return
	}
	if isRevoked(raw) {
		st.reject(authkit.ReasonRevoked)
		return
	}
	if isTombstone(raw) {
		// Anonymous, but leave the cookie alone: see tombstone.
		st.invalid, st.renewed = "renewed", true
		return
	}
	if err := decodeRecord(raw, &st.rec, st.buf[:]); err != nil {
		st.rec = record{}
		st.m.logger.LogAttrs(st.reqContext(), slog.LevelError, "session: corrupt session record",
			slog.String("key", string(key)))
		st.reject("corrupt")
		return
	}
	now := st.m.nowMS()
	if now >= st.rec.deadline() {
		st.rec = record{}
		st.reject("expired")
		return
	}
	st.id, st.key, st.stored, st.raw = id, key, true, raw
	if now-st.rec.touched >= st.m.refreshAfter(st.rec.idle) {
		st.touch = true
	}
}

// reject records that the presented credential is unusable: the request is
// anonymous, the client is told to drop the cookie, nothing is written.
func (st *state) reject(reason string) {
	st.invalid = reason
	st.clear = true
	st.m.emitRequest(st.r, authkit.EventRejected, "", reason)
}

func (st *state) opIndex(key string) int {
	for i := range st.ops {
		if st.ops[i].key == key {
			return i
		}
	}
	return -1
}

func (st *state) putOp(o op) {
	if i := st.opIndex(o.key); i >= 0 {
		st.ops[i] = o
		return
	}
	if st.ops == nil {
		st.ops = st.opsBuf[:0]
	}
	st.ops = append(st.ops, o)
}

func (st *state) dropOp(key string) {
	if i := st.opIndex(key); i >= 0 {
		st.ops = slices.Delete(st.ops, i, i+1)
	}
}

// lookup returns the value of key in this request's view: the loaded record
// with the request's own changes applied.
func (st *state) lookup(key string) (byte, []byte, bool) {
	if i := st.opIndex(key); i >= 0 {
		o := &st.ops[i]
		if o.kind == opSet {
			return o.tag, o.val, true
		}
		return 0, nil, false
	}
	if st.stored {
		if i := st.rec.find(key); i >= 0 {
			e := &st.rec.entries[i]
			return e.tag, e.val, true
		}
	}
	return 0, nil, false
}

// loadedValue returns key's value in the record as loaded, ignoring ops.
func (st *state) loadedValue(key string) (byte, []byte, bool) {
	if st.stored {
		if i := st.rec.find(key); i >= 0 {
			e := &st.rec.entries[i]
			return e.tag, e.val, true
		}
	}
	return 0, nil, false
}

// viewSize is the encoded size of the session with o applied to this
// request's view.
func (st *state) viewSize(o op) int {
	var hdr record
	if st.stored {
		hdr = st.rec
	} else {
		now := st.m.nowMS()
		hdr = record{created: now, touched: now, idle: st.m.rIdle, absolute: now + st.m.rLife}
	}
	hdr.entries = nil
	n := encodedLen(&hdr) - 1
	count := 0
	if st.stored {
		for _, e := range st.rec.entries {
			if string(e.key) == o.key || st.opIndex(string(e.key)) >= 0 {
				continue
			}
			count++
			n += entryLen(len(e.key), len(e.val))
		}
	}
	for _, p := range st.ops {
		if p.key != o.key && p.kind == opSet {
			count++
			n += entryLen(len(p.key), len(p.val))
		}
	}
	if o.kind == opSet {
		count++
		n += entryLen(len(o.key), len(o.val))
	}
	return n + uvarintLen(uint64(count))
}

// crossOriginRefused applies the CSRF check to a request that carries the
// session cookie with an unsafe method: it reports (and emits
// EventCSRFRejected) when http.CrossOriginProtection refuses it, and records
// that it passed otherwise. Header-transported sessions are exempt.
func (st *state) crossOriginRefused(r *http.Request) bool {
	m := st.m
	if !st.present || st.viaHeader || m.cfg.InsecureSkipCSRFCheck || safeMethod(r.Method) {
		return false
	}
	if m.cop.Check(r) != nil {
		m.emitRequest(r, authkit.EventCSRFRejected, "", authkit.ReasonCrossOrigin)
		return true
	}
	st.crossOrigin = originOK
	return false
}

// crossOriginBlocked reports whether this request may not create a session
// or log in: an unsafe cross-origin browser request (login CSRF).
func (st *state) crossOriginBlocked() bool {
	if st.viaHeader || st.m.cfg.InsecureSkipCSRFCheck || st.r == nil {
		return false
	}
	if st.crossOrigin == originUnknown {
		st.crossOrigin = originOK
		if !safeMethod(st.r.Method) && st.m.cop.Check(st.r) != nil {
			st.crossOrigin = originRejected
			st.m.emitRequest(st.r, authkit.EventCSRFRejected, "", "create")
		}
	}
	return st.crossOrigin == originRejected
}

// late reports a change refused because the response has started: it is
// logged, since handlers often ignore errors from Set, and returned.
func (st *state) late(what string) error {
	err := fmt.Errorf("%w: %s needs a response header and was not made", ErrCommitted, what)
	if st.done {
		err = fmt.Errorf("%w: the handler has returned; %s was not made", ErrCommitted, what)
	}
	st.m.logger.LogAttrs(st.reqContext(), slog.LevelWarn, "session: change refused", slog.Any("error", err))
	return err
}

// change applies a data change to the request's view.
func (st *state) change(o op) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.done {
		return st.late("change of " + strconv.Quote(o.key))
	}
	st.load()
	if st.loadErr != nil {
		return st.loadErr
	}
	if !st.stored {
		if o.kind != opSet {
			st.dropOp(o.key)
			return nil
		}
		if st.headersSent {
			return st.late("a new session (for " + strconv.Quote(o.key) + ")")
		}
		if st.renewed {
			// A new session's cookie would overwrite the renewed one.
			return fmt.Errorf("%w: the session ID was just renewed by another request", ErrEnded)
		}
		if st.crossOriginBlocked() {
			return ErrCrossOrigin
		}
	}
	if o.kind == opSet {
		if n := st.viewSize(o); n > st.m.cfg.MaxSize {
			return fmt.Errorf("%w: setting %q would make it %d bytes, over %d", ErrTooLarge, o.key, n, st.m.cfg.MaxSize)
		}
	}
	st.putOp(o)
	return nil
}

func (st *state) get(key string) (byte, []byte, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.load()
	if st.loadErr != nil {
		return 0, nil, st.loadErr
	}
	tag, val, ok := st.lookup(key)
	if !ok {
		return 0, nil, ErrNotFound
	}
	return tag, val, nil
}

// pop reads key, hands it to decode, and if decode succeeds removes it —
// with a conditional delete, so a value another request stores meanwhile
// survives.
func (st *state) pop(key string, decode func(tag byte, val []byte) error) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.done {
		return st.late("pop of " + strconv.Quote(key))
	}
	st.load()
	if st.loadErr != nil {
		return st.loadErr
	}
	tag, val, ok := st.lookup(key)
	if !ok {
		return ErrNotFound
	}
	if err := decode(tag, val); err != nil {
		return err
	}
	if ltag, lval, ok := st.loadedValue(key); ok {
		st.putOp(op{key: key, kind: opDelIf, tag: ltag, val: lval})
	} else {
		st.dropOp(key)
	}
	return nil
}

func (st *state) hasSet() bool {
	for i := range st.ops {
		if st.ops[i].kind == opSet {
			return true
		}
	}
	return false
}

// dirty reports whether a save has anything to do.
func (st *state) dirty() bool {
	if st.loadErr != nil {
		return false
	}
	if !st.stored {
		return st.hasSet()
	}
	return len(st.ops) > 0 || st.touch || st.remember != 0
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

// sortedSets returns the entries the pending sets make, sorted by key.
func (st *state) sortedSets() []entry {
	var es []entry
	for _, o := range st.ops {
		if o.kind == opSet {
			es = append(es, entry{key: []byte(o.key), tag: o.tag, val: o.val})
		}
	}
	slices.SortFunc(es, func(a, b entry) int { return bytes.Compare(a.key, b.key) })
	return es
}

// create stores a new session holding the pending sets under a fresh ID.
func (st *state) create(ctx context.Context) error {
	m := st.m
	now := m.nowMS()
	rec := record{created: now, touched: now}
	m.applyRemember(&rec, st.remember > 0)
	rec.entries = st.sortedSets()
	enc := appendRecord(make([]byte, 0, encodedLen(&rec)), &rec)
	if len(enc) > m.cfg.MaxSize {
		return fmt.Errorf("%w: %d bytes, over %d", ErrTooLarge, len(enc), m.cfg.MaxSize)
	}
	id := newID()
	key := id.key()
	if err := m.store.Set(ctx, string(key), enc, time.UnixMilli(rec.deadline())); err != nil {
		return fmt.Errorf("session: creating session: %w", err)
	}
	st.adopt(id, key, enc)
	return nil
}

// adopt makes enc, just written under key, the request's current session,
// to be sent to the client.
func (st *state) adopt(id sessionID, key storeKey, enc []byte) {
	st.id, st.key, st.stored, st.raw = id, key, true, enc
	if err := decodeRecord(enc, &st.rec, st.buf[:]); err != nil {
		panic("session: cannot decode a record it encoded: " + err.Error())
	}
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
	st.clear = clear && st.present
}

// applyOps returns entries with ops applied, sorted, in dst's storage when
// it is large enough. entries is not modified and must not overlap dst.
func applyOps(dst, entries []entry, ops []op) []entry {
	out := append(dst[:0], entries...)
	for _, o := range ops {
		i, found := slices.BinarySearchFunc(out, o.key, func(e entry, k string) int {
			return bytes.Compare(e.key, []byte(k))
		})
		switch o.kind {
		case opSet:
			e := entry{key: []byte(o.key), tag: o.tag, val: o.val}
			if found {
				out[i] = e
			} else {
				out = slices.Insert(out, i, e)
			}
		case opDel:
			if found {
				out = slices.Delete(out, i, i+1)
			}
		case opDelIf:
			if found && out[i].tag == o.tag && bytes.Equal(out[i].val, o.val) {
				out = slices.Delete(out, i, i+1)
			}
		}
	}
	return out
}

// merge applies the pending changes onto the latest stored record with
// CompareAndSwap: first against the record as loaded (no extra read when
// nobody else wrote), then in a bounded, jittered retry loop that re-reads
// it. A record that is gone or past its deadline is never recreated.
func (st *state) merge(ctx context.Context) error {
	m := st.m
	now := m.nowMS()
	// What the last call of fn decided.
	const (
		write = iota
		noChange
		remove
	)
	var (
		outcome int
		touched bool
		cur     []byte
		next    []byte
	)
	if st.mb == nil {
		st.mb = new(mergeBufs)
	}
	fn := func(c []byte) ([]byte, time.Time, error) {
		cur, next, touched, outcome = c, nil, false, write
		if len(c) == 0 || isTombstone(c) || isRevoked(c) {
			return nil, time.Time{}, ErrEnded
		}
		var rec record
		if err := decodeRecord(c, &rec, st.mb.latest[:]); err != nil {
			return nil, time.Time{}, fmt.Errorf("session: stored record: %w", err)
		}
		if now >= rec.deadline() {
			return nil, time.Time{}, ErrEnded
		}
		if len(st.ops) > 0 {
			rec.entries = applyOps(st.mb.merged[:], rec.entries, st.ops)
		}
		if st.remember != 0 {
			m.applyRemember(&rec, st.remember > 0)
			if now >= rec.deadline() {
				// Turning remember-me off ended a session older than Lifetime.
				outcome = remove
				return nil, time.Time{}, nil
			}
		}
		if st.touch && now-rec.touched >= m.refreshAfter(rec.idle) {
			rec.touched, touched = now, true
		}
		enc := appendRecord(make([]byte, 0, encodedLen(&rec)), &rec)
		if len(enc) > m.cfg.MaxSize {
			return nil, time.Time{}, fmt.Errorf("%w: %d bytes after merging, over %d", ErrTooLarge, len(enc), m.cfg.MaxSize)
		}
		if bytes.Equal(enc, c) {
			outcome = noChange
			return nil, time.Time{}, cas.ErrNoChange
		}
		next = enc
		return enc, time.UnixMilli(rec.deadline()), nil
	}

	key := string(st.key)
	enc, exp, err := fn(st.raw)
	switch {
	case errors.Is(err, cas.ErrNoChange):
		err = nil
	case err == nil:
		var ok bool
		ok, err = m.store.CompareAndSwap(ctx, key, st.raw, enc, exp)
		if err == nil && !ok {
			err = cas.Update(ctx, m.store, key, cas.Policy{}, fn)
		}
	}
	if errors.Is(err, ErrEnded) || (err == nil && outcome == remove) {
		if len(st.ops) > 0 {
			m.logger.LogAttrs(ctx, slog.LevelWarn, "session: session ended by a concurrent request; this request's changes were discarded",
				slog.Int("changes", len(st.ops)))
		}
		if err == nil && st.rec.hasSubject() {
			_ = m.indexRemove(ctx, string(st.rec.subject), st.key)
		}
		st.forget(false)
		return nil
	}
	if err != nil {
		if len(st.ops) == 0 && st.remember == 0 {
			// Only the idle extension failed: the request itself is fine.
			m.logger.LogAttrs(ctx, slog.LevelWarn, "session: cannot extend idle deadline", slog.Any("error", err))
			st.touch = false
			return nil
		}
		if !errors.Is(err, ErrTooLarge) {
			err = fmt.Errorf("session: saving session: %w", err)
		}
		return err
	}
	if outcome == noChange {
		next = cur // the latest record already holds every change
	}
	rememberChanged := st.remember != 0
	st.raw = next
	if derr := decodeRecord(next, &st.rec, st.buf[:]); derr != nil {
		panic("session: cannot decode a record it encoded: " + derr.Error())
	}
	st.ops = st.ops[:0]
	st.touch, st.remember = false, 0
	if rememberChanged {
		st.sendID = true
	}
	if touched && st.rec.hasSubject() {
		m.indexTouch(ctx, st)
	}
	return nil
}

// commitHeaders saves the session and sets the response headers; the
// writer calls it just before the first byte of the response.
func (st *state) commitHeaders(rw http.ResponseWriter) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.headersSent = true
	if st.dirty() {
		if err := st.save(st.saveCtx()); err != nil {
			return err
		}
	}
	st.writeHeaders(rw)
	return nil
}

func (st *state) writeHeaders(rw http.ResponseWriter) {
	m := st.m
	h := rw.Header()
	if st.loaded || st.present {
		if len(h["Vary"]) == 0 {
			st.vary[0] = m.vary
			h["Vary"] = st.vary[:]
		} else {
			addVary(h, m.vary)
		}
	}
	switch {
	case st.sendID && st.stored:
		if st.viaHeader {
			h.Set(m.header, string(st.id))
		} else {
			t := m.cookie
			if st.rec.flags&flagRemember != 0 {
				left := time.Duration(st.rec.absolute-m.nowMS()) * time.Millisecond
				t.MaxAge = min(max(left.Truncate(time.Second), time.Second), cookie.MaxAgeLimit)
			}
			if err := t.Set(rw, string(st.id)); err != nil {
				m.logger.LogAttrs(st.reqContext(), slog.LevelError, "session: cannot set session cookie", slog.Any("error", err))
			}
		}
		h.Set("Cache-Control", "no-store")
	case st.clear && st.present && !st.viaHeader:
		if err := m.cookie.Delete(rw); err != nil {
			m.logger.LogAttrs(st.reqContext(), slog.LevelError, "session: cannot delete session cookie", slog.Any("error", err))
		}
		h.Set("Cache-Control", "no-store")
	}
	st.sendID, st.clear = false, false
}

func addVary(h http.Header, v string) {
	for _, x := range h["Vary"] {
		if x == v {
			return
		}
	}
	h["Vary"] = append(h["Vary"], v)
}

// finish runs when the handler returns: it commits if nothing was written,
// then saves changes made after the response started.
func (st *state) finish() {
	if !st.w.wrote {
		st.w.before()
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.w.failed && st.stored && st.dirty() {
		if err := st.save(st.saveCtx()); err != nil {
			st.m.logger.LogAttrs(st.reqContext(), slog.LevelError, "session: cannot save changes made after the response started",
				slog.Any("error", err))
		}
	}
	st.done = true
}
