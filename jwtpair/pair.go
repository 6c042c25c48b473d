package jwtpair

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/cookie"
	"github.com/authkit/authkit/jwt"
	"github.com/authkit/authkit/token"
)

// Defaults of [Config].
const (
	DefaultRefreshCookie = "__Secure-refresh"
	DefaultRefreshPath   = "/auth/refresh"
)

// ErrNoAccessToken means the refresh token was rotated (or the family
// started) but the access JWT could not be signed. [Manager.Refresh]
// returns it with the Pair's Refresh and Family set: hand the new refresh
// token to the client (as [Manager.Handler] does, with a 503), or its next
// refresh presents the rotated-out token and counts as reuse.
var ErrNoAccessToken = errors.New("jwtpair: no access token could be signed")

// Config configures a [Manager]. The zero value is valid. A config must not
// be changed after it is passed to [New].
type Config struct {
	// CookieName names the refresh-token cookie. It must start with
	// "__Secure-", so that browsers accept it only with the Secure
	// attribute (a "__Host-" name would force Path=/, and this cookie is
	// scoped to RefreshPath). Empty means DefaultRefreshCookie.
	CookieName string

	// RefreshPath is where [Manager.Handler] is mounted, and the cookie's
	// Path: the browser sends the refresh token to that endpoint only,
	// never to the rest of the site. Empty means DefaultRefreshPath
	// ("/auth/refresh").
	RefreshPath string

	// RetryAfter is sent with the handler's 503 answers. Zero means
	// authkit.DefaultRetryAfter.
	RetryAfter time.Duration

	// Logger receives the errors that make the handler answer 503. Nil
	// means slog.Default().
	Logger *slog.Logger
}

// Manager issues and renews an access JWT together with an opaque refresh
// token from the token package, and carries the refresh token in a cookie.
// It is safe for concurrent use.
//
// The access JWT is short-lived (the [jwt.Issuer]'s Lifetime) and carries
// the refresh family's ID in its fid claim; the refresh token rotates on
// every use, with reuse detection. Revoking the family revokes its JWTs
// (see the package documentation).
type Manager struct {
	iss         *jwt.Issuer
	ver         *jwt.Verifier
	tokens      *token.Manager
	cookie      cookie.Template
	unavailable authkit.Unavailable
	log         *slog.Logger
}

// New returns a Manager signing access tokens with iss and keeping refresh
// families in tokens, and registers with tokens a listener that revokes,
// through ver, the JWTs of every family tokens revokes (see
// [token.Manager.OnFamilyRevoked]). ver must be the verifier that checks
// iss's tokens (or one sharing its store: they share revocation records).
// Calling New twice with the same token manager registers two listeners,
// which is harmless.
//
// It panics if iss, ver or tokens is nil or the cookie settings are
// invalid.
func New(iss *jwt.Issuer, ver *jwt.Verifier, tokens *token.Manager, cfg Config) *Manager {
	if iss == nil || ver == nil || tokens == nil {
		panic("jwtpair: New needs a jwt.Issuer, a jwt.Verifier and a token.Manager")
	}
	if cfg.CookieName == "" {
		cfg.CookieName = DefaultRefreshCookie
	}
	if cfg.RefreshPath == "" {
		cfg.RefreshPath = DefaultRefreshPath
	}
	if len(cfg.CookieName) < len("__Secure-") || !strings.EqualFold(cfg.CookieName[:len("__Secure-")], "__Secure-") {
		panic("jwtpair: Config.CookieName must start with __Secure-")
	}
	if cfg.RetryAfter < 0 {
		panic("jwtpair: Config.RetryAfter is negative")
	}
	c := cookie.New(cfg.CookieName)
	c.Path = cfg.RefreshPath
	c.SameSite = http.SameSiteStrictMode
	if err := c.Validate(); err != nil {
		panic("jwtpair: invalid refresh cookie settings: " + err.Error())
	}
	m := &Manager{iss: iss, ver: ver, tokens: tokens, cookie: c, log: cfg.Logger}
	if m.log == nil {
		m.log = slog.Default()
	}
	m.unavailable = authkit.Unavailable{RetryAfter: cfg.RetryAfter, Logger: m.log, OAuth: true}
	tokens.OnFamilyRevoked(m.familyRevoked)
	return m
}

