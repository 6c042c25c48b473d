package token

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/internal/index"
	"github.com/authkit/authkit/internal/secret"
	"github.com/authkit/authkit/store"
)

// FamilyOptions describes a refresh family to start.
type FamilyOptions struct {
	// ClientID is the OAuth client the family is issued to, if any. When
	// set, Refresh refuses the family's tokens from another authenticated
	// client, and only this client may revoke them at the revocation
	// endpoint.
	ClientID string
	// Scopes are what the family's access credentials allow, each an
	// RFC 6749 scope-token.
	Scopes []string
	// Metadata is free-form data kept with the family (a device name). It
	// must not hold secrets.
	Metadata map[string]string
	// AuthTime is when the subject proved who they are. Zero means now.
	AuthTime time.Time
}

// FamilyInfo describes a refresh family: the chain of refresh tokens that
// descend, one rotation at a time, from one sign-in.
type FamilyInfo struct {
	// ID identifies the family, stable across rotations: 43 base64url
	// characters (the SHA-256 of a secret part of its tokens). It is not a
	// secret: put it in access JWTs to tie them to the family, check the
	// family with Family, revoke it with RevokeFamily.
	ID       string
	Subject  string
	ClientID string
	Scopes   []string
	Metadata map[string]string
	// AuthTime is when the subject proved who they are to start the family.
	AuthTime time.Time
	// Created is when the family started; Expires = Created +
	// Config.RefreshLifetime is its absolute end.
	Created time.Time
	Expires time.Time
	// Rotated is the last rotation (Created before any); IdleExpires =
	// Rotated + Config.RefreshIdleTimeout, capped at Expires.
	Rotated     time.Time
	IdleExpires time.Time
	// Generation counts the rotations so far.
	Generation uint64
	// Revoked is set on a revoked family, as reported by Family.
	Revoked bool
}

func (f *familyRecord) info(key storeKey) FamilyInfo {
	return FamilyInfo{
		ID: key.id(), Subject: f.subject, ClientID: f.clientID, Scopes: f.scopes, Metadata: f.metadata,
		AuthTime: f.authTime, Created: f.created, Expires: f.expires,
		Rotated: f.rotated, IdleExpires: f.idleExpires, Generation: f.gen, Revoked: f.revoked,
	}
}

// IssueRefresh starts a refresh family for subject and returns its first
// refresh token. Issuing past Config.MaxFamilies for the subject revokes
// their oldest family. Use it with an access credential of your own (a JWT
// carrying FamilyInfo.ID, say); IssuePair issues an opaque access token with
// it.
//
// The family is added to the subject's index before its record is created,
// and the record is created only if its key is absent: a RevokeSubject
// running meanwhile either ends the family or makes IssueRefresh fail, and
// nothing is handed out. It costs three store round trips.
func (m *Manager) IssueRefresh(ctx context.Context, subject string, opts FamilyOptions) (Token, FamilyInfo, error) {
	rt, fam, _, _, err := m.startFamily(ctx, subject, opts, false)
	return rt, fam, err
}

// IssuePair starts a refresh family for subject and returns its first
// refresh token with an opaque access token issued from it (lifetime
// Config.AccessLifetime). Revoking the family ends the access token. It
// costs four store round trips.
func (m *Manager) IssuePair(ctx context.Context, subject string, opts FamilyOptions) (Pair, error) {
	rt, fam, at, info, err := m.startFamily(ctx, subject, opts, true)
	if err != nil {
		return Pair{}, err
	}
	return Pair{Access: at, Refresh: rt, AccessInfo: info, Family: fam}, nil
}

func (m *Manager) startFamily(ctx context.Context, subject string, opts FamilyOptions, withAccess bool) (Token, FamilyInfo, Token, Info, error) {
	if err := checkCommon(subject, opts.ClientID, opts.Scopes, opts.Metadata); err != nil {
		return "", FamilyInfo{}, "", Info{}, err
	}
	now := m.now()
	loc := secret.Base62(locatorLen)
	key := familyKey(loc)
	rt := newToken(m.cfg.RefreshPrefix, loc)
	f := &familyRecord{
		created: now, authTime: opts.AuthTime, rotated: now,
		expires: now.Add(m.cfg.RefreshLifetime),
		subject: subject, clientID: opts.ClientID,
		scopes: cloneScopes(opts.Scopes), metadata: cloneMeta(opts.Metadata),
		cur: sha256.Sum256([]byte(rt)),
	}
	if f.authTime.IsZero() {
		f.authTime = now
	}
	f.idleExpires = minTime(now.Add(m.cfg.RefreshIdleTimeout), f.expires)
	var (
		at    Token
		atRec *accessRecord
	)
	if withAccess {
		// The family record lists its access tokens: it is their index,
		// so it is created before the access token's record.
		at = newToken(m.cfg.AccessPrefix, "")
		atRec = m.familyAccess(key, f, now)
		f.access = []accessRef{{hash: sha256.Sum256([]byte(at)), expires: atRec.expires}}
	}
	ending, err := m.families.Add(ctx, subject, index.Member{ID: string(key), Created: now, Expires: f.expires})
	if err != nil {
		return "", FamilyInfo{}, "", Info{}, fmt.Errorf("token: issue: %w", err)
	}
	err = m.create(ctx, key, encodeFamily(f), f.storeExpiry())
	if err == nil && withAccess {
		err = m.create(ctx, accessKey(at), encodeAccess(atRec), atRec.expires)
	}
	if err != nil {
		err = fmt.Errorf("token: issue: %w", err)
		// The family may exist, held by no one; end it so that it is not
		// listed as a signed-in device. The index keeps it until then.
		_, _, rerr := m.revokeFamily(ctx, key, nil, f.expires)
		m.familyDone(ctx, subject, key, rerr)
		return "", FamilyInfo{}, "", Info{}, err
	}
	m.cleanup(ctx, m.endFamilies(ctx, subject, ending))
	m.emit(ctx, authkit.EventLogin, subject, authkit.ReasonRefreshFamily)
	var atInfo Info
	if withAccess {
		atInfo = atRec.info(accessKey(at))
	}
	return rt, f.info(key), at, atInfo, nil
}

