package authkit

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"
)

// Errors an [Authenticator] returns, and that [Guard] turns into responses.
var (
	// ErrNoCredentials means the request carries no credential of the
	// Authenticator's kind — including a bearer token of another kind (a JWT
	// offered to an opaque-token Authenticator). The next Authenticator in a
	// Require chain is tried.
	ErrNoCredentials = errors.New("authkit: no credentials")

	// ErrInvalidCredentials means the request carries a credential of the
	// Authenticator's kind that is not valid: forged, expired, revoked.
	// Authenticators wrap it with the reason; Guard answers 401 invalid_token
	// and never shows the reason to the client.
	ErrInvalidCredentials = errors.New("authkit: invalid credentials")

	// ErrInvalidRequest means the request is malformed as far as credentials
	// go: a bearer token sent in more than one way, several Authorization
	// headers, a Bearer header without a well-formed token. Guard answers
	// 400 invalid_request (RFC 6750 §3.1).
	ErrInvalidRequest = errors.New("authkit: invalid request")
)

// Identity is who a request was proven to come from, and how.
type Identity struct {
	Subject  string         // who: a user ID or client ID
	Method   string         // "session", "token" or "jwt"
	Scopes   []string       // what the credential allows; nil for sessions unless set
	AuthTime time.Time      // when the subject last proved who they are (login)
	Expires  time.Time      // when this credential stops being valid
	Claims   map[string]any // method-specific extras; may be nil
}

// HasScope reports whether the identity holds scope.
func (id *Identity) HasScope(scope string) bool {
	return id != nil && slices.Contains(id.Scopes, scope)
}

// Authenticator proves who sent a request. It returns ErrNoCredentials when the
// request carries no credential of its kind (including a bearer token of another
// kind), an error wrapping ErrInvalidCredentials when it carries a bad one, and
// any other error when it cannot decide (its store is down).
type Authenticator interface {
	Authenticate(r *http.Request) (*Identity, error)
}

// Revoker ends every credential it issued to subject: sessions, tokens, refresh
// families, JWTs. Password change and account disable call all of them.
type Revoker interface {
	RevokeSubject(ctx context.Context, subject string) error
}

// AuthenticatorFunc adapts a function to [Authenticator].
type AuthenticatorFunc func(r *http.Request) (*Identity, error)

// Authenticate calls f(r).
func (f AuthenticatorFunc) Authenticate(r *http.Request) (*Identity, error) { return f(r) }

// RevokeSubject calls RevokeSubject on every revoker, in order, even when one
// fails, and returns the failures joined (nil when all succeeded). Use it on
// password change and account disable so that sessions, tokens and JWTs all
// end together:
//
//	err := authkit.RevokeSubject(ctx, userID, sessions, tokens, jwts)
func RevokeSubject(ctx context.Context, subject string, revokers ...Revoker) error {
	var errs []error
	for _, r := range revokers {
		if err := r.RevokeSubject(ctx, subject); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// requestState is what Guard keeps in a request's context: the bearer token
// it extracted and, once a credential is accepted, the Identity. One value
// per request keeps the middleware to a single context allocation.
type requestState struct {
	bearer    string
	bearerSet bool // Guard looked for a bearer token; bearer is what it found
	identity  *Identity
}

type stateKey struct{}

func stateFrom(ctx context.Context) *requestState {
	s, _ := ctx.Value(stateKey{}).(*requestState)
	return s
}

// IdentityFrom returns the Identity a [Guard] put in ctx, and whether there is one.
func IdentityFrom(ctx context.Context) (*Identity, bool) {
	if s := stateFrom(ctx); s != nil && s.identity != nil {
		return s.identity, true
	}
	return nil, false
}

// WithIdentity returns a copy of ctx carrying id, as [Guard] does on success.
// It is for tests of handlers and for middleware that authenticates by other
// means.
func WithIdentity(ctx context.Context, id *Identity) context.Context {
	s := &requestState{identity: id}
	if prev := stateFrom(ctx); prev != nil {
		s.bearer, s.bearerSet = prev.bearer, prev.bearerSet
	}
	return context.WithValue(ctx, stateKey{}, s)
}

func contextWith(ctx context.Context, s *requestState) context.Context {
	return context.WithValue(ctx, stateKey{}, s)
}
