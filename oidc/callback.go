package oidc

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"golang.org/x/oauth2"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/internal/keyhash"
	"github.com/authkit/authkit/session"
)

// maxCodeLen bounds the authorization code accepted from the callback.
const maxCodeLen = 4096

// Result is a completed sign-in.
type Result struct {
	Provider string   // the provider's configured name
	Subject  string   // the session's subject, from Config.Subject
	IDToken  *IDToken // the verified ID token
	ReturnTo string   // the local path given when the sign-in started
}

// Callback completes a sign-in at provider's redirect URL. Call it from a
// request behind the session Middleware; it does not write a body or a
// status, so redirect to Result.ReturnTo on success (the flow cookie is
// already deleted on w).
//
// In order, it:
//
//   - finds the flow cookie named by the state parameter and deletes it;
//     the cookie must be authentic, unexpired and made for provider
//     (ErrState), and the state must not have been used (ErrReplay);
//   - checks the iss parameter (RFC 9207): required to equal the issuer
//     when the provider advertises it, and checked whenever present
//     (ErrIssuer);
//   - returns the provider's error, if it sent one, as a [*ProviderError];
//   - exchanges the code at the token endpoint with the flow's PKCE
//     verifier (ErrExchange);
//   - verifies the ID token (ErrIDToken; see the package documentation);
//   - maps it to a subject with Config.Subject and logs the session in
//     with [session.Manager.Login], which renews the session ID;
//   - stores the grant record (ID token, provider session, kept tokens) and
//     links the session to it.
//
// Every failure emits EventLoginFailed and leaves the session as it was.
func (rp *RelyingParty) Callback(w http.ResponseWriter, r *http.Request, provider string) (*Result, error) {
	res, reason, err := rp.callback(w, r, provider)
	if err != nil {
		rp.emit(r.Context(), authkit.EventLoginFailed, "", reason)
		return nil, err
	}
	rp.emit(r.Context(), authkit.EventLogin, res.Subject, res.Provider)
	return res, nil
}

// callback is Callback; reason is the event code of a failure.
func (rp *RelyingParty) callback(w http.ResponseWriter, r *http.Request, provider string) (res *Result, reason string, err error) {
	ctx := r.Context()
	p, err := rp.provider(provider)
	if err != nil {
		return nil, "provider", err
	}
	f, err := rp.takeFlow(ctx, w, r, provider)
	if err != nil {
		if errors.Is(err, ErrReplay) {
			return nil, "replay", err
		}
		return nil, "state", err
	}
	q := r.URL.Query()
	d, err := p.get(ctx)
	if err != nil {
		return nil, "discovery", err
	}
	// RFC 9207 §2.4: the issuer is checked before anything else of the
	// response is used, error responses included.
	if iss, has := q.Get("iss"), q.Has("iss"); has && iss != p.cfg.Issuer || !has && d.meta.AuthorizationResponseIssParameterSupported {
		return nil, "issuer", ErrIssuer
	}
	if code := q.Get("error"); code != "" || q.Has("error") {
		return nil, "provider_error", providerError(p.cfg.Name, code, q.Get("error_description"))
	}
	code := q.Get("code")
	if code == "" || len(code) > maxCodeLen {
		return nil, "code", fmt.Errorf("%w: no valid code parameter", ErrExchange)
	}
	xctx := context.WithValue(ctx, oauth2.HTTPClient, rp.client)
	tok, err := d.oauth.Exchange(xctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return nil, "exchange", fmt.Errorf("%w: %w", ErrExchange, tokenEndpointError(p.cfg.Name, err))
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, "id_token", fmt.Errorf("%w: the token response has no id_token", ErrIDToken)
	}
	t, err := p.verifyIDToken(ctx, d, raw, idTokenCheck{nonce: f.Nonce, accessToken: tok.AccessToken})
	if err != nil {
		return nil, "id_token", err
	}
	subject, err := rp.subject(ctx, t)
	if err != nil {
		return nil, "subject", err
	}
	if err := rp.login(ctx, p, t, raw, tok, subject); err != nil {
		return nil, "session", err
	}
	return &Result{Provider: p.cfg.Name, Subject: subject, IDToken: t, ReturnTo: f.ReturnTo}, "", nil
}

// subject runs Config.Subject and checks its result.
func (rp *RelyingParty) subject(ctx context.Context, t *IDToken) (string, error) {
	mapSubject := rp.cfg.Subject
	if mapSubject == nil {
		mapSubject = DefaultSubject
	}
	s, err := mapSubject(ctx, t)
	if err != nil {
		return "", fmt.Errorf("oidc: mapping the subject: %w", err)
	}
	if s == "" || len(s) > session.MaxSubjectLen {
		return "", fmt.Errorf("oidc: Config.Subject returned a subject of %d bytes, want 1..%d", len(s), session.MaxSubjectLen)
	}
	return s, nil
}

// login stores the grant, logs the session in, tagged with the provider
// account and session, and links them, and records which application
// subject the provider's (issuer, sub) maps to, for back-channel logout.
func (rp *RelyingParty) login(ctx context.Context, p *provider, t *IDToken, raw string, tok *oauth2.Token, subject string) error {
	g := &grant{Provider: p.cfg.Name, Issuer: t.Issuer, Subject: t.Subject, SID: t.SessionID, IDToken: raw}
	if rp.cfg.KeepTokens {
		g.Access, g.Refresh, g.Type, g.Expiry = tok.AccessToken, tok.RefreshToken, tok.TokenType, rp.expiry(tok)
	}
	id, err := rp.saveGrant(ctx, g)
	if err != nil {
		return err
	}
	deadline := rp.now().Add(rp.cfg.GrantLifetime)
	if err := rp.store.Set(ctx, subjectKey(t.Issuer, t.Subject), []byte(subject), deadline); err != nil {
		return fmt.Errorf("oidc: recording the subject: %w", err)
	}
	if err := session.SetTag(ctx, sessionTag(t.Issuer, t.Subject, t.SessionID)); err != nil {
		_ = rp.store.Delete(context.WithoutCancel(ctx), grantKey(id))
		return fmt.Errorf("oidc: tagging the session: %w", err)
	}
	if err := rp.sessions.Login(ctx, subject); err != nil {
		_ = rp.store.Delete(context.WithoutCancel(ctx), grantKey(id))
		return fmt.Errorf("oidc: logging the session in: %w", err)
	}
	if err := session.Set(ctx, SessionKey, link{P: p.cfg.Name, G: id}); err != nil {
		return fmt.Errorf("oidc: linking the session: %w", err)
	}
	return nil
}

// subjectKey is the store key recording the application subject of the
// provider's (issuer, sub) pair.
func subjectKey(issuer, sub string) string {
	return keyhash.Key("oidc:sub:", issuer+"\x00"+sub)
}
