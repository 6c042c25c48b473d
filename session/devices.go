package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/internal/binrec"
	"github.com/authkit/authkit/internal/cas"
	"github.com/authkit/authkit/internal/index"
	"github.com/authkit/authkit/store"
)

// Per-user index. Each subject has one record under "sidx:" + SHA-256 of
// the subject (internal/index's format), listing the store keys of its
// sessions — never their IDs — with creation time, current deadline, and
// the user agent and client IP last seen. Every update is a
// CompareAndSwap loop that prunes expired members and enforces
// MaxPerSubject, so the record never grows without bound.

// Limits on the device details kept per session.
const (
	maxUserAgentLen = 256
	maxClientIPLen  = 64
	// Member data versions: version 2 adds the tag and is written only for
	// a tagged session, so servers that read only version 1 keep working
	// during a rolling deploy.
	memberV1 = 1
	memberV2 = 2
)

// Info describes one active session of a subject, for a "your devices"
// page.
type Info struct {
	// Handle identifies the session to [Manager.RevokeID]. It is derived
	// from the session's store key, not its ID: showing it to the user, or
	// leaking it, does not let anyone use the session.
	Handle    string
	Created   time.Time // when the session was created (by Login)
	LastSeen  time.Time // when the idle deadline was last extended (within IdleRefresh × idle timeout)
	AuthTime  time.Time // when the subject logged in
	Expires   time.Time // the session's current deadline: idle or absolute, whichever is first
	UserAgent string    // the User-Agent last seen, truncated to 256 bytes
	ClientIP  string    // the client address last seen (see Config.TrustedProxies)
	Tag       string    // the application's label, set with [SetTag]; "" when none
	Remember  bool      // a remember-me session
	Current   bool      // the session of the request whose context was passed
}

// device is what an index member records about its session besides its
// key and deadlines.
type device struct {
	ua, ip string
	tag    string // set by SetTag
}

func appendMemberData(dst []byte, d device) []byte {
	if d.tag == "" {
		dst = append(dst, memberV1)
	} else {
		dst = append(dst, memberV2)
	}
	dst = binrec.AppendString(dst, d.ua)
	dst = binrec.AppendString(dst, d.ip)
	if d.tag != "" {
		dst = binrec.AppendString(dst, d.tag)
	}
	return dst
}

// decodeMemberData parses the device details of an index member.
func decodeMemberData(b []byte) (device, error) {
	if len(b) == 0 || b[0] != memberV1 && b[0] != memberV2 {
		return device{}, errCorrupt
	}
	r := binrec.NewReader(b[1:])
	ua := r.Bytes(maxUserAgentLen)
	ip := r.Bytes(maxClientIPLen)
	var tag []byte
	if b[0] == memberV2 {
		tag = r.Bytes(MaxTagLen)
		if len(tag) == 0 || !validTag(string(tag)) {
			return device{}, errCorrupt
		}
	}
	if r.Err() != nil {
		return device{}, errCorrupt
	}
	return device{ua: string(ua), ip: string(ip), tag: string(tag)}, nil
}

// memberTag returns the tag recorded in an index member, "" if none.
func memberTag(x index.Member) string {
	d, _ := decodeMemberData(x.Data)
	return d.tag
}

func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return strings.ToValidUTF8(s, "")
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s[len(s)-min(len(s), utf8.UTFMax):]) {
		s = s[:len(s)-1]
	}
	return strings.ToValidUTF8(s, "")
}

// device returns the device details of r (which may be nil), untagged.
func (m *Manager) device(r *http.Request) device {
	var d device
	if r != nil {
		d.ua = truncateUTF8(r.UserAgent(), maxUserAgentLen)
		d.ip = m.clientIP(r)
		if len(d.ip) > maxClientIPLen {
			d.ip = ""
		}
	}
	return d
}

// member builds the index member of a session from the request, with tag.
func (m *Manager) member(r *http.Request, key storeKey, created, deadline int64, tag string) index.Member {
	d := m.device(r)
	d.tag = tag
	return index.Member{
		ID:      string(key),
		Created: time.UnixMilli(created),
		Expires: time.UnixMilli(deadline),
		Data:    appendMemberData(nil, d),
	}
}

