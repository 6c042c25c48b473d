package session

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/authkit/authkit"
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

// Reasons a presented credential is refused, besides authkit's Reason…
// constants.
const (
	reasonDuplicate = "duplicate" // the cookie or header was sent twice
	reasonRenewed   = "renewed"   // the ID was renewed moments ago
	reasonCorrupt   = "corrupt"   // the stored record does not decode
)

// credential is the session credential a request presents, as read from
// its headers without touching the store.
type credential struct {
	present   bool   // a session cookie or header was sent, valid or not
	viaHeader bool   // the session travels in Config.Header
	dup       bool   // the credential was sent twice: never delete a cookie
	cred      string // the credential, when well-formed so far
	credBad   string // why the credential is unusable before any lookup
}

// readCredential finds the session credential in r. The cookie is read
// with the template's name, which New validated: it is not validated again
// on every request.
func (m *Manager) readCredential(r *http.Request) credential {
	if m.header != "" {
		if vs := r.Header[m.header]; len(vs) > 0 {
			switch {
			case len(vs) > 1:
				return credential{present: true, viaHeader: true, dup: true, credBad: reasonDuplicate}
			case vs[0] == "":
				return credential{viaHeader: true}
			case !validID(vs[0]):
				return credential{present: true, viaHeader: true, credBad: authkit.ReasonMalformed}
			}
			return credential{present: true, viaHeader: true, cred: vs[0]}
		}
	}
	v, n := scanCookie(r.Header["Cookie"], m.cookie.Name)
	switch {
	case n == 0:
		return credential{}
	case n > 1:
		// Cookie tossing: a sibling subdomain or a narrower path planted a
		// second cookie of this name, and the request cannot tell which is
		// genuine. Nobody is authenticated, and nothing is deleted: a
		// deletion could only remove the host's own cookie — the victim's —
		// and leave the planted one in place.
		return credential{present: true, dup: true, credBad: reasonDuplicate}
	case !validID(v):
		return credential{present: true, credBad: authkit.ReasonMalformed}
	}
	return credential{present: true, cred: v}
}

// scanCookie returns the value of the cookie named name in the Cookie
// header lines and how many times the name occurs, as
// [cookie.Template.Read] reads them: pairs separated by ';', whitespace
// around names and values ignored, a pair without '=' never matching, one
// pair of surrounding double quotes removed. It does not check the value,
// which validID does more strictly.
func scanCookie(lines []string, name string) (val string, n int) {
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			k, v, ok := strings.Cut(part, "=")
			if !ok || trimOWS(k) != name {
				continue
			}
			n++
			val = trimOWS(v)
		}
	}
	if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
		val = val[1 : len(val)-1]
	}
	return val, n
}

