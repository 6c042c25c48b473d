package session

import (
	"context"
	"fmt"
	"slices"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/internal/cas"
	"github.com/authkit/authkit/internal/index"
)

// MaxTagLen is the longest tag accepted by [SetTag], in bytes.
const MaxTagLen = 128

// ReasonTag is the [authkit.Event] Reason of the EventRevoke that
// [Manager.RevokeTagged] reports.
const ReasonTag = "tag"

// validTag reports whether tag is 1..MaxTagLen bytes of printable ASCII
// (space included).
func validTag(tag string) bool {
	if len(tag) == 0 || len(tag) > MaxTagLen {
		return false
	}
	for i := 0; i < len(tag); i++ {
		if tag[i] < 0x20 || tag[i] > 0x7e {
			return false
		}
	}
	return true
}

// SetTag labels the request's session with tag, an application's own
// identifier of how or where the session was established — for example the
// session ID an OpenID provider reported at login, so that a back-channel
// logout naming it can end this session with [Manager.RevokeTagged]. The tag
// is kept with the session's entry in its subject's index (not in the
// session record, and never in the cookie): [Manager.Sessions] shows it in
// [Info].Tag, it survives [Manager.RenewID], and an empty tag removes it.
//
// On a logged-in session the index is updated at once. On a request whose
// session is not logged in yet, the tag is kept for a [Manager.Login] later
// in the same request, which records it with the new session; without one,
// it has no effect. A Login always starts untagged unless SetTag was called
// in its request, before or after it.
//
// A tag is at most [MaxTagLen] bytes of printable ASCII ([ErrInvalidKey]
// otherwise). It is not secret: do not put credentials in it. SetTag fails
// with [ErrEnded] if the session was revoked meanwhile, and with the
// store's error.
func SetTag(ctx context.Context, tag string) error {
	st := fromContext(ctx)
	if st == nil {
		return ErrNoMiddleware
	}
	if tag != "" && !validTag(tag) {
		return fmt.Errorf("%w: a tag must be 1..%d bytes of printable ASCII", ErrInvalidKey, MaxTagLen)
	}
	st.lock()
	defer st.unlock()
	st.load()
	if st.loadErr != nil {
		return st.loadErr
	}
	st.tag, st.tagSet = tag, true
	if !st.stored || !st.rec.hasSubject() {
		return nil
	}
	m, key := st.m, string(st.key)
	ctx = context.WithoutCancel(ctx)
	ending, err := m.index.Update(ctx, string(st.rec.subject), func(ms []index.Member) ([]index.Member, error) {
		i := slices.IndexFunc(ms, func(x index.Member) bool { return x.ID == key })
		if i < 0 {
			return nil, ErrEnded
		}
		d, _ := decodeMemberData(ms[i].Data)
		if d.tag == tag {
			return nil, cas.ErrNoChange
		}
		d.tag = tag
		ms[i].Data = appendMemberData(nil, d)
		return ms, nil
	})
	m.endLeftovers(ctx, string(st.rec.subject), ending)
	if err != nil {
		return fmt.Errorf("session: recording the tag: %w", err)
	}
	return nil
}

// RevokeTagged ends every session of subject labelled with tag by [SetTag]
// — for example every session established through one OpenID provider
// login, on its back-channel logout — and reports how many it ended. It
// works as [Manager.RevokeSubject] does, restricted to the tagged sessions,
// with the same guarantees: on nil every such session is refused from then
// on; on an error, calling it again finishes the job.
func (m *Manager) RevokeTagged(ctx context.Context, subject, tag string) (int, error) {
	if !validTag(tag) {
		return 0, fmt.Errorf("%w: a tag must be 1..%d bytes of printable ASCII", ErrInvalidKey, MaxTagLen)
	}
	_, ended, err := m.revoke(ctx, subject, func(x index.Member) bool { return memberTag(x) == tag })
	n := 0
	for _, x := range ended {
		if memberTag(x) == tag {
			n++
		}
	}
	if err != nil {
		return n, err
	}
	if n > 0 {
		m.emitRequest(requestOf(ctx), authkit.EventRevoke, subject, ReasonTag)
	}
	return n, nil
}