// indexPut adds mem to subject's index, atomically removing replace; with
// carryTag, mem takes over the tag of the member it replaces.
func (m *Manager) indexPut(ctx context.Context, subject string, mem index.Member, replace storeKey, carryTag bool) ([]index.Member, error) {
	return m.index.Update(ctx, subject, func(ms []index.Member) ([]index.Member, error) {
		mem := mem
		if i := slices.IndexFunc(ms, func(x index.Member) bool { return x.ID == string(replace) }); i >= 0 && carryTag {
			if d, err := decodeMemberData(mem.Data); err == nil {
				d.tag = memberTag(ms[i])
				mem.Data = appendMemberData(nil, d)
			}
		}
		ms = slices.DeleteFunc(ms, func(x index.Member) bool { return x.ID == mem.ID || x.ID == string(replace) })
		return append(ms, mem), nil
	})
}

// indexRemove removes key from subject's index.
func (m *Manager) indexRemove(ctx context.Context, subject string, key storeKey) error {
	return m.index.Remove(ctx, subject, string(key))
}

// indexTouch updates the deadline and device details of st's session in
// its subject's index, only if it is still listed: a touch never re-adds a
// session that a revocation removed.
func (m *Manager) indexTouch(ctx context.Context, st *state) {
	d := m.device(st.r)
	key, deadline := string(st.key), time.UnixMilli(st.rec.deadline())
	_, err := m.index.Update(ctx, string(st.rec.subject), func(ms []index.Member) ([]index.Member, error) {
		i := slices.IndexFunc(ms, func(x index.Member) bool { return x.ID == key })
		if i < 0 {
			return nil, cas.ErrNoChange
		}
		d := d
		d.tag = memberTag(ms[i])
		ms[i].Expires, ms[i].Data = deadline, appendMemberData(nil, d)
		return ms, nil
	})
	if err != nil {
		m.logger.LogAttrs(ctx, slog.LevelWarn, "session: cannot update the session index", slog.Any("error", err))
	}
}

// indexHas reports whether key is a live member of subject's index.
func (m *Manager) indexHas(ctx context.Context, subject string, key storeKey) (bool, error) {
	ms, err := m.index.List(ctx, subject)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(ms, func(x index.Member) bool { return x.ID == string(key) }), nil
}

// endEvicted deletes the sessions the cap pushed out of an index, and
// removes from the index those it could delete; the others stay there,
// marked as ending, for a later update to retry.
func (m *Manager) endEvicted(ctx context.Context, r *http.Request, subject string, evicted []index.Member) {
	var ended []string
	for _, x := range evicted {
		if err := m.store.Delete(ctx, x.ID); err != nil {
			m.logger.LogAttrs(ctx, slog.LevelError, "session: cannot end a session evicted by MaxPerSubject", slog.Any("error", err))
			continue
		}
		ended = append(ended, x.ID)
		m.emitRequest(r, authkit.EventRevoke, subject, authkit.ReasonCap)
	}
	if err := m.index.Finish(ctx, subject, ended...); err != nil {
		m.logger.LogAttrs(ctx, slog.LevelWarn, "session: cannot update the session index", slog.Any("error", err))
	}
}

