package token

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/authkit/authkit"
)

// OAuth 2.0 error codes of a token endpoint (RFC 6749 §5.2), for
// [WriteErrorCode].
const (
	CodeInvalidRequest         = "invalid_request"
	CodeInvalidClient          = "invalid_client"
	CodeInvalidGrant           = "invalid_grant"
	CodeUnauthorizedClient     = "unauthorized_client"
	CodeUnsupportedGrantType   = "unsupported_grant_type"
	CodeInvalidScope           = "invalid_scope"
	CodeTemporarilyUnavailable = "temporarily_unavailable"
)

// tokenResponse is the body of a successful token response (RFC 6749 §5.1).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

// WriteResponse answers a token request with p, as RFC 6749 §5.1 says: 200
// with a JSON body holding access_token, token_type "Bearer", expires_in
// (the access token's lifetime in whole seconds), refresh_token and — when
// the token has scopes — scope, sent with Cache-Control: no-store and
// Pragma: no-cache so that no cache keeps the tokens. It returns the error
// of writing the body.
//
//	p, err := tokens.RefreshPair(r.Context(), token.Token(r.PostFormValue("refresh_token")), clientID)
//	if err != nil {
//		tokens.WriteError(w, r, err)
//		return
//	}
//	tokens.WriteResponse(w, p)
func (m *Manager) WriteResponse(w http.ResponseWriter, p Pair) error {
	body, err := json.Marshal(tokenResponse{
		AccessToken:  string(p.Access),
		TokenType:    "Bearer",
		ExpiresIn:    int64(p.AccessInfo.Expires.Sub(p.AccessInfo.Created) / time.Second),
		RefreshToken: string(p.Refresh),
		Scope:        strings.Join(p.AccessInfo.Scopes, " "),
	})
	if err != nil {
		return err
	}
	noStoreJSON(w.Header())
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(append(body, '\n'))
	return err
}

// WriteError answers a token request that failed with err, an error of
// [Manager.IssuePair], [Manager.Refresh] or [Manager.RefreshPair]:
//
//   - a refused token (any error matching [authkit.ErrInvalidCredentials]:
//     unknown, expired, revoked, reused, another client's): 400
//     invalid_grant;
//   - [ErrInvalidOptions]: 400 invalid_request;
//   - anything else — the store cannot be reached, a revocation is
//     unfinished — is no fault of the client's: 503
//     temporarily_unavailable with Retry-After ([authkit.DefaultRetryAfter]),
//     logged to Config.Logger through [authkit.Unavailable]. The client
//     retries with the same refresh token, which is no reuse (see "Failures
//     and retries" on [Manager.Refresh]).
//
// The body never holds the error's text. To say more, such as telling
// reuse apart, branch on the error and call [WriteErrorCode].
func (m *Manager) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, authkit.ErrInvalidCredentials):
		WriteErrorCode(w, CodeInvalidGrant, "")
	case errors.Is(err, ErrInvalidOptions):
		WriteErrorCode(w, CodeInvalidRequest, "")
	default:
		authkit.Unavailable{Logger: m.log, OAuth: true}.Write(w, r, "token: token endpoint cannot answer", err)
	}
}

// WriteErrorCode answers a token request with the RFC 6749 §5.2 error code
// (one of the Code constants, or an extension code) and an optional
// human-readable description: 401 for invalid_client, 503 with
// Retry-After for temporarily_unavailable, 400 otherwise; a JSON body
// {"error":…,"error_description":…}, sent with Cache-Control: no-store.
//
// The RFC allows only printable ASCII without '"' and '\' in both: a code
// outside it is sent as invalid_request, and a description outside it is
// left out, so no caller's text can break the body. Never put an error's
// text in the description.
func WriteErrorCode(w http.ResponseWriter, code, description string) {
	status := http.StatusBadRequest
	switch code {
	case CodeInvalidClient:
		status = http.StatusUnauthorized
	case CodeTemporarilyUnavailable:
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", strconv.Itoa(int(authkit.DefaultRetryAfter/time.Second)))
	}
	writeOAuthError(w, status, code, description)
}

// writeOAuthError writes an RFC 6749 §5.2 error body with status.
func writeOAuthError(w http.ResponseWriter, status int, code, description string) {
	if code == "" || !oauthText(code) {
		code = CodeInvalidRequest
	}
	b := make([]byte, 0, 40+len(code)+len(description))
	b = append(b, `{"error":"`...)
	b = append(b, code...)
	if description != "" && oauthText(description) {
		b = append(b, `","error_description":"`...)
		b = append(b, description...)
	}
	b = append(b, "\"}\n"...)
	noStoreJSON(w.Header())
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// oauthText reports whether s uses only the characters RFC 6749 allows in
// an error code or description: %x20-21 / %x23-5B / %x5D-7E. None needs
// escaping in JSON.
func oauthText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func noStoreJSON(h http.Header) {
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}
