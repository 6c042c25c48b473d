package oidc

import (
	"errors"
	"strings"
)

// Errors returned by a [RelyingParty]. Each is wrapped with detail; branch on
// them with [errors.Is]. No message contains a token, a code, a state or any
// text chosen by the provider or the client, so an error may be logged.
var (
	// ErrUnknownProvider means no provider of that name is configured.
	ErrUnknownProvider = errors.New("oidc: unknown provider")

	// ErrDiscovery means the provider's discovery document could not be
	// fetched or is unusable: unreachable, not JSON, an issuer that is not
	// exactly the configured one, a missing or non-https endpoint, no
	// signing algorithm authkit accepts.
	ErrDiscovery = errors.New("oidc: provider discovery failed")

	// ErrReturnTo means the return-to path is not a local path: it must
	// start with a single '/' and hold only printable ASCII, no '\'.
	ErrReturnTo = errors.New("oidc: return-to is not a local path")

	// ErrState means the callback carries no flow this browser started: the
	// state parameter is missing, repeated or malformed, no flow cookie
	// matches it, the cookie is forged, expired or from an unknown key, or
	// the flow was started for another provider.
	ErrState = errors.New("oidc: missing or mismatched state")

	// ErrReplay means the callback of this flow was already used.
	ErrReplay = errors.New("oidc: callback already used")

	// ErrIssuer means the authorization response names another issuer, or
	// none although the provider promised one (RFC 9207): a mix-up attack or
	// a misconfiguration.
	ErrIssuer = errors.New("oidc: authorization response from another issuer")

	// ErrExchange means the code could not be exchanged for tokens: the
	// token endpoint refused it (a reused or injected code, a wrong PKCE
	// verifier, bad client credentials — see the wrapped [*ProviderError])
	// or could not be reached.
	ErrExchange = errors.New("oidc: code exchange failed")

	// ErrIDToken means the ID token was refused: missing, badly signed,
	// from another issuer, for another client, with a nonce of another
	// flow, expired, or inconsistent with the access token. The jwt
	// package's error is wrapped as well.
	ErrIDToken = errors.New("oidc: invalid ID token")

	// ErrNotSignedIn means the request's session was not signed in through
	// this RelyingParty.
	ErrNotSignedIn = errors.New("oidc: session not signed in with OpenID Connect")

	// ErrNoTokens means the provider's tokens are not kept for this session:
	// Config.KeepTokens is off, or the record expired or cannot be read any
	// more (its key was removed from the Codec).
	ErrNoTokens = errors.New("oidc: no provider tokens for this session")

	// ErrRefresh means the provider's access token expired and could not be
	// refreshed: no refresh token, the provider refused it (see the wrapped
	// [*ProviderError]), or it could not be reached.
	ErrRefresh = errors.New("oidc: refreshing the provider's access token failed")

	// ErrLogoutToken means a back-channel logout token was refused: not
	// signed by the provider, not for this client, without the logout event,
	// with a nonce, without jti, or already used.
	ErrLogoutToken = errors.New("oidc: invalid logout token")
)

// ProviderError is an OAuth 2.0 error the provider returned: in the
// authorization response (error=access_denied when the user cancelled), or
// from the token endpoint. It is returned wrapped; get it with [errors.As].
//
// Code and Description come from the provider and hence from whoever
// crafted the callback URL: they are reduced to the characters RFC 6749
// allows (printable ASCII without '"' and '\') and bounded in length, but
// they are still untrusted text. Render them only through an escaping
// template, or better map Code to a message of your own.
type ProviderError struct {
	Provider    string // the provider's configured name
	Code        string // error, e.g. "access_denied", "invalid_grant"
	Description string // error_description, possibly empty
}

// Error returns "oidc: <provider> answered <code>".
func (e *ProviderError) Error() string {
	return "oidc: " + e.Provider + " answered " + e.Code
}

// AccessDenied reports whether the user or the provider refused the
// sign-in (error=access_denied).
func (e *ProviderError) AccessDenied() bool { return e.Code == "access_denied" }

// Bounds on provider error texts.
const (
	maxErrorCode        = 64
	maxErrorDescription = 256
)

// providerError builds a ProviderError from untrusted code and description.
func providerError(provider, code, desc string) *ProviderError {
	code = errorText(code, maxErrorCode)
	if code == "" {
		code = "invalid_error"
	}
	return &ProviderError{Provider: provider, Code: code, Description: errorText(desc, maxErrorDescription)}
}

// errorText keeps the characters RFC 6749 §4.1.2.1 allows in error and
// error_description (%x20-21 / %x23-5B / %x5D-7E), up to max bytes.
func errorText(s string, max int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < max; i++ {
		c := s[i]
		if c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			b.WriteByte(c)
		}
	}
	return b.String()
}