// familyRevoked revokes the JWTs of a revoked refresh family. Its error
// makes the family's revocation fail, so that it is retried rather than
// lost. A verifier without revocation has nothing to record.
func (m *Manager) familyRevoked(ctx context.Context, fam token.FamilyInfo) error {
	if fam.ID == "" || fam.Subject == "" {
		return nil
	}
	err := m.ver.RevokeFamily(ctx, fam.Subject, fam.ID)
	if errors.Is(err, jwt.ErrRevocationDisabled) {
		return nil
	}
	return err
}

// Pair is an access JWT with the refresh token that renews it.
//
// Both tokens are bearer credentials: a Pair printed with fmt (any verb, as
// a value or a pointer) or logged with slog shows "REDACTED" for them, with
// the access token's ID and expiry and the family's ID and subject.
type Pair struct {
	Access  jwt.Issued       // the signed JWT, its jti and expiry
	Refresh token.Token      // the opaque refresh token
	Family  token.FamilyInfo // the refresh family; Access carries Family.ID as fid
}

// String describes p without its tokens.
func (p Pair) String() string {
	return "jwtpair.Pair{Access: " + p.Access.String() + ", Refresh: REDACTED, FamilyID: " + p.Family.ID +
		", Subject: " + strconv.Quote(p.Family.Subject) + "}"
}

// GoString is String, for %#v.
func (p Pair) GoString() string { return p.String() }

// Format implements fmt.Formatter: every verb prints String, so that no
// verb (%x, %+v) reaches the tokens.
func (p Pair) Format(f fmt.State, verb rune) {
	s := p.String()
	if verb == 'q' {
		s = strconv.Quote(s)
	}
	_, _ = f.Write([]byte(s))
}

// LogValue implements slog.LogValuer: the access token (redacted, see
// jwt.Issued), the refresh token's prefix, the family ID and the subject.
func (p Pair) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Any("access", p.Access),
		slog.Any("refresh", p.Refresh),
		slog.String("family_id", p.Family.ID),
		slog.String("subject", p.Family.Subject),
	)
}

// Issue starts a refresh family for subject — a sign-in — and returns its
// first refresh token with an access JWT carrying the family's ID, scopes
// and auth time. If the JWT cannot be signed, the new family is revoked
// and the error wraps ErrNoAccessToken.
func (m *Manager) Issue(ctx context.Context, subject string, opts token.FamilyOptions) (Pair, error) {
	rt, fam, err := m.tokens.IssueRefresh(ctx, subject, opts)
	if err != nil {
		return Pair{}, err
	}
	p, err := m.pair(rt, fam)
	if err != nil {
		// Nobody holds the refresh token: end the family rather than leave
		// it listed and unusable until it expires.
		if rerr := m.tokens.RevokeFamily(ctx, fam.Subject, fam.ID); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return Pair{}, err
	}
	return p, nil
}

// Refresh rotates presented (see [token.Manager.Refresh]: concurrent uses
// rotate once; reusing a rotated-out token revokes the family, and with it
// its JWTs) and returns the successor with a new access JWT. clientID is
// the authenticated OAuth client, or "" when the caller does not
// authenticate clients. The errors are token.Manager.Refresh's, or one
// wrapping ErrNoAccessToken that comes with the rotated refresh token (in
// the Pair's Refresh and Family).
func (m *Manager) Refresh(ctx context.Context, presented token.Token, clientID string) (Pair, error) {
	rt, fam, err := m.tokens.Refresh(ctx, presented, clientID)
	if err != nil {
		return Pair{}, err
	}
	p, err := m.pair(rt, fam)
	if err != nil {
		return Pair{Refresh: rt, Family: fam}, err
	}
	return p, nil
}

func (m *Manager) pair(rt token.Token, fam token.FamilyInfo) (Pair, error) {
	at, err := m.iss.Issue(jwt.Grant{Subject: fam.Subject, Scopes: fam.Scopes, AuthTime: fam.AuthTime, FamilyID: fam.ID})
	if err != nil {
		return Pair{}, fmt.Errorf("%w: %w", ErrNoAccessToken, err)
	}
	return Pair{Access: at, Refresh: rt, Family: fam}, nil
}

// Cookie returns the refresh cookie's template: name, Path RefreshPath,
// Secure, HttpOnly, SameSite=Strict.
func (m *Manager) Cookie() cookie.Template { return m.cookie }
