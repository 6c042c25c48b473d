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

	"github.com/authkit/authkit/internal/binrec"
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

// memberExpiry is the Expires of a session's index member: the latest
// moment its record can be valid without a further extension — every
// extension extends the member first. For a remember-me session it is the
// absolute deadline, since a parallel request may extend the record's idle
// deadline by the remember-me idle timeout from its own last touch.
func memberExpiry(rec *record) int64 {
	if rec.flags&flagRemember != 0 {
		return rec.absolute
	}
	return rec.deadline()
}

// errNotListed means a session is not a live member of its subject's
// index: a revocation is ending it (or an earlier version let its entry
// lapse), so it must not be extended or renewed.
var errNotListed = errors.New("session: the session is no longer listed in its subject's index")

// refreshMember extends key's member in subject's index to at least
// expires (Unix ms) and records the device details of r, keeping the
// member's tag, only while it is live; otherwise it fails with
// errNotListed. Members left Ending by a failed revocation are ended on
// the way.
func (m *Manager) refreshMember(ctx context.Context, r *http.Request, subject string, key storeKey, expires int64) error {
	d := m.device(r)
	ending, err := m.index.Update(ctx, subject, func(ms []index.Member) ([]index.Member, error) {
		i := slices.IndexFunc(ms, func(x index.Member) bool { return x.ID == string(key) })
		if i < 0 {
			return nil, errNotListed
		}
		d := d
		d.tag = memberTag(ms[i])
		if e := time.UnixMilli(expires); e.After(ms[i].Expires) {
			ms[i].Expires = e
		}
		ms[i].Data = appendMemberData(nil, d)
		return ms, nil
	})
	m.endLeftovers(ctx, subject, ending)
	return err
}

// cleanupIndex removes key from subject's index, logging failures: the
// session is already ended, so a stale entry is only cosmetic until it
// expires.
func (m *Manager) cleanupIndex(ctx context.Context, subject string, key storeKey) {
	if subject == "" || key == "" {
		return
	}
	if err := m.index.Finish(ctx, subject, string(key)); err != nil {
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
		st.lock()
		st.load()
		if st.stored {
			current = st.key
		}
		st.unlock()
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
		if decodeHeader(raw, &rec) != nil || now >= rec.deadline() || !rec.hasSubject() || string(rec.subject) != subject {
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
