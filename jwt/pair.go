package jwt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/cookie"
	"github.com/authkit/authkit/token"
)

// Defaults of [PairConfig].
const (
	DefaultRefreshCookie = "__Secure-refresh"
	DefaultRefreshPath   = "/auth/refresh"
)

// PairConfig configures [Pairs]. The zero value is valid. A config must not
// be changed after it is passed to [NewPairs].
type PairConfig struct {
	// CookieName names the refresh-token cookie. It must start with
	// "__Secure-", so that browsers accept it only with the Secure
	// attribute (a "__Host-" name would force Path=/, and this cookie is
	// scoped to RefreshPath). Empty means DefaultRefreshCookie.
	CookieName string

	// RefreshPath is where [Pairs.Handler] is mounted, and the cookie's
	// Path: the browser sends the refresh token to that endpoint only,
	// never to the rest of the site. Empty means DefaultRefreshPath
	// ("/auth/refresh").
	RefreshPath string

	// Logger receives the errors that make the handler answer 503. Nil
	// means slog.Default().
	Logger *slog.Logger
}

// Pairs issues and renews an access JWT together with an opaque refresh
// token from the token package, and carries the refresh token in a cookie.
//
// The access JWT is short-lived (the [Issuer]'s Lifetime) and carries the
// refresh family's ID in its fid claim; the refresh token rotates on every
// use, with reuse detection. Wire the token manager's
// Config.FamilyRevoked to [Verifier.FamilyRevoked], so that when a family is
// revoked — a stolen refresh token used twice, a logout, a password change
// — the JWTs issued from it stop working at once rather than at their
// expiry.
//
// # In a browser
//
// Keep the access token in memory only (a JavaScript variable: not
// localStorage, which any injected script can read and which outlives the
// tab) and send it as "Authorization: Bearer". Keep the refresh token where
// scripts cannot reach it: the HttpOnly, Secure, SameSite=Strict cookie
// [Pairs.WriteResponse] sets, scoped to RefreshPath. On page load, or when
// the API answers 401, POST to RefreshPath (with credentials) to get a new
// access token; DELETE it to log out. The endpoint refuses cross-site
// requests, and SameSite=Strict keeps the cookie off them anyway.
type Pairs struct {
	iss    *Issuer
	tokens *token.Manager
	cookie cookie.Template
	log    *slog.Logger
}

// NewPairs returns Pairs signing access tokens with iss and keeping refresh
// families in tokens. It panics if either is nil or the cookie settings are
// invalid.
func NewPairs(iss *Issuer, tokens *token.Manager, cfg PairConfig) *Pairs {
	if iss == nil || tokens == nil {
		panic("jwt: NewPairs needs an Issuer and a token.Manager")
	}
	if cfg.CookieName == "" {
		cfg.CookieName = DefaultRefreshCookie
	}
	if cfg.RefreshPath == "" {
		cfg.RefreshPath = DefaultRefreshPath
	}
	if len(cfg.CookieName) < len("__Secure-") || !strings.EqualFold(cfg.CookieName[:len("__Secure-")], "__Secure-") {
		panic("jwt: PairConfig.CookieName must start with __Secure-")
	}
	c := cookie.New(cfg.CookieName)
	c.Path = cfg.RefreshPath
	c.SameSite = http.SameSiteStrictMode
	if err := c.Validate(); err != nil {
		panic("jwt: invalid refresh cookie settings: " + err.Error())
	}
	p := &Pairs{iss: iss, tokens: tokens, cookie: c, log: cfg.Logger}
	if p.log == nil {
		p.log = slog.Default()
	}
	return p
}

// Pair is an access JWT with the refresh token that renews it.
type Pair struct {
	Access  Issued           // the signed JWT, its jti and expiry
	Refresh token.Token      // the opaque refresh token
	Family  token.FamilyInfo // the refresh family; Access carries Family.ID as fid
}

// Issue starts a refresh family for subject — a sign-in — and returns its
// first refresh token with an access JWT carrying the family's ID, scopes
// and auth time.
func (p *Pairs) Issue(ctx context.Context, subject string, opts token.FamilyOptions) (Pair, error) {
	rt, fam, err := p.tokens.IssueRefresh(ctx, subject, opts)
	if err != nil {
		return Pair{}, err
	}
	return p.pair(rt, fam)
}

// Refresh rotates presented (see token.Manager.Refresh: concurrent uses
// rotate once; reusing a rotated-out token revokes the family) and returns
// the successor with a new access JWT. clientID is the authenticated OAuth
// client, or "" when the caller does not authenticate clients. The errors
// are token.Manager.Refresh's.
func (p *Pairs) Refresh(ctx context.Context, presented token.Token, clientID string) (Pair, error) {
	rt, fam, err := p.tokens.Refresh(ctx, presented, clientID)
	if err != nil {
		return Pair{}, err
	}
	return p.pair(rt, fam)
}

func (p *Pairs) pair(rt token.Token, fam token.FamilyInfo) (Pair, error) {
	at, err := p.iss.Issue(Grant{Subject: fam.Subject, Scopes: fam.Scopes, AuthTime: fam.AuthTime, FamilyID: fam.ID})
	if err != nil {
		return Pair{}, fmt.Errorf("jwt: issuing the access token: %w", err)
	}
	return Pair{Access: at, Refresh: rt, Family: fam}, nil
}

