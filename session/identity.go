package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
//     session — the old ID may be an attacker's;
//   - stores the data under a new ID — kept, with the request's pending
//     changes, unless the session belonged to a different subject, in which
//     case the new session starts empty;
//   - starts a new absolute lifetime, sets AuthTime to now, keeps the
//     remember-me choice ([Manager.RememberMe]), records the session in
//     subject's index — logging out the oldest sessions beyond
//     [Config.MaxPerSubject] — and sends the new ID to the client.
//
// The index entry is written before the session record and checked after
// it, so every live session of a subject is in its index: a Login racing
// [Manager.RevokeSubject] either ends before the revocation reads the index
// (and is revoked by it), or is refused with [ErrEnded], or writes its index
// entry after the revocation (and survives it, as a login just after the
// revocation would). Applications that must refuse a login whose password
// check happened before a password change should compare a credential
// version after Login.
//
// Login fails with [ErrCommitted] after the response started, with
// [ErrCrossOrigin] on a cross-origin unsafe request, with [ErrInvalidKey] for
// a subject that is empty or longer than [MaxSubjectLen] bytes, and with the
// store's error; when it fails after ending the old ID the request is left
// anonymous.
func (m *Manager) Login(ctx context.Context, subject string) error {
	if len(subject) == 0 || len(subject) > MaxSubjectLen {
		return fmt.Errorf("%w: subject must be 1..%d bytes", ErrInvalidKey, MaxSubjectLen)
	}
	return m.withLoaded(ctx, "Login", func(st *state) error {
		if st.crossOriginBlocked() {
			return ErrCrossOrigin
		}
		return st.renew(ctx, subject, true)
	})
}

