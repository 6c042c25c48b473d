package oidc

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/oauth2"

	"github.com/authkit/authkit/internal/keyhash"
	"github.com/authkit/authkit/internal/secret"
	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store"
)

// SessionKey is the session data key (see [session.Get]) under which a
// RelyingParty records which provider signed the session in and where its
// grant record is. Applications must leave it alone.
const SessionKey = "oidc"

// link is the session's pointer to its grant record.
type link struct {
	P string `json:"p"` // provider name
	G string `json:"g"` // grant ID: random, the store key is its hash
}

// grantIDLen is the length of a grant ID in base62 characters (160 bits).
const grantIDLen = 27

// grant is the server-side record of one sign-in: the ID token (for
// id_token_hint at logout), the provider session, and the provider's
// tokens when Config.KeepTokens is set. It is stored encrypted.
type grant struct {
	V        int    `json:"v"`
	Provider string `json:"p"`
	Issuer   string `json:"i"`
	Subject  string `json:"s"`           // the provider's sub
	SID      string `json:"d,omitempty"` // the provider's sid
	IDToken  string `json:"t"`
	Access   string `json:"a,omitempty"`
	Refresh  string `json:"r,omitempty"`
	Type     string `json:"y,omitempty"`
	Expiry   int64  `json:"e,omitempty"` // access token expiry, Unix ms; 0 when unknown
	Deadline int64  `json:"x"`           // the record's own expiry, Unix ms
	Lock     int64  `json:"l,omitempty"` // a refresh holds the record until then, Unix ms
	LockID   string `json:"o,omitempty"`
}

const grantVersion = 1

// grantKey is the store key of grant id.
func grantKey(id string) string { return keyhash.Key("oidc:grant:", id) }

// The grant record's format: version byte, uvarint length and the data key
// sealed by the Codec (name grantSealName), 12-byte nonce, AES-256-GCM of
// the JSON grant with the version byte and store key as additional data.
// The data key is random per record; sealing it with the Codec gives the
// record the Codec's key rotation (or the keyring's) and keeps the bulk of
// the record — provider tokens can be several kilobytes — out of the
// Codec's 4096-byte cookie limit.
const grantSealName = "oidc-grant"

// envelope is a grant record's data key, kept to re-encrypt updates.
type envelope struct {
	key    []byte // 32 bytes
	sealed []byte
}

func (rp *RelyingParty) newEnvelope(deadline time.Time) (*envelope, error) {
	key := secret.Bytes(32)
	sealed, err := rp.codec.Seal(grantSealName, key, deadline.Sub(rp.now()))
	if err != nil {
		return nil, fmt.Errorf("oidc: sealing a grant key: %w", err)
	}
	return &envelope{key: key, sealed: []byte(sealed)}, nil
}

func (e *envelope) seal(storeKey string, g *grant) ([]byte, error) {
	pt, err := json.Marshal(g)
	if err != nil {
		return nil, err
	}
	aead, err := newGCM(e.key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, 1+binary.MaxVarintLen64+len(e.sealed)+aead.NonceSize()+len(pt)+aead.Overhead())
	out = append(out, grantVersion)
	out = binary.AppendUvarint(out, uint64(len(e.sealed)))
	out = append(out, e.sealed...)
	nonce := secret.Bytes(aead.NonceSize())
	out = append(out, nonce...)
	return aead.Seal(out, nonce, pt, grantAAD(storeKey)), nil
}

func grantAAD(storeKey string) []byte { return append([]byte{grantVersion}, storeKey...) }

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

var errGrant = errors.New("oidc: grant record unreadable")

// openGrant decrypts a grant record read under storeKey.
func (rp *RelyingParty) openGrant(storeKey string, raw []byte) (*grant, *envelope, error) {
	if len(raw) < 2 || raw[0] != grantVersion {
		return nil, nil, errGrant
	}
	n, w := binary.Uvarint(raw[1:])
	if w <= 0 || n > 4096 || uint64(len(raw)-1-w) < n {
		return nil, nil, errGrant
	}
	sealed := raw[1+w : 1+w+int(n)]
	key, err := rp.codec.Open(grantSealName, string(sealed))
	if err != nil || len(key) != 32 {
		return nil, nil, errGrant
	}
	aead, err := newGCM(key)
	if err != nil {
		return nil, nil, errGrant
	}
	rest := raw[1+w+int(n):]
	if len(rest) < aead.NonceSize()+aead.Overhead() {
		return nil, nil, errGrant
	}
	pt, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], grantAAD(storeKey))
	if err != nil {
		return nil, nil, errGrant
	}
	var g grant
	if json.Unmarshal(pt, &g) != nil || g.V != grantVersion {
		return nil, nil, errGrant
	}
	return &g, &envelope{key: key, sealed: sealed}, nil
}

