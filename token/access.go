package token

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	// token from Issue); revoking the family deletes the token.
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
	if err := m.st.Set(ctx, string(key), encodeAccess(rec), rec.expires); err != nil {
		return "", Info{}, fmt.Errorf("token: issue: %w", err)
	}
	evicted, err := m.tokens.Add(ctx, subject, index.Member{ID: string(key), Created: now, Expires: rec.expires})
	if err != nil {
		m.cleanup(ctx, m.st.Delete(ctx, string(key)))
		return "", Info{}, fmt.Errorf("token: issue: %w", err)
	}
	m.dropTokens(ctx, subject, evicted)
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
// deleted; a refresh token revokes its whole family and the access tokens
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

// revokeAccess deletes the access token under key if allow approves its
// record, and reports whether it did.
func (m *Manager) revokeAccess(ctx context.Context, key storeKey, allow func(*accessRecord) bool) (bool, error) {
	raw, err := m.st.Get(ctx, string(key))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("token: revoke: %w", err)
	}
	rec, err := decodeAccess(raw)
	if err != nil {
		return false, err
	}
	if !allow(rec) {
		return false, nil
	}
	if err := m.st.Delete(ctx, string(key)); err != nil {
		return false, fmt.Errorf("token: revoke: %w", err)
	}
	if rec.familyID == "" {
		m.cleanup(ctx, m.tokens.Remove(ctx, rec.subject, string(key)))
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

// RevokeSubject implements [authkit.Revoker]: it ends every token issued to
// subject — access tokens, one-time tokens, and refresh families with the
// access tokens issued from them. Call it on logout-everywhere, password
// change and account disable. It carries on past failures and returns them
// joined. Tokens issued while it runs may survive it, so disable the
// account's logins first.
func (m *Manager) RevokeSubject(ctx context.Context, subject string) error {
	if !validSubject(subject) {
		return fmt.Errorf("%w: subject must be 1..%d bytes of UTF-8", ErrInvalidOptions, MaxSubjectLen)
	}
	var errs []error
	members, err := m.tokens.List(ctx, subject)
	if err != nil {
		errs = append(errs, err)
	}
	var done []string
	for _, mb := range members {
		if err := m.st.Delete(ctx, mb.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		done = append(done, mb.ID)
	}
	if len(done) > 0 {
		if err := m.tokens.Remove(ctx, subject, done...); err != nil {
			errs = append(errs, err)
		}
	}
	fams, err := m.families.List(ctx, subject)
	if err != nil {
		errs = append(errs, err)
	}
	done = done[:0]
	for _, mb := range fams {
		if _, err := m.revokeFamily(ctx, storeKey(mb.ID), nil, false); err != nil {
			errs = append(errs, err)
			continue
		}
		done = append(done, mb.ID)
	}
	if len(done) > 0 {
		if err := m.families.Remove(ctx, subject, done...); err != nil {
			errs = append(errs, err)
		}
	}
	m.emit(ctx, authkit.EventRevoke, subject, authkit.ReasonSubject)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("token: revoke subject: %w", err)
	}
	return nil
}

// dropTokens deletes the access and one-time tokens an index evicted.
// Those it deleted leave the index; the others stay there, marked as
// ending, for a later update to retry.
func (m *Manager) dropTokens(ctx context.Context, subject string, evicted []index.Member) {
	var ended []string
	for _, mb := range evicted {
		if strings.HasPrefix(mb.ID, accessNS) || strings.HasPrefix(mb.ID, oneTimeNS) {
			if err := m.st.Delete(ctx, mb.ID); err != nil {
				m.cleanup(ctx, err)
				continue
			}
		}
		ended = append(ended, mb.ID)
	}
	m.cleanup(ctx, m.tokens.Finish(ctx, subject, ended...))
}

// cleanup logs the failure of a best-effort write.
func (m *Manager) cleanup(ctx context.Context, err error) {
	if err != nil {
		m.log.LogAttrs(ctx, slog.LevelWarn, "token: best-effort store write failed", slog.Any("error", err))
	}
}
