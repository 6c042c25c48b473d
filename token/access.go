package token

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/internal/index"
	"github.com/authkit/authkit/store"
)

// IssueOptions describes an access token to issue. The zero value is a token
// with no client, no scopes and the Manager's AccessLifetime.
type IssueOptions struct {
	// ClientID is the OAuth client the token is issued to, if any. The
	// revocation endpoint lets only this client revoke the token.
	ClientID string
	// Scopes are what the token allows, each an RFC 6749 scope-token.
	Scopes []string
	// Lifetime is the token's lifetime. Zero means Config.AccessLifetime. Long-lived
	// personal access tokens are fine; keep them revocable with List and
	// RevokeID.
	Lifetime time.Duration
	// Deprecated: use Lifetime; read only when Lifetime is zero.
	TTL time.Duration
	// Metadata is free-form data kept with the token and returned by
	// Verify (a token name, a device). It must not hold secrets.
	Metadata map[string]string
	// AuthTime is when the subject last proved who they are. Zero means now.
	AuthTime time.Time
}

// Info describes an access token. It never holds the token itself.
type Info struct {
	// ID identifies the token for List and RevokeID: the base64url SHA-256
	// of the token, 43 characters. It is not a secret and cannot be turned
	// back into the token.
	ID       string
	Subject  string
	ClientID string
	// FamilyID is the refresh family the token was issued from ("" for a
	// token from Issue); revoking the family ends the token.
	FamilyID string
	Scopes   []string
	Metadata map[string]string
	AuthTime time.Time
	Created  time.Time
	Expires  time.Time
	// LastUsed is when Verify last recorded a use (see
	// Config.LastUseInterval); zero when never recorded.
	LastUsed time.Time
}

func (r *accessRecord) info(key storeKey) Info {
	return Info{
		ID: key.id(), Subject: r.subject, ClientID: r.clientID, FamilyID: r.familyID,
		Scopes: r.scopes, Metadata: r.metadata,
		AuthTime: r.authTime, Created: r.created, Expires: r.expires, LastUsed: r.lastUsed,
	}
}

// Issue issues an access token for subject. The token is returned once; the
// store keeps only its SHA-256. Issuing past Config.MaxPerSubject for the
// subject revokes their oldest tokens. It reports EventLogin (reason
// "access_token"), as IssueRefresh and IssuePair do (reason
// "refresh_family"): issuing a credential is a sign-in.
//
// The token is added to the subject's index before its record is created,
// and the record is created only if its key is absent: a RevokeSubject
// running meanwhile either ends the token or makes Issue fail, and nothing
// is handed out. It costs three store round trips.
func (m *Manager) Issue(ctx context.Context, subject string, opts IssueOptions) (Token, Info, error) {
	if err := checkCommon(subject, opts.ClientID, opts.Scopes, opts.Metadata); err != nil {
		return "", Info{}, err
	}
	ttl := opts.Lifetime
	if ttl == 0 {
		ttl = opts.TTL
	}
	if ttl < 0 {
		return "", Info{}, fmt.Errorf("%w: negative Lifetime", ErrInvalidOptions)
	}
	if ttl == 0 {
		ttl = m.cfg.AccessLifetime
	}
	now := m.now()
	rec := &accessRecord{
		created: now, expires: now.Add(ttl), authTime: opts.AuthTime,
		subject: subject, clientID: opts.ClientID,
		scopes: cloneScopes(opts.Scopes), metadata: cloneMeta(opts.Metadata),
	}
	if rec.authTime.IsZero() {
		rec.authTime = now
	}
	t := newToken(m.cfg.AccessPrefix, "")
	key := accessKey(t)
	ending, err := m.tokens.Add(ctx, subject, index.Member{ID: string(key), Created: now, Expires: rec.expires})
	if err != nil {
		return "", Info{}, fmt.Errorf("token: issue: %w", err)
	}
	if err := m.create(ctx, key, encodeAccess(rec), rec.expires); err != nil {
		// The index keeps the member, so that a revocation still finds a
		// record whose creation took effect unreported.
		return "", Info{}, fmt.Errorf("token: issue: %w", err)
	}
	m.cleanup(ctx, m.endIndexed(ctx, &m.tokens, subject, ending))
	m.emit(ctx, authkit.EventLogin, subject, authkit.ReasonAccessToken)
	return t, rec.info(key), nil
}

// Verify checks an access token and returns what it grants. A token that is
// not a well-formed access token of this Manager is ErrMalformed without a
// store lookup; otherwise verification is one store read (plus, when
// Config.LastUseInterval is set, a write at most once per interval).
//
// Errors: ErrMalformed, ErrNotFound (unknown or revoked), ErrExpired — all
// matching authkit.ErrInvalidCredentials — or a store failure.
func (m *Manager) Verify(ctx context.Context, presented Token) (Info, error) {
	if !wellFormed(presented, m.cfg.AccessPrefix, secretLen) {
		return Info{}, ErrMalformed
	}
	key := accessKey(presented)
	raw, err := m.st.Get(ctx, string(key))
	if errors.Is(err, store.ErrNotFound) {
		return Info{}, ErrNotFound
	}
	if err != nil {
		return Info{}, fmt.Errorf("token: verify: %w", err)
	}
	if isMarker(raw) {
		return Info{}, ErrNotFound
	}
	rec, err := decodeAccess(raw)
	if err != nil {
		return Info{}, err
	}
	now := m.now()
	if !now.Before(rec.expires) {
		return Info{}, ErrExpired
	}
	if iv := m.cfg.LastUseInterval; iv > 0 && now.Sub(rec.lastUsed) >= iv {
		rec.lastUsed = now
		// CompareAndSwap, not Set: a token revoked since the read must not
		// come back. Losing the race only loses this timestamp.
		if _, err := m.st.CompareAndSwap(ctx, string(key), raw, encodeAccess(rec), rec.expires); err != nil {
			m.cleanup(ctx, err)
		}
	}
	return rec.info(key), nil
}