// saveGrant stores a new grant record and returns its ID.
func (rp *RelyingParty) saveGrant(ctx context.Context, g *grant) (string, error) {
	deadline := rp.now().Add(rp.cfg.GrantLifetime)
	g.V, g.Deadline = grantVersion, deadline.UnixMilli()
	env, err := rp.newEnvelope(deadline)
	if err != nil {
		return "", err
	}
	id := secret.Base62(grantIDLen)
	key := grantKey(id)
	val, err := env.seal(key, g)
	if err != nil {
		return "", err
	}
	if err := rp.store.Set(ctx, key, val, deadline); err != nil {
		return "", fmt.Errorf("oidc: saving the grant: %w", err)
	}
	return id, nil
}

// loadGrant reads the grant record the session links to.
func (rp *RelyingParty) loadGrant(ctx context.Context, l link) (*grant, []byte, *envelope, error) {
	key := grantKey(l.G)
	raw, err := rp.store.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil, ErrNoTokens
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("oidc: reading the grant: %w", err)
	}
	g, env, err := rp.openGrant(key, raw)
	if err != nil {
		rp.logger.LogAttrs(ctx, slog.LevelWarn, "oidc: a grant record cannot be decrypted (its Codec key was removed?)")
		return nil, nil, nil, fmt.Errorf("%w: %w", ErrNoTokens, err)
	}
	return g, raw, env, nil
}

// sessionLink returns the request session's link, or ErrNotSignedIn.
func (rp *RelyingParty) sessionLink(ctx context.Context) (link, error) {
	l, err := session.Get[link](ctx, SessionKey)
	if errors.Is(err, session.ErrNotFound) || errors.Is(err, session.ErrType) {
		return link{}, ErrNotSignedIn
	}
	if err != nil {
		return link{}, err
	}
	if len(l.G) != grantIDLen || !validName(l.P) {
		return link{}, ErrNotSignedIn
	}
	return l, nil
}

// Bounds of the refresh lock.
const (
	maxTokenAttempts = 1000
	minWait          = 10 * time.Millisecond
	maxWait          = 250 * time.Millisecond
)

// Token returns the provider's access token for the request's session (ctx
// from a request behind the session Middleware), refreshing it first when
// it expires within Config.RefreshMargin. It needs Config.KeepTokens.
//
// A refresh runs once however many requests need it at the same time, on
// one server or many: the first takes a lock in the grant record with
// CompareAndSwap and calls the provider; the others wait for the record to
// change and use the new token. Rotating refresh tokens therefore never
// look reused to the provider. A holder that dies leaves the lock to expire
// after the HTTP client's timeout plus five seconds.
//
// Errors: ErrNotSignedIn, ErrNoTokens, ErrRefresh (the provider refused or
// could not be reached; with a wrapped [*ProviderError] when it answered),
// ctx's error while waiting, or a store error.
func (rp *RelyingParty) Token(ctx context.Context) (*oauth2.Token, error) {
	l, err := rp.sessionLink(ctx)
	if err != nil {
		return nil, err
	}
	p, err := rp.provider(l.P)
	if err != nil {
		return nil, ErrNotSignedIn
	}
	key := grantKey(l.G)
	wait := minWait
	for range maxTokenAttempts {
		g, raw, env, err := rp.loadGrant(ctx, l)
		if err != nil {
			return nil, err
		}
		if g.Access == "" {
			return nil, ErrNoTokens
		}
		now := rp.now().UnixMilli()
		if g.Expiry == 0 || now < g.Expiry-rp.cfg.RefreshMargin.Milliseconds() {
			return g.token(), nil
		}
		if g.Refresh == "" {
			return nil, fmt.Errorf("%w: the access token expired and there is no refresh token", ErrRefresh)
		}
		if g.Lock > now {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(wait):
			}
			wait = min(2*wait, maxWait)
			continue
		}
		locked := *g
		locked.Lock = now + (rp.fetchTimeout() + 5*time.Second).Milliseconds()
		locked.LockID = secret.Base62(16)
		lraw, err := env.seal(key, &locked)
		if err != nil {
			return nil, err
		}
		ok, err := rp.store.CompareAndSwap(ctx, key, raw, lraw, time.UnixMilli(g.Deadline))
		if err != nil {
			return nil, fmt.Errorf("oidc: locking the grant: %w", err)
		}
		if !ok {
			continue // changed under us: read again
		}
		return rp.refresh(ctx, p, key, g, lraw, env)
	}
	return nil, fmt.Errorf("%w: the grant record kept changing", ErrRefresh)
}

