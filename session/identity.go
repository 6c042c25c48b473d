package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/internal/cas"
)

var errNoHeader = errors.New("session: UseHeader needs Config.Header")

// stateOf returns the session of ctx if m's Middleware put it there.
func (m *Manager) stateOf(ctx context.Context) (*state, error) {
	st := fromContext(ctx)
	if st == nil || st.m != m {
		return nil, ErrNoMiddleware
	}
	return st, nil
}

// Login binds the request's session to subject (a user ID) after the user
// proved who they are. It
//
//   - ends the current session ID at once, atomically taking its latest
//     data: a session ID planted before login (fixation) is dead. For a
//     minute a marker stays under the old ID's store key, so that requests
//     the browser sent in parallel with the old ID are anonymous but leave
//     the cookie alone (a cookie deletion or a new session's cookie in their
//     responses would overwrite the new one); [Set] on such a request fails
//     with [ErrEnded], and changes from requests that loaded the old session
//     before the login are dropped and logged, never moved to the new
//     session — the old ID may be an attacker's. A [Manager.Logout] of the
//     old ID in that minute ends the new session too;
//   - stores the data under a new ID — kept, with the request's pending
//     changes, unless the session belonged to a different subject, in which
//     case the new session starts empty;
//   - starts a new absolute lifetime, sets AuthTime to now, keeps the
//     remember-me choice ([Manager.RememberMe]), records the session in
//     subject's index — logging out the oldest sessions beyond
//     [Config.MaxPerSubject] — and sends the new ID to the client.
//
// The index entry is written before the session record, and the record is
// created only if its key is absent, so every live session of a subject is
// in its index: a Login racing [Manager.RevokeSubject] either adds its
// entry before the revocation takes the index (and then fails with
// [ErrEnded], handing nothing out), or after it (and survives it, as a
// login just after the revocation would). Applications that must refuse a
// login whose password check happened before a password change should
// compare a credential version after Login.
//
// Login fails with [ErrCommitted] after the response started, with
// [ErrCrossOrigin] on a cross-origin unsafe request, with [ErrInvalidKey] for
// a subject that is empty or longer than [MaxSubjectLen] bytes, with
// [ErrTooLarge] when the session with the request's changes would exceed
// [Config.MaxSize] (nothing is changed), and with the store's error; when
// it fails after ending the old ID the request is left anonymous.
func (m *Manager) Login(ctx context.Context, subject string) error {
	if len(subject) == 0 || len(subject) > MaxSubjectLen {
		return fmt.Errorf("%w: subject must be 1..%d bytes", ErrInvalidKey, MaxSubjectLen)
	}
	return m.withLoaded(ctx, "Login", func(st *state) error {
		if st.crossOriginBlocked() {
			return ErrCrossOrigin
		}
		return st.login(ctx, subject)
	})
}

// withLoaded runs fn on the request's session, loaded and locked, if headers
// can still be sent; op names the caller in the error otherwise.
func (m *Manager) withLoaded(ctx context.Context, op string, fn func(st *state) error) error {
	st, err := m.stateOf(ctx)
	if err != nil {
		return err
	}
	st.lock()
	defer st.unlock()
	if st.done || st.headersSent {
		return st.late(op)
	}
	st.load()
	if st.loadErr != nil {
		return st.loadErr
	}
	return fn(st)
}

// RenewID gives the request's session a new ID, keeping its data, subject,
// AuthTime, tag and deadlines, and ends the old ID at once. Call it when the
// session's privileges change (a role granted, a sudo mode entered). On a
// request without a stored session it does nothing: a new session gets a
// fresh ID anyway. It fails with [ErrCommitted] after the response started
// and with [ErrEnded] if the session ended or was revoked concurrently;
// renewing never brings back a session that a revocation is ending.
func (m *Manager) RenewID(ctx context.Context) error {
	return m.withLoaded(ctx, "RenewID", func(st *state) error {
		if !st.stored {
			return nil
		}
		return st.renewID(ctx)
	})
}

