package token

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/internal/httpsyntax"
)

// DefaultRevocationMaxBody is the request body limit of a revocation
// endpoint whose RevocationConfig.MaxBodySize is zero.
const DefaultRevocationMaxBody = 4 << 10

// RevocationConfig configures [Manager.RevocationHandler]. It must not be
// changed after it is passed there.
type RevocationConfig struct {
	// AuthenticateClient authenticates the client calling the endpoint —
	// HTTP Basic client credentials, a client assertion, or for a public
	// client its client_id form field — and returns its client ID, or an
	// error to refuse the request with 401 invalid_client. The form has
	// been parsed (r.PostForm) when it is called. Required.
	//
	// A token is revoked only if it was issued to the returned client ID
	// (an access token's IssueOptions.ClientID, a family's
	// FamilyOptions.ClientID; "" matches tokens issued with no client).
	AuthenticateClient func(r *http.Request) (clientID string, err error)

	// MaxBodySize bounds the request body. Zero means
	// DefaultRevocationMaxBody (4 KiB).
	MaxBodySize int64

	// Deprecated: use MaxBodySize; read only when MaxBodySize is zero.
	MaxBodyBytes int64

	// RetryAfter is sent in the Retry-After header of a 503 answered when
	// the store fails, rounded up to whole seconds. Zero means
	// authkit.DefaultRetryAfter (5 s). It was an int of seconds before:
	// RevocationHandler panics on a value under one second, so that an
	// old "RetryAfter: 5" (now 5 ns) is caught at start-up.
	RetryAfter time.Duration
}

// RevocationHandler returns an OAuth 2.0 token revocation endpoint
// (RFC 7009). It accepts only POST with an application/x-www-form-urlencoded
// body holding token (and optionally token_type_hint). It authenticates the
// client with cfg.AuthenticateClient, then revokes the token if it was issued
// to that client: an access token is revoked; a refresh token revokes its
// family and the access tokens issued from it. As the RFC requires, an
// unknown, invalid or expired token, or one issued to another client, is
// answered 200 like a revoked one. token_type_hint is accepted and ignored:
// the prefix tells the kind.
//
// Errors are JSON bodies per RFC 6749 §5.2, with no library text:
// 405 for another method, 400 invalid_request for a malformed request,
// 401 invalid_client, 503 temporarily_unavailable when the store fails
// (through [authkit.Unavailable], which logs the cause to Config.Logger).
// It panics if cfg.AuthenticateClient is nil, a limit is negative, or
// RetryAfter is under one second.
func (m *Manager) RevocationHandler(cfg RevocationConfig) http.Handler {
	if cfg.AuthenticateClient == nil {
		panic("token: RevocationConfig.AuthenticateClient is nil")
	}
	if cfg.MaxBodySize < 0 || cfg.RetryAfter < 0 {
		panic("token: RevocationConfig has a negative limit")
	}
	if cfg.RetryAfter > 0 && cfg.RetryAfter < time.Second {
		panic(fmt.Sprintf("token: RevocationConfig.RetryAfter is %v, under one second: it is a time.Duration (write 5 * time.Second)", cfg.RetryAfter))
	}
	if cfg.MaxBodySize == 0 {
		cfg.MaxBodySize = cfg.MaxBodyBytes
	}
	if cfg.MaxBodySize == 0 {
		cfg.MaxBodySize = DefaultRevocationMaxBody
	}
	return &revocationHandler{m: m, cfg: cfg}
}

type revocationHandler struct {
	m   *Manager
	cfg RevocationConfig
}

func (h *revocationHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request")
		return
	}
	if ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || ct != "application/x-www-form-urlencoded" {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, h.cfg.MaxBodySize)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	clientID, err := h.cfg.AuthenticateClient(r)
	if err != nil {
		if scheme, _, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && scheme != "" {
			// RFC 6749 §5.2: answer the scheme the client tried.
			w.Header().Set("WWW-Authenticate", canonicalScheme(scheme))
		}
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	toks := r.PostForm["token"]
	if len(toks) != 1 || toks[0] == "" || len(r.PostForm["token_type_hint"]) > 1 {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	if err := h.m.revokeForClient(r, Token(toks[0]), clientID); err != nil {
		authkit.Unavailable{RetryAfter: h.cfg.RetryAfter, Logger: h.m.log, OAuth: true}.Write(w, r, "token: revocation endpoint cannot revoke", err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// canonicalScheme returns s if it is an RFC 9110 token of at most 32
// bytes, for echoing in WWW-Authenticate, and "Basic" otherwise.
func canonicalScheme(s string) string {
	if len(s) > 32 || !httpsyntax.IsToken(s) {
		return "Basic"
	}
	return s
}

// revokeForClient revokes t if it is a live token issued to clientID. It
// returns only store failures: anything else is "nothing to revoke".
func (m *Manager) revokeForClient(r *http.Request, t Token, clientID string) error {
	ctx := r.Context()
	var err error
	switch m.KindOf(t) {
	case KindAccess:
		_, err = m.revokeAccess(ctx, accessKey(t), func(rec *accessRecord) bool { return rec.clientID == clientID })
	case KindRefresh:
		err = m.revokeByRefresh(ctx, t, func(f *familyRecord) error {
			if f.clientID != clientID {
				return errSkip
			}
			return nil
		}, "rfc7009")
	}
	if errors.Is(err, ErrCorrupt) {
		// A record this version cannot read is not the client's problem;
		// leave it and report success as for an unknown token.
		m.cleanup(ctx, err)
		return nil
	}
	return err
}

func oauthError(w http.ResponseWriter, status int, code string) {
	writeOAuthError(w, status, code, "")
}
