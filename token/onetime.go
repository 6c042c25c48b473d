package token

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/internal/index"
	"github.com/authkit/authkit/store"
)

// Purposes of one-time tokens. Any 1..MaxPurposeLen printable ASCII string
// will do; a token verifies only for the purpose it was issued for.
const (
	PurposePasswordReset     = "password_reset"
	PurposeEmailVerification = "email_verification"
)

// OneTimeOptions describes a one-time token to issue.
type OneTimeOptions struct {
	// Lifetime is the token's lifetime. Zero means Config.OneTimeLifetime; at most
	// MaxOneTimeLifetime.
	Lifetime time.Duration
	// Deprecated: use Lifetime; read only when Lifetime is zero.
	TTL time.Duration
	// Data is returned by Consume: the email address being verified, say.
	// At most MaxOneTimeData bytes. It is stored in clear: no secrets.
	Data []byte
}

// OneTime is what a consumed one-time token was issued with.
type OneTime struct {
	Subject string
	Purpose string
	Data    []byte
	Created time.Time
	Expires time.Time
}

// IssueOneTime issues a single-use token for subject, bound to purpose, for
// links such as password reset and email verification. Consume redeems it
// once, for that purpose only. The store holds only a SHA-256 of the token
// and purpose. One-time tokens count towards Config.MaxOneTimePerSubject,
// never towards the access tokens' cap, and are revoked by RevokeSubject.
// As Issue, it adds the token to its index before creating its record, so
// a RevokeSubject running meanwhile ends it or makes it fail.
func (m *Manager) IssueOneTime(ctx context.Context, subject, purpose string, opts OneTimeOptions) (Token, error) {
	if !validSubject(subject) {
		return "", fmt.Errorf("%w: subject must be 1..%d bytes of UTF-8", ErrInvalidOptions, MaxSubjectLen)
	}
	if !validPurpose(purpose) {
		return "", fmt.Errorf("%w: purpose must be 1..%d printable ASCII characters", ErrInvalidOptions, MaxPurposeLen)
	}
	if len(opts.Data) > MaxOneTimeData {
		return "", fmt.Errorf("%w: more than %d bytes of data", ErrInvalidOptions, MaxOneTimeData)
	}
	ttl := opts.Lifetime
	if ttl == 0 {
		ttl = opts.TTL
	}
	if ttl == 0 {
		ttl = m.cfg.OneTimeLifetime
	}
	if ttl < 0 || ttl > MaxOneTimeLifetime {
		return "", fmt.Errorf("%w: Lifetime must be in (0, %v]", ErrInvalidOptions, MaxOneTimeLifetime)
	}
	now := m.now()
	rec := &oneTimeRecord{created: now, expires: now.Add(ttl), purpose: purpose, subject: subject}
	if len(opts.Data) > 0 {
		rec.data = append([]byte(nil), opts.Data...)
	}
	t := newToken(m.cfg.OneTimePrefix, "")
	key := oneTimeKey(purpose, t)
	ending, err := m.oneTime.Add(ctx, subject, index.Member{ID: string(key), Created: now, Expires: rec.expires, Data: []byte(purpose)})
	if err != nil {
		return "", fmt.Errorf("token: issue: %w", err)
	}
	if err := m.create(ctx, key, encodeOneTime(rec), rec.expires); err != nil {
		return "", fmt.Errorf("token: issue: %w", err)
	}
	m.cleanup(ctx, m.endIndexed(ctx, &m.oneTime, subject, ending))
	return t, nil
}