func trimOWS(s string) string {
	for len(s) > 0 && isOWS(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isOWS(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// state is one request's view of its session. The Middleware allocates it
// together with the response writer; its mutex makes the data API safe for
// goroutines the handler starts.
type state struct {
	m   *Manager
	r   *http.Request
	w   writer
	ctx reqCtx
	mu  sync.Mutex

	credential // what the request presented

	loaded  bool
	loadErr error  // the store could not be read; sticky
	invalid string // why a presented credential was refused, "" if it was not
	renewed bool   // the presented ID was renewed moments ago by another request

	id     sessionID
	key    storeKey
	stored bool   // a record for key exists, as far as this request knows
	raw    []byte // the record as last read or written (CAS expectation)
	rec    record // raw decoded; slices alias raw or the ops merged into it
	buf    [8]entry

	mb           *mergeBufs // allocated by the first merge
	vary         [1]string
	cacheControl [1]string

	ops      []op
	opsBuf   [4]op
	touch    bool   // extend the idle deadline on save
	remember int8   // pending remember-me change: +1 on, -1 off
	tag      string // the tag set by SetTag in this request, for a Login
	tagSet   bool   // SetTag was called in this request

	// Events wait here while mu is held and are sent by unlock, so an
	// EventFunc may use the session (Get, Set) without deadlocking.
	evs []authkit.Event

	sendID      bool // send the ID to the client (created, renewed, cookie attributes changed)
	clear       bool // tell the client to drop its credential
	headersSent bool
	done        bool
	crossOrigin int8
}

// lock locks the state; unlock unlocks it and then sends the events queued
// meanwhile.
func (st *state) lock() { st.mu.Lock() }

func (st *state) unlock() {
	evs := st.evs
	st.evs = nil
	st.mu.Unlock()
	for _, e := range evs {
		st.m.cfg.Events(st.reqContext(), e)
	}
}

// event queues a security event about the request, sent when the state is
// unlocked.
func (st *state) event(typ authkit.EventType, subject, reason string) {
	if st.m.cfg.Events == nil {
		return
	}
	st.evs = append(st.evs, st.m.newEvent(st.r, typ, subject, reason))
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
	id := sessionID(st.cred)
	key := id.key()
	raw, err := st.m.store.Get(st.reqContext(), string(key))
	reason, err := st.m.readRecord(st.reqContext(), key, raw, err, &st.rec, st.buf[:], true)
	switch {
	case err != nil:
		st.loadErr = err
	case reason == reasonRenewed:
		// Anonymous, but leave the cookie alone: see tombstoneByte.
		st.invalid, st.renewed = reason, true
	case reason != "":
		st.reject(reason)
	default:
		st.id, st.key, st.stored, st.raw = id, key, true, raw
		if st.m.nowMS()-st.rec.touched >= st.m.refreshAfter(st.rec.idle) {
			st.touch = true
		}
	}
}

// readRecord interprets what the store returned for the key of a
// presented session ID: it decodes a live record into rec (with its
// entries, in buf, when keep is set) and returns "", or the reason the
// session is refused, or an error when the store could not be read.
func (m *Manager) readRecord(ctx context.Context, key storeKey, raw []byte, err error, rec *record, buf []entry, keep bool) (string, error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return authkit.ReasonUnknown, nil
	case err != nil:
		return "", fmt.Errorf("session: loading session: %w", err)
	case isRevoked(raw):
		return authkit.ReasonRevoked, nil
	case isTombstone(raw):
		return reasonRenewed, nil
	}
	if keep {
		err = decodeRecord(raw, rec, buf)
	} else {
		err = decodeHeader(raw, rec)
	}
	if err != nil {
		*rec = record{}
		m.logger.LogAttrs(ctx, slog.LevelError, "session: corrupt session record", slog.String("key", string(key)))
		return reasonCorrupt, nil
	}
	if m.nowMS() >= rec.deadline() {
		*rec = record{}
		return authkit.ReasonExpired, nil
	}
	return "", nil
}

// reject records that the presented credential is unusable: the request is
// anonymous, the client is told to drop the cookie (unless it was sent
// twice), nothing is written.
func (st *state) reject(reason string) {
	st.invalid = reason
	st.clear = !st.dup
	st.event(authkit.EventRejected, "", reason)
}

// crossOriginRefused applies the CSRF check to a request that carries the
// session cookie with an unsafe method: it reports (and emits
// EventCSRFRejected) when http.CrossOriginProtection refuses it, and records
// that it passed otherwise. Header-transported sessions are exempt.
func (st *state) crossOriginRefused(r *http.Request) bool {
	if st.m.csrfRefused(r, st.credential) {
		return true
	}
	if st.present && !st.viaHeader && !safeMethod(r.Method) {
		st.crossOrigin = originOK
	}
	return false
}

// csrfRefused reports whether the cross-origin check refuses r, which
// presents c, emitting EventCSRFRejected if so.
func (m *Manager) csrfRefused(r *http.Request, c credential) bool {
	if !c.present || c.viaHeader || m.cfg.InsecureSkipCSRFCheck || safeMethod(r.Method) {
		return false
	}
	if m.cop.Check(r) != nil {
		m.emitRequest(r, authkit.EventCSRFRejected, "", authkit.ReasonCrossOrigin)
		return true
	}
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
			st.event(authkit.EventCSRFRejected, "", "create")
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