// Cookie returns the refresh cookie's template: name, Path RefreshPath,
// Secure, HttpOnly, SameSite=Strict.
func (p *Pairs) Cookie() cookie.Template { return p.cookie }

// accessResponse is the JSON body of WriteResponse (RFC 6749 §5.1, without
// the refresh token, which travels in the cookie).
type accessResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope,omitempty"`
}

// WriteResponse answers a sign-in or a refresh: it sets the refresh cookie
// (kept until the family's idle deadline) and writes 200 with
// {"access_token", "token_type": "Bearer", "expires_in", "scope"} and
// Cache-Control: no-store.
func (p *Pairs) WriteResponse(w http.ResponseWriter, pair Pair) error {
	c := p.cookie
	c.MaxAge = pair.Family.IdleExpires.Sub(pair.Family.Rotated)
	c.MaxAge = min(max(c.MaxAge, time.Second), cookie.MaxAgeLimit)
	if err := c.Set(w, string(pair.Refresh)); err != nil {
		return fmt.Errorf("jwt: setting the refresh cookie: %w", err)
	}
	body, err := json.Marshal(accessResponse{
		AccessToken: pair.Access.Token,
		TokenType:   "Bearer",
		ExpiresIn:   int64(pair.Access.ExpiresAt.Sub(pair.Access.IssuedAt) / time.Second),
		Scope:       strings.Join(pair.Family.Scopes, " "),
	})
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(body)
	return err
}

// Handler returns the refresh endpoint, to mount at RefreshPath:
//
//   - POST reads the refresh cookie, rotates it and answers as
//     [Pairs.WriteResponse]; a missing, duplicated, unknown, expired,
//     revoked or reused refresh token answers 400 {"error":"invalid_grant"}
//     (RFC 6749 §5.2) and deletes the cookie;
//   - DELETE logs out: it revokes the cookie's family (and so the JWTs
//     issued from it, when FamilyRevoked is wired), deletes the cookie and
//     answers 204;
//   - a request whose Sec-Fetch-Site header is present and not
//     "same-origin" answers 403; other methods answer 405;
//   - a store failure answers 503 with Retry-After, and keeps the cookie.
func (p *Pairs) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodDelete {
			w.Header().Set("Allow", "POST, DELETE")
			writeJSONError(w, http.StatusMethodNotAllowed, "invalid_request")
			return
		}
		if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" {
			writeJSONError(w, http.StatusForbidden, "invalid_request")
			return
		}
		v, cerr := p.cookie.Read(r)
		ctx := r.Context()
		if r.Method == http.MethodDelete {
			if cerr == nil {
				if err := p.tokens.RevokeToken(ctx, token.Token(v)); err != nil && !errors.Is(err, authkit.ErrInvalidCredentials) {
					p.unavailable(w, r, err)
					return
				}
			}
			_ = p.cookie.Delete(w)
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if cerr != nil {
			_ = p.cookie.Delete(w)
			writeJSONError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
		pair, err := p.Refresh(ctx, token.Token(v), "")
		switch {
		case errors.Is(err, authkit.ErrInvalidCredentials):
			_ = p.cookie.Delete(w)
			writeJSONError(w, http.StatusBadRequest, "invalid_grant")
			return
		case err != nil:
			p.unavailable(w, r, err)
			return
		}
		if err := p.WriteResponse(w, pair); err != nil {
			p.log.LogAttrs(ctx, slog.LevelError, "jwt: writing the refresh response", slog.Any("error", err))
		}
	})
}

func (p *Pairs) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	p.log.LogAttrs(r.Context(), slog.LevelError, "jwt: refresh endpoint unavailable", slog.String("method", r.Method), slog.Any("error", err))
	w.Header().Set("Retry-After", strconv.Itoa(int(authkit.DefaultRetryAfter/time.Second)))
	writeJSONError(w, http.StatusServiceUnavailable, "temporarily_unavailable")
}

func writeJSONError(w http.ResponseWriter, status int, code string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"error":"` + code + `"}`))
}

// FamilyRevoked revokes the JWTs issued from a refresh family. Use it as
// the token manager's hook, so that revoking a family (reuse, logout,
// RevokeSubject, the revocation endpoint) also ends its access JWTs:
//
//	tokens := token.NewWithConfig(st, token.Config{FamilyRevoked: verifier.FamilyRevoked})
//
// A failure is logged to Config.Logger: the JWTs then last until they
// expire, which a short access-token lifetime bounds. It does nothing when
// revocation is disabled.
func (v *Verifier) FamilyRevoked(ctx context.Context, fam token.FamilyInfo) {
	if !v.revoking || fam.ID == "" || fam.Subject == "" {
		return
	}
	if err := v.RevokeFamily(ctx, fam.Subject, fam.ID); err != nil {
		v.logger().LogAttrs(ctx, slog.LevelError, "jwt: revoking the JWTs of a revoked refresh family",
			slog.String("subject", fam.Subject), slog.Any("error", err))
	}
}
