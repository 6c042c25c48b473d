package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/internal/cas"
	"github.com/authkit/authkit/internal/index"
)

// Revocations end sessions through their subject's index, the ordering
// point of every issue and revocation (see renew.go): they mark the
// members Ending in one swap of the index, write the revoked marker under
// each member's key until the member's expiry, and remove the members
// whose marker was written. A marker that fails leaves its member Ending:
// the revocation returns an error, and any later update of the index —
// a retried revocation, a Login — hands the member back to be ended.

// takeMembers marks the live members of subject's index for which end reports
// true (all of them with a nil end) Ending, in one swap, and returns every
// Ending member: these and those earlier calls left. When none matches it
// writes nothing.
func (m *Manager) takeMembers(ctx context.Context, subject string, end func(index.Member) bool) ([]index.Member, error) {
	return m.index.UpdateAll(ctx, subject, func(live, ending []index.Member) ([]index.Member, error) {
		n := 0
		for i := range live {
			if end == nil || end(live[i]) {
				live[i].Ending = true
				n++
			}
		}
		if n == 0 {
			return nil, cas.ErrNoChange
		}
		return append(live, ending...), nil
	})
}

// endMembers ends the sessions of members marked Ending in subject's index:
// it writes the revoked marker under each member's key until the member's
// expiry — replacing a live record, or pre-empting one not created yet —
// then removes from the index the members whose marker was written. A
// member whose marker could not be written stays Ending, so the next
// update of the index hands it back and a retried revocation finishes it.
// It returns the members it ended and the errors of those it could not.
func (m *Manager) endMembers(ctx context.Context, subject string, ms []index.Member) ([]index.Member, error) {
	if len(ms) == 0 {
		return nil, nil
	}
	var errs []error
	ended := make([]index.Member, 0, len(ms))
	ids := make([]string, 0, len(ms))
	for _, x := range ms {
		if err := m.store.Set(ctx, x.ID, revokedMarker, x.Expires); err != nil {
			errs = append(errs, err)
			continue
		}
		ended = append(ended, x)
		ids = append(ids, x.ID)
	}
	if err := m.index.Finish(ctx, subject, ids...); err != nil {
		// The records are ended; the members stay Ending until an update
		// finishes them, which only costs a rewrite of the marker.
		errs = append(errs, err)
	}
	return ended, errors.Join(errs...)
}

// endLeftovers ends the Ending members an index update handed back that
// its caller did not mean to end — those a revocation left half-way —
// logging what it could not do: the caller's own operation does not depend
// on it.
func (m *Manager) endLeftovers(ctx context.Context, subject string, ms []index.Member) {
	if _, err := m.endMembers(ctx, subject, ms); err != nil {
		m.logger.LogAttrs(ctx, slog.LevelWarn, "session: cannot end a session being revoked; the next update of the index retries",
			slog.Any("error", err))
	}
}

// endEvicted ends the members a Login's index update handed back — the
// sessions the cap pushed out, and those a revocation left half-way — and
// returns those it ended. A failure is logged and does not fail the Login:
// the member stays Ending (listed by Sessions while its record is valid),
// and the next update of the index ends it.
func (m *Manager) endEvicted(ctx context.Context, subject string, ms []index.Member) []index.Member {
	ended, err := m.endMembers(ctx, subject, ms)
	if err != nil {
		m.logger.LogAttrs(ctx, slog.LevelError, "session: cannot end a session evicted by MaxPerSubject; the next update of the index retries",
			slog.Any("error", err))
	}
	return ended
}

// revoke takes the members of subject's index for which end reports true
// (all with a nil end) and ends them together with those earlier
// revocations left Ending. It returns every member it took or found
// Ending, and those it ended; the request of ctx, if its session was one
// of them, becomes anonymous.
func (m *Manager) revoke(ctx context.Context, subject string, end func(index.Member) bool) (ending, ended []index.Member, err error) {
	ending, err = m.takeMembers(ctx, subject, end)
	if err != nil {
		return nil, nil, fmt.Errorf("session: revoking sessions: %w", err)
	}
	ended, err = m.endMembers(ctx, subject, ending)
	for _, x := range ended {
		m.forgetIfCurrent(ctx, storeKey(x.ID))
	}
	if err != nil {
		return ending, ended, fmt.Errorf("session: revoking sessions: %w", err)
	}
	return ending, ended, nil
}

// Revoke is RevokeID.
//
// Deprecated: use [Manager.RevokeID]; every package names "end one listed
// credential by its ID" RevokeID.
func (m *Manager) Revoke(ctx context.Context, subject, handle string) error {
	return m.RevokeID(ctx, subject, handle)
}

// RevokeID ends one of subject's sessions, named by the Handle from
// [Manager.Sessions]. It returns [ErrNotFound] if the handle does not name a
// session in subject's index, so a user can only end their own sessions.
// On an error other than ErrNotFound, calling it again finishes the job.
func (m *Manager) RevokeID(ctx context.Context, subject, handle string) error {
	if !validID(handle) {
		return ErrNotFound
	}
	key := sessionPrefix + handle
	ending, _, err := m.revoke(ctx, subject, func(x index.Member) bool { return x.ID == key })
	if !slices.ContainsFunc(ending, func(x index.Member) bool { return x.ID == key }) {
		if err != nil {
			return err
		}
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	m.emitRequest(requestOf(ctx), authkit.EventRevoke, subject, authkit.ReasonID)
	return nil
}

// RevokeOthers ends every session of the request's subject except the
// request's own: "log out my other devices". It returns [ErrNotFound] if the
// request's session is not logged in.
func (m *Manager) RevokeOthers(ctx context.Context) error {
	st, err := m.stateOf(ctx)
	if err != nil {
		return err
	}
	st.lock()
	st.load()
	loadErr, stored := st.loadErr, st.stored && st.rec.hasSubject()
	var subject string
	var key storeKey
	if stored {
		subject, key = string(st.rec.subject), st.key
	}
	st.unlock()
	if loadErr != nil {
		return loadErr
	}
	if !stored {
		return fmt.Errorf("%w: the request's session is not logged in", ErrNotFound)
	}
	if _, _, err := m.revoke(ctx, subject, func(x index.Member) bool { return x.ID != string(key) }); err != nil {
		return err
	}
	m.emitRequest(requestOf(ctx), authkit.EventRevoke, subject, authkit.ReasonOthers)
	return nil
}

// RevokeSubject implements [authkit.Revoker]: it ends every session of
// subject, for password changes and disabled accounts. When it returns nil,
// every session the subject had is refused by every server sharing the
// store, and a Login, RenewID or RememberMe racing it either fails or
// yields a session that outlives it only as a login after it would (see
// the package documentation, "Revocation"). When it returns an error,
// calling it again finishes the job.
func (m *Manager) RevokeSubject(ctx context.Context, subject string) error {
	if _, _, err := m.revoke(ctx, subject, nil); err != nil {
		return err
	}
	m.emitRequest(requestOf(ctx), authkit.EventRevoke, subject, authkit.ReasonSubject)
	return nil
}

// forgetIfCurrent makes the request of ctx anonymous if its session is key.
func (m *Manager) forgetIfCurrent(ctx context.Context, key storeKey) {
	st, _ := m.stateOf(ctx)
	if st == nil {
		return
	}
	st.lock()
	if st.stored && st.key == key {
		st.forget(true)
	}
	st.unlock()
}

// requestOf returns the request of a context from the Middleware, or nil.
func requestOf(ctx context.Context) *http.Request {
	if st := fromContext(ctx); st != nil {
		return st.r
	}
	return nil
}