// Logout ends the request's session: its record is deleted from the store
// (every copy of the cookie stops working at once) and from its subject's
// index, and the client is told to drop the cookie. If a parallel request
// renewed the session's ID meanwhile ([Manager.Login], [Manager.RenewID]),
// the new ID is ended too, whether or not its record exists yet. Later
// [Set] calls in the same request start a new anonymous session. After the
// response started the session is still ended server-side; only the cookie
// is left behind, and it is refused from then on. Without a session it does
// nothing.
func (m *Manager) Logout(ctx context.Context) error {
	st, err := m.stateOf(ctx)
	if err != nil {
		return err
	}
	st.lock()
	defer st.unlock()
	st.load()
	if st.loadErr != nil {
		return st.loadErr
	}
	if st.stored {
		if err := st.end(context.WithoutCancel(ctx)); err != nil {
			return err
		}
		subject := ""
		if st.rec.hasSubject() {
			subject = string(st.rec.subject)
		}
		st.event(authkit.EventLogout, subject, "")
	}
	st.forget(true)
	return nil
}

// ended is what ending one session key found there.
type endedKey struct {
	subject   string   // the subject of the record deleted, "" if none
	successor storeKey // the ID it was renewed into, from a tombstone
	deadline  int64    // the successor's deadline
}

// end ends the request's session (Logout), and the sessions its ID was
// renewed into meanwhile.
func (st *state) end(ctx context.Context) error {
	m := st.m
	e, err := swapFrom(ctx, m.store, string(st.key), st.raw, func(cur []byte, known bool) ([]byte, time.Time, endedKey, error) {
		return endKey(cur, 0)
	})
	if err != nil {
		return fmt.Errorf("session: ending session: %w", err)
	}
	if st.rec.hasSubject() {
		m.cleanupIndex(ctx, string(st.rec.subject), st.key)
	}
	for range maxRenewalChain {
		if e.successor == "" {
			return nil
		}
		key, deadline := e.successor, e.deadline
		e, err = cas.Do(ctx, m.store, string(key), cas.Policy{}, func(cur []byte) ([]byte, time.Time, endedKey, error) {
			return endKey(cur, deadline)
		})
		if err != nil {
			return fmt.Errorf("session: ending the renewed session: %w", err)
		}
		if e.subject != "" {
			m.cleanupIndex(ctx, e.subject, key)
		}
	}
	return nil
}

// maxRenewalChain bounds how many renewals Logout follows: each takes a
// request, so more than a few during one Logout is not a browser's doing.
const maxRenewalChain = 8

// endKey is one attempt to end the session whose key holds cur: a record
// is deleted (a record, once read, can never be created again, since only
// its creator creates it), a tombstone names the session to end next, and
// an absent key — a successor whose renewal has not created it yet — gets
// the revoked marker until deadline, so that creation fails. deadline is
// zero for the request's own key, which is never recreated.
func endKey(cur []byte, deadline int64) ([]byte, time.Time, endedKey, error) {
	var e endedKey
	switch {
	case isRevoked(cur):
		return nil, time.Time{}, e, cas.ErrNoChange
	case len(cur) == 0:
		if deadline == 0 {
			return nil, time.Time{}, e, cas.ErrNoChange
		}
		return revokedMarker, time.UnixMilli(deadline), e, nil
	case isTombstone(cur):
		e.successor, e.deadline, _ = decodeTombstone(cur)
		return nil, time.Time{}, e, cas.ErrNoChange
	}
	var rec record
	if decodeHeader(cur, &rec) == nil && rec.hasSubject() {
		e.subject = string(rec.subject)
	}
	return nil, time.Time{}, e, nil
}

// RememberMe chooses whether the request's session survives a browser
// restart. On, the cookie gets a Max-Age and the session the remember-me
// lifetimes ([Config.RememberIdleTimeout], [Config.RememberLifetime],
// measured from the session's creation); off, a browser-session cookie and
// the normal lifetimes. The choice is stored in the session record and
// carried over by [Manager.Login], so it can be made before or after Login.
// It does not create a session by itself. It fails with [ErrCommitted] after
// the response started.
func (m *Manager) RememberMe(ctx context.Context, on bool) error {
	return m.withLoaded(ctx, "RememberMe", func(st *state) error {
		st.remember = -1
		if on {
			st.remember = 1
		}
		if st.stored && (st.rec.flags&flagRemember != 0) == on {
			st.remember = 0
		}
		return nil
	})
}