// Consume redeems a one-time token for purpose: it returns what the token
// was issued with and ends it atomically (a swap from the record read to a
// revoked marker), so of concurrent attempts exactly one succeeds. A token
// issued for another purpose is unknown here.
//
// Errors: ErrMalformed (no store access), ErrNotFound (unknown, used, or
// for another purpose), ErrExpired — all matching
// authkit.ErrInvalidCredentials — ErrInvalidOptions for an invalid purpose,
// or a store failure.
func (m *Manager) Consume(ctx context.Context, presented Token, purpose string) (OneTime, error) {
	if !validPurpose(purpose) {
		return OneTime{}, fmt.Errorf("%w: purpose must be 1..%d printable ASCII characters", ErrInvalidOptions, MaxPurposeLen)
	}
	if !wellFormed(presented, m.cfg.OneTimePrefix, secretLen) {
		m.emit(ctx, authkit.EventRejected, "", authkit.ReasonMalformed)
		return OneTime{}, ErrMalformed
	}
	key := oneTimeKey(purpose, presented)
	raw, err := m.st.Get(ctx, string(key))
	if errors.Is(err, store.ErrNotFound) {
		m.emit(ctx, authkit.EventRejected, "", authkit.ReasonUnknown)
		return OneTime{}, ErrNotFound
	}
	if err != nil {
		return OneTime{}, fmt.Errorf("token: consume: %w", err)
	}
	if isMarker(raw) {
		m.emit(ctx, authkit.EventRejected, "", authkit.ReasonUnknown)
		return OneTime{}, ErrNotFound
	}
	rec, err := decodeOneTime(raw)
	if err != nil {
		return OneTime{}, err
	}
	if rec.purpose != purpose { // the key binds the purpose; this is a second check
		return OneTime{}, ErrNotFound
	}
	// Swap only the value read: of concurrent consumers, one wins.
	ok, err := m.st.CompareAndSwap(ctx, string(key), raw, revokedMarker, rec.expires)
	if err != nil {
		return OneTime{}, fmt.Errorf("token: consume: %w", err)
	}
	if !ok {
		m.emit(ctx, authkit.EventRejected, rec.subject, authkit.ReasonUnknown)
		return OneTime{}, ErrNotFound
	}
	m.cleanup(ctx, m.oneTime.Finish(ctx, rec.subject, string(key)))
	if !m.now().Before(rec.expires) {
		m.emit(ctx, authkit.EventRejected, rec.subject, authkit.ReasonExpired)
		return OneTime{}, ErrExpired
	}
	return OneTime{Subject: rec.subject, Purpose: rec.purpose, Data: rec.data, Created: rec.created, Expires: rec.expires}, nil
}

// RevokeOneTime ends subject's unused one-time tokens for purpose: after a
// password reset, the other reset links sent to the same person. As
// RevokeSubject, it takes them from the index in one swap, then writes a
// revoked marker under each; one it could not end stays in the index,
// marked as being revoked, and calling it again finishes the job.
func (m *Manager) RevokeOneTime(ctx context.Context, subject, purpose string) error {
	if !validSubject(subject) || !validPurpose(purpose) {
		return fmt.Errorf("%w: invalid subject or purpose", ErrInvalidOptions)
	}
	match := func(mb index.Member) bool {
		return strings.HasPrefix(mb.ID, oneTimeNS) && string(mb.Data) == purpose
	}
	ending, err := m.oneTime.Take(ctx, subject, match)
	if err != nil {
		return fmt.Errorf("token: revoke: %w", err)
	}
	err = m.endIndexed(ctx, &m.oneTime, subject, ending)
	// One-time tokens issued before they had an index of their own are
	// listed with the access tokens (for at most MaxOneTimeLifetime after
	// an upgrade): end those too. Taking from that index only when it
	// holds one keeps it untouched otherwise.
	legacy, _, lerr := m.tokens.Get(ctx, subject)
	if lerr == nil && slices.ContainsFunc(legacy, match) {
		var ending []index.Member
		if ending, lerr = m.tokens.Take(ctx, subject, match); lerr == nil {
			lerr = m.endIndexed(ctx, &m.tokens, subject, ending)
		}
	}
	if err := errors.Join(err, lerr); err != nil {
		return fmt.Errorf("token: revoke: %w", err)
	}
	if len(ending) > 0 {
		m.emit(ctx, authkit.EventRevoke, subject, authkit.ReasonOneTime)
	}
	return nil
}