// expiry returns when tok's access token expires, in Unix ms (0 when the
// provider did not say), measured on Config.Now.
func (rp *RelyingParty) expiry(tok *oauth2.Token) int64 {
	switch {
	case tok.ExpiresIn > 0:
		return rp.now().Add(time.Duration(tok.ExpiresIn) * time.Second).UnixMilli()
	case !tok.Expiry.IsZero():
		return tok.Expiry.UnixMilli()
	}
	return 0
}

func (g *grant) token() *oauth2.Token {
	t := &oauth2.Token{AccessToken: g.Access, TokenType: g.Type}
	if g.Expiry != 0 {
		t.Expiry = time.UnixMilli(g.Expiry)
	}
	return t
}

// refresh calls the provider with g's refresh token while holding the lock
// (the record is lraw), and stores the outcome. It runs to the end even if
// ctx is cancelled: the provider may rotate the refresh token, and the new
// one must not be lost.
func (rp *RelyingParty) refresh(ctx context.Context, p *provider, key string, g *grant, lraw []byte, env *envelope) (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rp.fetchTimeout()+5*time.Second)
	defer cancel()
	next := *g
	next.Lock, next.LockID = 0, ""
	tok, rerr := rp.callRefresh(ctx, p, g)
	if rerr != nil {
		var pe *ProviderError
		if errors.As(rerr, &pe) && pe.Code == "invalid_grant" {
			next.Access, next.Refresh = "", "" // dead: do not call the provider again
		}
	} else {
		next.Access, next.Type, next.Expiry = tok.AccessToken, tok.TokenType, rp.expiry(tok)
		if tok.RefreshToken != "" {
			next.Refresh = tok.RefreshToken
		}
		if idt, _ := tok.Extra("id_token").(string); idt != "" {
			next.IDToken = idt
		}
	}
	nraw, err := env.seal(key, &next)
	if err == nil {
		var ok bool
		ok, err = rp.store.CompareAndSwap(ctx, key, lraw, nraw, time.UnixMilli(g.Deadline))
		if err == nil && !ok {
			err = errors.New("the lock expired and another refresh took over")
		}
	}
	if err != nil {
		rp.logger.LogAttrs(ctx, slog.LevelWarn, "oidc: storing refreshed provider tokens", slog.String("provider", p.cfg.Name), slog.Any("error", err))
	}
	if rerr != nil {
		return nil, rerr
	}
	return next.token(), nil
}

// callRefresh runs the refresh_token grant and checks a new ID token, if
// the provider sends one, against the session's (OpenID Connect Core §12.2).
func (rp *RelyingParty) callRefresh(ctx context.Context, p *provider, g *grant) (*oauth2.Token, error) {
	d, err := p.get(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRefresh, err)
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, rp.client)
	tok, err := d.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: g.Refresh, Expiry: time.Unix(1, 0)}).Token()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRefresh, tokenEndpointError(p.cfg.Name, err))
	}
	if idt, _ := tok.Extra("id_token").(string); idt != "" {
		t, err := p.verifyIDToken(ctx, d, idt, idTokenCheck{accessToken: tok.AccessToken})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrRefresh, err)
		}
		if t.Subject != g.Subject || t.Issuer != g.Issuer {
			return nil, fmt.Errorf("%w: %w: the refreshed ID token names another user", ErrRefresh, ErrIDToken)
		}
	}
	return tok, nil
}

// tokenEndpointError turns an x/oauth2 error into a ProviderError when the
// provider answered with an OAuth 2.0 error, without the response body
// (which RetrieveError's message includes).
func tokenEndpointError(provider string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		code := re.ErrorCode
		if code == "" && re.Response != nil {
			code = fmt.Sprintf("http_%d", re.Response.StatusCode)
		}
		return providerError(provider, code, re.ErrorDescription)
	}
	return err
}
