package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/internal/keyhash"
	"github.com/authkit/authkit/jwt"
	"github.com/authkit/authkit/store"
)

// LogoutEvent is the event a back-channel logout token carries in its
// events claim (OpenID Connect Back-Channel Logout 1.0 §2.4).
const LogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// maxLogoutBody bounds a back-channel logout request body.
const maxLogoutBody = 64 << 10

// Logout ends the request's session (ctx from a request behind the session
// Middleware) and returns where to send the browser for RP-initiated logout:
// the provider's end_session_endpoint with id_token_hint, client_id and
// post_logout_redirect_uri (when configured), so the user is signed out
// at the provider too. It returns "" when the session was not signed in
// through a provider, or the provider has no end_session_endpoint, or its
// discovery document cannot be had (the local session is ended all the
// same). Serve logout on POST: a GET link would let any page sign users out.
func (rp *RelyingParty) Logout(ctx context.Context) (string, error) {
	l, err := rp.sessionLink(ctx)
	if err != nil && !errors.Is(err, ErrNotSignedIn) {
		return "", err
	}
	signedIn := err == nil
	var g *grant
	if signedIn {
		if g, _, _, err = rp.loadGrant(ctx, l); err != nil && !errors.Is(err, ErrNoTokens) {
			return "", err
		}
		if err := rp.store.Delete(ctx, grantKey(l.G)); err != nil {
			rp.logger.LogAttrs(ctx, slog.LevelWarn, "oidc: deleting a grant record", slog.Any("error", err))
		}
	}
	if err := rp.sessions.Logout(ctx); err != nil {
		return "", fmt.Errorf("oidc: logging the session out: %w", err)
	}
	if !signedIn {
		return "", nil
	}
	p, err := rp.provider(l.P)
	if err != nil {
		return "", nil
	}
	d, err := p.get(ctx)
	if err != nil {
		rp.logger.LogAttrs(ctx, slog.LevelWarn, "oidc: no RP-initiated logout at the provider", slog.String("provider", p.cfg.Name), slog.Any("error", err))
		return "", nil
	}
	if d.meta.EndSessionEndpoint == "" {
		return "", nil
	}
	u, err := url.Parse(d.meta.EndSessionEndpoint)
	if err != nil {
		return "", nil
	}
	q := u.Query()
	if g != nil {
		q.Set("id_token_hint", g.IDToken)
	}
	q.Set("client_id", p.cfg.ClientID)
	if p.cfg.PostLogoutRedirectURL != "" {
		q.Set("post_logout_redirect_uri", p.cfg.PostLogoutRedirectURL)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// logoutToken is a verified back-channel logout token.
type logoutToken struct {
	issuer, subject, sid, jti string
	claims                    *jwt.Claims
}

// verifyLogoutToken checks a logout token (OpenID Connect Back-Channel
// Logout 1.0 §2.6): signature, iss, aud, iat and exp through the jwt
// verifier, then the events claim with the logout event, no nonce, a jti.
// The jwt verifier requires sub, so a token carrying only sid is refused.
func (p *provider) verifyLogoutToken(ctx context.Context, d *discovered, raw string) (*logoutToken, error) {
	claims, c, err := jwt.VerifyClaims[idClaims](ctx, d.logout, raw)
	if err != nil {
		return nil, verifyError(ErrLogoutToken, "logout token", err)
	}
	refuse := func(why string) (*logoutToken, error) { return nil, fmt.Errorf("%w: %s", ErrLogoutToken, why) }
	if _, has := c["nonce"]; has {
		return refuse("a nonce is present")
	}
	var events map[string]json.RawMessage
	if raw, ok := c["events"]; !ok || json.Unmarshal(raw, &events) != nil {
		return refuse("no events object")
	}
	var ev map[string]json.RawMessage
	if raw, ok := events[LogoutEvent]; !ok || json.Unmarshal(raw, &ev) != nil || ev == nil {
		return refuse("events lacks the back-channel logout event")
	}
	for _, a := range claims.Audience {
		if a != p.cfg.ClientID && !slices.Contains(p.cfg.TrustedAudiences, a) {
			return refuse("aud names an untrusted audience")
		}
	}
	if claims.ID == "" || len(claims.ID) > 255 {
		return refuse("jti is missing")
	}
	sid, _, ok := stringClaim(c, "sid")
	if !ok || len(sid) > maxSIDLen {
		return refuse("sid is not a string of at most 255 characters")
	}
	if len(claims.Subject) > maxSubjectLen {
		return refuse("sub is longer than 255 characters")
	}
	return &logoutToken{issuer: claims.Issuer, subject: claims.Subject, sid: sid, jti: claims.ID, claims: claims}, nil
}

// BackChannelLogout serves provider's back-channel logout endpoint (the
// backchannel_logout_uri registered with it): the provider POSTs a signed
// logout token when a user's session there ends, and the sessions the user
// signed in to through it end here too.
//
// The token must verify as described in the package documentation; each
// jti is accepted once (recorded in the store until the token expires).
// The sessions ended are those signed in with the provider account (its
// issuer and sub) during the provider session the token's sid names, or,
// without sid, all sessions signed in with that account. Each sign-in tags
// its session for this (see [session.SetTag]); the application user's other
// sessions — signed in with a password or another provider — stay.
//
// It answers 200 when the token was accepted (also when no session
// matched), 400 with {"error":"invalid_request"} when it was refused, 405
// for a method other than POST, and 503 when the store failed (the
// provider may retry). The response is written; the error is returned for
// logging.
func (rp *RelyingParty) BackChannelLogout(w http.ResponseWriter, r *http.Request, provider string) error {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return fmt.Errorf("%w: method %s", ErrLogoutToken, r.Method)
	}
	ctx := r.Context()
	p, err := rp.provider(provider)
	if err != nil {
		http.NotFound(w, r)
		return err
	}
	err = rp.backChannel(ctx, w, r, p)
	switch {
	case err == nil:
		w.WriteHeader(http.StatusOK)
	case errors.Is(err, ErrLogoutToken):
		rp.emit(ctx, authkit.EventRejected, "", "logout_token")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_request"}`))
	default:
		rp.logger.LogAttrs(ctx, slog.LevelError, "oidc: back-channel logout", slog.String("provider", p.cfg.Name), slog.Any("error", err))
		w.Header().Set("Retry-After", "5")
		http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
	}
	return err
}

func (rp *RelyingParty) backChannel(ctx context.Context, w http.ResponseWriter, r *http.Request, p *provider) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxLogoutBody)
	if err := r.ParseForm(); err != nil {
		return fmt.Errorf("%w: the body is not a form", ErrLogoutToken)
	}
	toks := r.PostForm["logout_token"]
	if len(toks) != 1 || toks[0] == "" {
		return fmt.Errorf("%w: expected one logout_token", ErrLogoutToken)
	}
	d, err := p.get(ctx)
	if err != nil {
		return err
	}
	lt, err := p.verifyLogoutToken(ctx, d, toks[0])
	if err != nil {
		return err
	}
	jtiKey := keyhash.Key("oidc:ljti:", lt.issuer+"\x00"+lt.jti)
	ok, err := rp.store.CompareAndSwap(ctx, jtiKey, nil, []byte{1}, lt.claims.ExpiresAt.Add(rp.cfg.Leeway))
	if err != nil {
		return fmt.Errorf("oidc: recording the logout token: %w", err)
	}
	if !ok {
		return fmt.Errorf("%w: jti already used", ErrLogoutToken)
	}
	if err := rp.endSessions(ctx, lt); err != nil {
		// Let the provider's retry through.
		_ = rp.store.Delete(context.WithoutCancel(ctx), jtiKey)
		return err
	}
	return nil
}