// Sessions lists subject's active sessions, oldest first. Each entry is
// checked against its session record, so a session that ended is never
// listed. When ctx comes from a request behind the Middleware, the request's
// own session is marked Current.
func (m *Manager) Sessions(ctx context.Context, subject string) ([]Info, error) {
	// Members still Ending are listed while their records are valid: a
	// revocation that failed half-way has not ended them, and listing them
	// lets the user see them and end them with RevokeID.
	members, ending, err := m.index.Get(ctx, subject)
	if err != nil {
		return nil, fmt.Errorf("session: reading the session index: %w", err)
	}
	if len(ending) > 0 {
		members = append(members, ending...)
		slices.SortStableFunc(members, func(a, b index.Member) int { return a.Created.Compare(b.Created) })
	}
	var current storeKey
	if st, _ := m.stateOf(ctx); st != nil {
		st.mu.Lock()
		st.load()
		if st.stored {
			current = st.key
		}
		st.mu.Unlock()
	}
	now := m.nowMS()
	out := make([]Info, 0, len(members))
	for _, x := range members {
		raw, err := m.store.Get(ctx, x.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("session: reading a session: %w", err)
		}
		var rec record
		if decodeRecord(raw, &rec, nil) != nil || now >= rec.deadline() || !rec.hasSubject() || string(rec.subject) != subject {
			continue
		}
		d, _ := decodeMemberData(x.Data)
		out = append(out, Info{
			Handle:    storeKey(x.ID).handle(),
			Created:   time.UnixMilli(rec.created),
			LastSeen:  time.UnixMilli(rec.touched),
			AuthTime:  time.UnixMilli(rec.authTime),
			Expires:   time.UnixMilli(rec.deadline()),
			UserAgent: d.ua,
			ClientIP:  d.ip,
			Tag:       d.tag,
			Remember:  rec.flags&flagRemember != 0,
			Current:   storeKey(x.ID) == current,
		})
	}
	return out, nil
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
func (m *Manager) RevokeID(ctx context.Context, subject, handle string) error {
	if len(handle) != idLen || !validID(handle) {
		return ErrNotFound
	}
	key := storeKey(sessionPrefix + handle)
	ok, err := m.indexHas(ctx, subject, key)
	if err != nil {
		return fmt.Errorf("session: reading the session index: %w", err)
	}
	if !ok {
		return ErrNotFound
	}
	if err := m.store.Delete(ctx, string(key)); err != nil {
		return fmt.Errorf("session: deleting session: %w", err)
	}
	m.cleanupIndex(ctx, subject, key)
	m.forgetIfCurrent(ctx, key)
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
	st.mu.Lock()
	st.load()
	loadErr, stored := st.loadErr, st.stored && st.rec.hasSubject()
	var subject string
	var key storeKey
	if stored {
		subject, key = string(st.rec.subject), st.key
	}
	st.mu.Unlock()
	if loadErr != nil {
		return loadErr
	}
	if !stored {
		return fmt.Errorf("%w: the request's session is not logged in", ErrNotFound)
	}
	return m.revokeAll(ctx, subject, key, authkit.ReasonOthers)
}

// RevokeSubject implements [authkit.Revoker]: it ends every session of
// subject, for password changes and disabled accounts. It removes the
// subject's index entries first, then deletes each session record; see
// [Manager.Login] for a login that races it.
func (m *Manager) RevokeSubject(ctx context.Context, subject string) error {
	return m.revokeAll(ctx, subject, "", authkit.ReasonSubject)
}

func (m *Manager) revokeAll(ctx context.Context, subject string, keep storeKey, reason string) error {
	removed, err := m.index.RemoveAll(ctx, subject, string(keep))
	if err != nil {
		return fmt.Errorf("session: revoking sessions: %w", err)
	}
	var errs []error
	for _, x := range removed {
		if err := m.store.Delete(ctx, x.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		m.forgetIfCurrent(ctx, storeKey(x.ID))
	}
	if len(errs) > 0 {
		return fmt.Errorf("session: revoking sessions: %w", errors.Join(errs...))
	}
	m.emitRequest(requestOf(ctx), authkit.EventRevoke, subject, reason)
	return nil
}

// forgetIfCurrent makes the request of ctx anonymous if its session is key.
func (m *Manager) forgetIfCurrent(ctx context.Context, key storeKey) {
	st, _ := m.stateOf(ctx)
	if st == nil {
		return
	}
	st.mu.Lock()
	if st.stored && st.key == key {
		st.forget(true)
	}
	st.mu.Unlock()
}

// requestOf returns the request of a context from the Middleware, or nil.
func requestOf(ctx context.Context) *http.Request {
	if st := fromContext(ctx); st != nil {
		return st.r
	}
	return nil
}