// withLoaded runs fn on the request's session, loaded and locked, if headers
// can still be sent; op names the caller in the error otherwise.
func (m *Manager) withLoaded(ctx context.Context, op string, fn func(st *state) error) error {
	st, err := m.stateOf(ctx)
	if err != nil {
		return err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
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
// AuthTime and deadlines, and ends the old ID at once. Call it when the
// session's privileges change (a role granted, a sudo mode entered). On a
// request without a stored session it does nothing: a new session gets a
// fresh ID anyway. It fails with [ErrCommitted] after the response started
// and with [ErrEnded] if the session ended concurrently.
func (m *Manager) RenewID(ctx context.Context) error {
	return m.withLoaded(ctx, "RenewID", func(st *state) error {
		if !st.stored {
			return nil
		}
		return st.renew(ctx, "", false)
	})
}

// takeRecord replaces the record under key with a tombstone (see
// tombstone) and returns what it held at that moment: nil if it was already
// gone, with renewed set when a tombstone was there (a parallel request
// renewed the ID first). The CompareAndSwap loop makes the read and the
// replacement one atomic step, so no concurrent save lands in between and is
// lost.
func (m *Manager) takeRecord(ctx context.Context, key storeKey) (taken []byte, renewed bool, err error) {
	err = cas.Update(ctx, m.store, string(key), cas.Policy{}, func(cur []byte) ([]byte, time.Time, error) {
		taken, renewed = nil, isTombstone(cur)
		if len(cur) == 0 || renewed || isRevoked(cur) {
			return nil, time.Time{}, cas.ErrNoChange
		}
		taken = cur
		return tombstone, m.now().Add(renewGrace), nil
	})
	return taken, renewed, err
}

// renew moves the session to a new ID: for Login (login set) bound to
// subject, otherwise keeping everything. The caller holds st.mu and has
// checked that headers can still be sent.
func (st *state) renew(ctx context.Context, subject string, login bool) error {
	m := st.m
	ctx = context.WithoutCancel(ctx)
	now := m.nowMS()

	// 1. End the old ID, capturing its latest record.
	var base record
	var oldKey storeKey
	var oldSubject string
	var renewedElsewhere bool
	if st.stored {
		oldKey = st.key
		if st.rec.hasSubject() {
			oldSubject = string(st.rec.subject)
		}
		old, renewed, err := m.takeRecord(ctx, oldKey)
		renewedElsewhere = renewed
		if err != nil {
			return fmt.Errorf("session: ending the old session ID: %w", err)
		}
		if old != nil {
			if err := decodeRecord(old, &base, nil); err != nil || now >= base.deadline() {
				base = record{}
			}
		}
		if base.hasSubject() {
			oldSubject = string(base.subject)
		}
	}

	// 2. Build the new record.
	var rec record
	if login {
		remember := base.flags&flagRemember != 0
		if st.remember != 0 {
			remember = st.remember > 0
		}
		rec = record{flags: flagSubject, created: now, touched: now, authTime: now, subject: []byte(subject)}
		m.applyRemember(&rec, remember)
		if !base.hasSubject() || string(base.subject) == subject {
			rec.entries = base.entries
		}
	} else {
		if base.created == 0 {
			m.cleanupIndex(ctx, oldSubject, oldKey)
			// A parallel request that renewed the ID first has sent the new
			// cookie; deleting the cookie here could overwrite it.
			st.forget(!renewedElsewhere)
			return ErrEnded
		}
		rec = base
		rec.touched = now
		if st.remember != 0 {
			m.applyRemember(&rec, st.remember > 0)
		}
		subject = oldSubject
	}
	rec.entries = applyOps(nil, rec.entries, st.ops)
	enc := appendRecord(make([]byte, 0, encodedLen(&rec)), &rec)
	if len(enc) > m.cfg.MaxSize {
		m.cleanupIndex(ctx, oldSubject, oldKey)
		st.forget(true)
		return fmt.Errorf("%w: %d bytes, over %d", ErrTooLarge, len(enc), m.cfg.MaxSize)
	}
	if now >= rec.deadline() {
		m.cleanupIndex(ctx, oldSubject, oldKey)
		st.forget(true)
		return ErrEnded
	}
	id := newID()
	key := id.key()
	deadline := time.UnixMilli(rec.deadline())

	// 3. Index first, replacing the old ID when the subject is the same, so
	// the index lists the live ID at every moment.
	if subject != "" {
		replace := storeKey("")
		if oldSubject == subject {
			replace = oldKey
		}
		mem := m.member(st.r, key, rec.created, rec.deadline(), st.tag)
		evicted, err := m.indexPut(ctx, subject, mem, replace, !login && !st.tagSet)
		if err != nil {
			m.cleanupIndex(ctx, oldSubject, oldKey)
			st.forget(true)
			return fmt.Errorf("session: recording the session in the index: %w", err)
		}
		m.endEvicted(ctx, st.r, subject, evicted)
	}

	// 4. The record.
	if err := m.store.Set(ctx, string(key), enc, deadline); err != nil {
		if subject != "" {
			_ = m.indexRemove(ctx, subject, key)
		}
		m.cleanupIndex(ctx, oldSubject, oldKey)
		st.forget(true)
		return fmt.Errorf("session: storing the session: %w", err)
	}

	// 5. A revocation that removed the index entry between 3 and 4 did not
	// see the record: honour it.
	if subject != "" {
		ok, err := m.indexHas(ctx, subject, key)
		if err != nil {
			m.logger.LogAttrs(ctx, slog.LevelWarn, "session: cannot re-read the session index after login", slog.Any("error", err))
		} else if !ok {
			_ = m.store.Delete(ctx, string(key))
			m.cleanupIndex(ctx, oldSubject, oldKey)
			st.forget(true)
			return fmt.Errorf("%w: the subject's sessions were revoked during login", ErrEnded)
		}
	}

	// 6. The old ID leaves its subject's index, if the replace did not do it.
	if oldSubject != "" && oldSubject != subject {
		m.cleanupIndex(ctx, oldSubject, oldKey)
	}
	st.adopt(id, key, enc)
	if login {
		m.emitRequest(st.r, authkit.EventLogin, subject, "")
	} else {
		m.emitRequest(st.r, authkit.EventRenew, subject, "")
	}
	return nil
}

// cleanupIndex removes key from subject's index, logging failures: the
// record is already gone, so a stale entry is only cosmetic until it expires.
func (m *Manager) cleanupIndex(ctx context.Context, subject string, key storeKey) {
	if subject == "" || key == "" {
		return
	}
	if err := m.indexRemove(ctx, subject, key); err != nil {
		m.logger.LogAttrs(ctx, slog.LevelWarn, "session: cannot update the session index", slog.Any("error", err))
	}
}

// Logout ends the request's session: its record is deleted from the store
// (every copy of the cookie stops working at once) and from its subject's
// index, and the client is told to drop the cookie. Later [Set] calls in the
// same request start a new anonymous session. After the response started
// the session is still ended server-side; only the cookie is left behind,
// and it is refused as unknown from then on. Without a session it does
// nothing.
func (m *Manager) Logout(ctx context.Context) error {
	st, err := m.stateOf(ctx)
	if err != nil {
		return err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.load()
	if st.loadErr != nil {
		return st.loadErr
	}
	if st.stored {
		wctx := context.WithoutCancel(ctx)
		if err := m.store.Delete(wctx, string(st.key)); err != nil {
			return fmt.Errorf("session: deleting session: %w", err)
		}
		subject := ""
		if st.rec.hasSubject() {
			subject = string(st.rec.subject)
			m.cleanupIndex(wctx, subject, st.key)
		}
		m.emitRequest(st.r, authkit.EventLogout, subject, "")
	}
	st.forget(true)
	return nil
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
	st.mu.Lock()
	defer st.mu.Unlock()
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
// is told to drop the cookie; and another error when the store cannot be
// read.
//
// Behind [Manager.Middleware] it shares the request's session (one store
// read). Without the Middleware it reads the session on its own, applies the
// cross-origin check to unsafe cookie requests (refusing them as invalid
// credentials), but cannot extend the idle deadline: put the Middleware in
// front, or active sessions expire after IdleTimeout.
func (m *Manager) Authenticate(r *http.Request) (*authkit.Identity, error) {
	st := fromContext(r.Context())
	if st == nil || st.m != m {
		st = &state{m: m}
		st.readCredential(r)
		if st.crossOriginRefused(r) {
			return nil, fmt.Errorf("%w: session: cross-origin request", authkit.ErrInvalidCredentials)
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.load()
	if st.loadErr != nil {
		return nil, st.loadErr
	}
	if !st.stored || !st.rec.hasSubject() {
		if st.invalid != "" {
			return nil, fmt.Errorf("%w: session %s", authkit.ErrInvalidCredentials, st.invalid)
		}
		return nil, authkit.ErrNoCredentials
	}
	return &authkit.Identity{
		Subject:  string(st.rec.subject),
		Method:   authkit.MethodSession,
		AuthTime: time.UnixMilli(st.rec.authTime),
		Expires:  time.UnixMilli(st.rec.deadline()),
	}, nil
}