// UseHeader makes the request's session travel in [Config.Header] rather
// than in the cookie: when the session is created or renewed (by Login), its
// ID is sent in that response header and no cookie is set. Call it in the
// login handler of an API for non-browser clients, which then send the ID
// back in the same request header. Requests that send the header use it
// without this call. Never use it for browsers: a header is readable by
// scripts, a HttpOnly cookie is not. It fails if Config.Header is empty and
// with [ErrCommitted] after the response started.
func UseHeader(ctx context.Context) error {
	st := fromContext(ctx)
	if st == nil {
		return ErrNoMiddleware
	}
	if st.m.header == "" {
		return errNoHeader
	}
	st.lock()
	defer st.unlock()
	if st.done || st.headersSent {
		return st.late("UseHeader")
	}
	st.viaHeader = true
	return nil
}

// Authenticate implements [authkit.Authenticator]: it returns the Identity
// of a request whose session was bound to a subject by [Manager.Login]
// (Method "session", AuthTime from the login, Expires at the session's next
// deadline).
//
// It returns authkit.ErrNoCredentials when the request carries no session
// or an anonymous one; an error wrapping authkit.ErrInvalidCredentials when
// it carries a session ID that is malformed, duplicated, unknown, expired or
// revoked — such a request is anonymous, nothing is written, and the client
// is told to drop the cookie (except a duplicated one: see
// [Config.Cookie]); and another error when the store cannot be read.
//
// Behind [Manager.Middleware] it shares the request's session (one store
// read). Without the Middleware it reads the session on its own (one store
// read, a few small allocations), applies the cross-origin check to unsafe
// cookie requests (refusing them as invalid credentials), but cannot extend
// the idle deadline: put the Middleware in front, or active sessions expire
// after IdleTimeout.
func (m *Manager) Authenticate(r *http.Request) (*authkit.Identity, error) {
	st := fromContext(r.Context())
	if st == nil || st.m != m {
		return m.authenticate(r)
	}
	st.lock()
	defer st.unlock()
	st.load()
	if st.loadErr != nil {
		return nil, st.loadErr
	}
	if !st.stored || !st.rec.hasSubject() {
		if st.invalid != "" {
			return nil, invalidSession(st.invalid)
		}
		return nil, authkit.ErrNoCredentials
	}
	return identity(&st.rec), nil
}

// authenticate is Authenticate for a request outside the Middleware: the
// same checks, without a request state.
func (m *Manager) authenticate(r *http.Request) (*authkit.Identity, error) {
	c := m.readCredential(r)
	if !c.present {
		return nil, authkit.ErrNoCredentials
	}
	if m.csrfRefused(r, c) {
		return nil, fmt.Errorf("%w: session: cross-origin request", authkit.ErrInvalidCredentials)
	}
	reason := c.credBad
	var rec record
	if reason == "" {
		key := sessionID(c.cred).key()
		raw, err := m.store.Get(r.Context(), string(key))
		if reason, err = m.readRecord(r.Context(), key, raw, err, &rec, nil, false); err != nil {
			return nil, err
		}
	}
	switch {
	case reason == reasonRenewed:
		return nil, invalidSession(reason)
	case reason != "":
		m.emitRequest(r, authkit.EventRejected, "", reason)
		return nil, invalidSession(reason)
	case !rec.hasSubject():
		return nil, authkit.ErrNoCredentials
	}
	return identity(&rec), nil
}

func invalidSession(reason string) error {
	return fmt.Errorf("%w: session %s", authkit.ErrInvalidCredentials, reason)
}

func identity(rec *record) *authkit.Identity {
	return &authkit.Identity{
		Subject:  string(rec.subject),
		Method:   authkit.MethodSession,
		AuthTime: time.UnixMilli(rec.authTime),
		Expires:  time.UnixMilli(rec.deadline()),
	}
}