// endSessions ends the sessions the logout token names: with a sid, those
// signed in during that provider session (and any of the same account
// signed in without a sid, which cannot be told apart); without one, every
// session signed in with the provider account. Other sessions of the same
// application user — another provider, a password — stay.
func (rp *RelyingParty) endSessions(ctx context.Context, lt *logoutToken) error {
	raw, err := rp.store.Get(ctx, subjectKey(lt.issuer, lt.subject))
	if errors.Is(err, store.ErrNotFound) {
		return nil // nobody signed in with this account, or long ago
	}
	if err != nil {
		return fmt.Errorf("oidc: reading the subject record: %w", err)
	}
	subject := string(raw)
	var tags []string
	if lt.sid != "" {
		tags = []string{sessionTag(lt.issuer, lt.subject, lt.sid), sessionTag(lt.issuer, lt.subject, "")}
	} else {
		infos, err := rp.sessions.Sessions(ctx, subject)
		if err != nil {
			return fmt.Errorf("oidc: listing sessions: %w", err)
		}
		prefix := tagPrefix(lt.issuer, lt.subject)
		for _, in := range infos {
			if strings.HasPrefix(in.Tag, prefix) && !slices.Contains(tags, in.Tag) {
				tags = append(tags, in.Tag)
			}
		}
	}
	n := 0
	for _, tag := range tags {
		k, err := rp.sessions.RevokeTagged(ctx, subject, tag)
		n += k
		if err != nil {
			return fmt.Errorf("oidc: ending sessions: %w", err)
		}
	}
	if n > 0 {
		rp.emit(ctx, authkit.EventRevoke, subject, "backchannel_logout")
	}
	return nil
}

// sessionTag is the session tag (see [session.SetTag]) of a sign-in with
// the provider account (issuer, sub) during the provider session sid ("" when
// the ID token had none): "oidc:", 22 characters of hash for the account,
// '.', 22 for the provider session. Hashed, the tag shows no identifier on
// a devices page, and its fixed length fits session.MaxTagLen.
func sessionTag(issuer, sub, sid string) string {
	return tagPrefix(issuer, sub) + shortHash(issuer+"\x00"+sid)
}

// tagPrefix is the part of sessionTag that names the provider account.
func tagPrefix(issuer, sub string) string {
	return "oidc:" + shortHash(issuer+"\x00"+sub) + "."
}

// shortHash is 132 bits of SHA-256 of s, base64url.
func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:])[:22]
}