// Authenticate implements [authkit.Authenticator]. It reads the bearer token
// with [authkit.BearerToken]; a token without this Manager's access prefix
// (a JWT, say) is authkit.ErrNoCredentials so the next Authenticator gets
// it. A refresh or one-time token sent as a bearer token is refused. The
// Identity has Method "token", the token's scopes, its expiry, and Claims
// "token_id", plus "client_id", "family_id" and "metadata" when set.
func (m *Manager) Authenticate(r *http.Request) (*authkit.Identity, error) {
	s, err := authkit.BearerToken(r)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	if !strings.HasPrefix(s, m.cfg.AccessPrefix) {
		if strings.HasPrefix(s, m.cfg.RefreshPrefix) || strings.HasPrefix(s, m.cfg.OneTimePrefix) {
			m.emit(ctx, authkit.EventRejected, "", authkit.ReasonWrongKind)
			return nil, ErrMalformed
		}
		return nil, authkit.ErrNoCredentials
	}
	info, err := m.Verify(ctx, Token(s))
	if err != nil {
		if errors.Is(err, authkit.ErrInvalidCredentials) {
			m.emit(ctx, authkit.EventRejected, "", reason(err))
		}
		return nil, err
	}
	claims := map[string]any{"token_id": info.ID}
	if info.ClientID != "" {
		claims["client_id"] = info.ClientID
	}
	if info.FamilyID != "" {
		claims["family_id"] = info.FamilyID
	}
	if info.Metadata != nil {
		claims["metadata"] = info.Metadata
	}
	return &authkit.Identity{
		Subject: info.Subject, Method: authkit.MethodToken, Scopes: info.Scopes,
		AuthTime: info.AuthTime, Expires: info.Expires, Claims: claims,
	}, nil
}

// Revoke is RevokeToken.
//
// Deprecated: use [Manager.RevokeToken]; every package names "end the
// credential presented" RevokeToken.
func (m *Manager) Revoke(ctx context.Context, presented Token) error {
	return m.RevokeToken(ctx, presented)
}

// RevokeToken ends the token presented by its holder: an access token is
// revoked; a refresh token revokes its whole family and the access tokens
// issued from it. Revoking a token that is unknown, expired or already
// revoked is not an error. A one-time token cannot be revoked this way (its
// record is bound to its purpose): use RevokeOneTime or RevokeSubject.
func (m *Manager) RevokeToken(ctx context.Context, presented Token) error {
	switch m.KindOf(presented) {
	case KindAccess:
		_, err := m.revokeAccess(ctx, accessKey(presented), func(*accessRecord) bool { return true })
		return err
	case KindRefresh:
		return m.revokeByRefresh(ctx, presented, nil, "token")
	}
	return ErrMalformed
}

// RevokeID revokes the access token with the given ID (from Info.ID or
// List) if it belongs to subject; otherwise, or if there is no such token,
// it returns ErrNotFound. Use it for "manage your tokens" pages.
func (m *Manager) RevokeID(ctx context.Context, subject, id string) error {
	if !validID(id) {
		return ErrNotFound
	}
	ok, err := m.revokeAccess(ctx, storeKey(accessNS+id), func(r *accessRecord) bool { return r.subject == subject })
	if err == nil && !ok {
		err = ErrNotFound
	}
	return err
}

// revokeAccess revokes the access token under key if allow approves its
// record, and reports whether it did. The token's record is replaced by a
// revoked marker until its expiry; a token from Issue then leaves its
// subject's index (if that fails, the index keeps a member whose record is
// a marker, which lapses with it).
func (m *Manager) revokeAccess(ctx context.Context, key storeKey, allow func(*accessRecord) bool) (bool, error) {
	raw, err := m.st.Get(ctx, string(key))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("token: revoke: %w", err)
	}
	if isMarker(raw) {
		return false, nil
	}
	rec, err := decodeAccess(raw)
	if err != nil {
		return false, err
	}
	if !allow(rec) {
		return false, nil
	}
	if err := m.st.Set(ctx, string(key), revokedMarker, rec.expires); err != nil {
		return false, fmt.Errorf("token: revoke: %w", err)
	}
	if rec.familyID == "" {
		m.cleanup(ctx, m.tokens.Finish(ctx, rec.subject, string(key)))
	}
	m.emit(ctx, authkit.EventRevoke, rec.subject, authkit.ReasonToken)
	return true, nil
}

// List returns subject's live access tokens from Issue, oldest first (those
// issued with refresh tokens are listed per family by Families). It reads
// one record per token, at most Config.MaxPerSubject.
func (m *Manager) List(ctx context.Context, subject string) ([]Info, error) {
	members, err := m.tokens.List(ctx, subject)
	if err != nil {
		return nil, fmt.Errorf("token: list: %w", err)
	}
	now := m.now()
	var out []Info
	for _, mb := range members {
		if !strings.HasPrefix(mb.ID, accessNS) {
			continue
		}
		raw, err := m.st.Get(ctx, mb.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("token: list: %w", err)
		}
		if isMarker(raw) {
			continue
		}
		rec, err := decodeAccess(raw)
		if err != nil {
			return nil, err
		}
		if rec.subject != subject || !now.Before(rec.expires) {
			continue
		}
		out = append(out, rec.info(storeKey(mb.ID)))
	}
	slices.SortStableFunc(out, func(a, b Info) int { return a.Created.Compare(b.Created) })
	return out, nil
}