// errIssueRevoked is the cause of an issue that found a revoked marker
// where it was about to create its record.
var errIssueRevoked = errors.New("revoked while being issued")

// create stores a new record under key, only if the key is absent. A
// revoked marker there means the credential was revoked before it could
// be created (errIssueRevoked): it is never created, and the caller hands
// nothing out. After any other error the record may exist.
func (m *Manager) create(ctx context.Context, key storeKey, rec []byte, expires time.Time) error {
	ok, err := m.st.CompareAndSwap(ctx, string(key), nil, rec, expires)
	if err != nil {
		return err
	}
	if !ok {
		// A family locator has 131 random bits and an access token 190, so
		// this is a marker, never a collision.
		return errIssueRevoked
	}
	return nil
}

// familyAccess returns the record of an access token issued now from
// family f (under key). It lives Config.AccessLifetime, never past the
// family's deadlines, so it never outlives the family record that tracks
// it.
func (m *Manager) familyAccess(key storeKey, f *familyRecord, now time.Time) *accessRecord {
	return &accessRecord{
		created: now, expires: minTime(now.Add(m.cfg.AccessLifetime), f.storeExpiry()), authTime: f.authTime,
		subject: f.subject, clientID: f.clientID, familyID: key.id(),
		scopes: f.scopes,
	}
}

// Family returns the family with the given ID. A revoked family is returned
// with ErrRevoked, one past its idle or absolute lifetime with ErrExpired; an
// unknown ID is ErrNotFound. A JWT verifier can call it to check that the
// family a JWT was issued from is still alive.
func (m *Manager) Family(ctx context.Context, id string) (FamilyInfo, error) {
	if !validID(id) {
		return FamilyInfo{}, ErrNotFound
	}
	key := storeKey(familyNS + id)
	raw, err := m.st.Get(ctx, string(key))
	if errors.Is(err, store.ErrNotFound) {
		return FamilyInfo{}, ErrNotFound
	}
	if err != nil {
		return FamilyInfo{}, fmt.Errorf("token: family: %w", err)
	}
	if isMarker(raw) { // revoked while being created
		return FamilyInfo{ID: id, Revoked: true}, ErrRevoked
	}
	f, err := decodeFamily(raw)
	if err != nil {
		return FamilyInfo{}, err
	}
	info := f.info(key)
	now := m.now()
	switch {
	case f.revoked:
		return info, ErrRevoked
	case !now.Before(f.expires) || !now.Before(f.idleExpires):
		return info, ErrExpired
	}
	return info, nil
}

// Families returns subject's live refresh families (their signed-in
// devices), oldest first. It reads one record per family, at most
// Config.MaxFamilies.
func (m *Manager) Families(ctx context.Context, subject string) ([]FamilyInfo, error) {
	members, err := m.families.List(ctx, subject)
	if err != nil {
		return nil, fmt.Errorf("token: families: %w", err)
	}
	var out []FamilyInfo
	for _, mb := range members {
		key := storeKey(mb.ID)
		info, err := m.Family(ctx, key.id())
		if err != nil {
			if errors.Is(err, authkit.ErrInvalidCredentials) {
				continue
			}
			return nil, err
		}
		if info.Subject == subject {
			out = append(out, info)
		}
	}
	slices.SortStableFunc(out, func(a, b FamilyInfo) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// loadFamily decodes the family record cur, as read under a family key: an
// absent record is ErrNotFound, a revoked marker ErrRevoked.
func loadFamily(cur []byte) (*familyRecord, error) {
	switch {
	case cur == nil:
		return nil, ErrNotFound
	case isMarker(cur):
		return nil, ErrRevoked
	}
	return decodeFamily(cur)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
