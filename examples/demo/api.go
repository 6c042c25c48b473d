package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/hash"
	"github.com/authkit/authkit/jwtpair"
	"github.com/authkit/authkit/login"
	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/token"
)

// maxBody bounds every JSON request body of the API.
const maxBody = 4 << 10

// apiError is the JSON error body of the API, shaped like OAuth 2.0's
// (RFC 6749 §5.2).
type apiError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, apiError{code, desc})
}

// readJSON decodes the request body, a single JSON object of at most
// maxBody bytes with no unknown fields, into dst. On failure it has
// answered 400 and returns false.
func readJSON(w http.ResponseWriter, r *http.Request, dst any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("trailing data after the JSON object")
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusBadRequest, "invalid_request", fmt.Sprintf("the request body is larger than %d bytes", maxBody))
		} else {
			writeError(w, http.StatusBadRequest, "invalid_request", "the body must be a JSON object with the documented fields")
		}
		return false
	}
	return true
}

type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// readCredentials reads {"username","password"}; on failure it has answered.
func readCredentials(w http.ResponseWriter, r *http.Request) (credentials, bool) {
	var c credentials
	if !readJSON(w, r, &c) {
		return c, false
	}
	if c.Username == "" || c.Password == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "username and password are required")
		return c, false
	}
	if len(c.Username) > 4*maxUsernameLen || len(c.Password) > maxPasswordLen {
		writeError(w, http.StatusBadRequest, "invalid_request", "username or password too long")
		return c, false
	}
	return c, true
}

// apiLogin reads credentials and checks them through login.Password; on
// failure it has answered: 401 for a wrong password or an unknown user (the
// same response for both), 429 with Retry-After when throttled, 503 when
// busy.
func (s *server) apiLogin(w http.ResponseWriter, r *http.Request) (login.Result, bool) {
	c, ok := readCredentials(w, r)
	if !ok {
		return login.Result{}, false
	}
	res, err := s.password.SignIn(w, r, c.Username, c.Password)
	if err != nil {
		s.writeLoginError(w, err)
		return res, false
	}
	return res, true
}

func (s *server) writeLoginError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, login.ErrInvalidCredentials):
		writeError(w, http.StatusUnauthorized, "invalid_credentials", "wrong username or password")
	case login.SetRetryAfter(w.Header(), err):
		writeError(w, http.StatusTooManyRequests, "too_many_attempts", "too many failed attempts; try again later")
	case errors.Is(err, login.ErrCrossOrigin):
		writeError(w, http.StatusForbidden, "cross_origin", "cross-origin login refused")
	case errors.Is(err, hash.ErrBusy):
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "busy", "too many logins at once; try again")
	default:
		s.log.Error("login", "err", err)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the store is unavailable")
	}
}

func (s *server) internalError(w http.ResponseWriter, what string, err error) {
	s.log.Error(what, "err", err)
	w.Header().Set("Retry-After", "5")
	writeError(w, http.StatusServiceUnavailable, "unavailable", "the server cannot do this right now")
}

// register creates a user; the error is an *inputError, errTaken or a
// store failure.
func (s *server) register(r *http.Request, username, password string) (user, error) {
	name, err := normalizeUsername(username)
	if err != nil {
		return user{}, err
	}
	if err := checkPassword(r.Context(), name, password); err != nil {
		return user{}, err
	}
	h, err := s.hasher.Hash(r.Context(), password)
	if err != nil {
		return user{}, err
	}
	u := user{Name: name, Hash: h, Version: 1, Created: s.now()}
	if err := s.users.create(r.Context(), u); err != nil {
		return user{}, err
	}
	return u, nil
}

// POST /api/register {"username","password"} → 201 {"username"}.
// A taken name is 409: registration tells anyone whether a name is taken,
// as on every site that lets people choose one.
func (s *server) apiRegister(w http.ResponseWriter, r *http.Request) {
	var c credentials
	if !readJSON(w, r, &c) {
		return
	}
	u, err := s.register(r, c.Username, c.Password)
	var in *inputError
	switch {
	case errors.As(err, &in):
		writeError(w, http.StatusBadRequest, in.Code, in.Message)
	case errors.Is(err, errTaken):
		writeError(w, http.StatusConflict, "username_taken", "that username is taken")
	case err != nil:
		s.internalError(w, "register", err)
	default:
		writeJSON(w, http.StatusCreated, map[string]string{"username": u.Name})
	}
}

// POST /api/session/login {"username","password"} → 200 and the session
// cookie.
func (s *server) apiSessionLogin(w http.ResponseWriter, r *http.Request) {
	res, ok := s.apiLogin(w, r)
	if !ok {
		return
	}
	if err := s.sessionLogin(r, res.Subject, "JSON API"); err != nil {
		if errors.Is(err, session.ErrCrossOrigin) {
			writeError(w, http.StatusForbidden, "cross_origin", "cross-origin login refused")
			return
		}
		s.internalError(w, "session login", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"subject": res.Subject, "method": "session", "hash_upgraded": res.Rehashed})
}

// sessionLogin binds the request's session to subject and keeps two
// example values in it, so that the page has data to show: a string and a
// struct (stored as JSON, read back with session.Get[prefs]).
func (s *server) sessionLogin(r *http.Request, subject, via string) error {
	ctx := r.Context()
	if err := s.sessions.Login(ctx, subject); err != nil {
		return err
	}
	if err := session.Set(ctx, "signed_in_via", via); err != nil {
		return err
	}
	return session.Set(ctx, "prefs", prefs{Theme: "light", Lang: "en"})
}

// prefs is an example of a struct kept in a session.
type prefs struct {
	Theme string `json:"theme"`
	Lang  string `json:"lang"`
}

// POST /api/session/logout → 204. Without a session it does nothing.
func (s *server) apiSessionLogout(w http.ResponseWriter, r *http.Request) {
	if err := s.sessions.Logout(r.Context()); err != nil {
		s.internalError(w, "session logout", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type deviceJSON struct {
	Handle    string    `json:"handle"`
	Created   time.Time `json:"created"`
	LastSeen  time.Time `json:"last_seen"`
	Expires   time.Time `json:"expires"`
	UserAgent string    `json:"user_agent"`
	ClientIP  string    `json:"client_ip"`
	Current   bool      `json:"current"`
}

// GET /api/session/devices → {"sessions":[…]}, the caller's sessions.
func (s *server) apiDevices(w http.ResponseWriter, r *http.Request) {
	id, _ := authkit.IdentityFrom(r.Context())
	list, err := s.sessions.Sessions(r.Context(), id.Subject)
	if err != nil {
		s.internalError(w, "list sessions", err)
		return
	}
	out := make([]deviceJSON, 0, len(list))
	for _, d := range list {
		out = append(out, deviceJSON{d.Handle, d.Created, d.LastSeen, d.Expires, d.UserAgent, d.ClientIP, d.Current})
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": out})
}

// POST /api/session/logout-all → 204: every session of the caller ends,
// this one included.
func (s *server) apiLogoutAll(w http.ResponseWriter, r *http.Request) {
	id, _ := authkit.IdentityFrom(r.Context())
	if err := s.sessions.Logout(r.Context()); err != nil {
		s.internalError(w, "session logout", err)
		return
	}
	if err := s.sessions.RevokeSubject(r.Context(), id.Subject); err != nil {
		s.internalError(w, "session logout-all", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// POST /api/token/login {"username","password"} → an opaque access token
// and a refresh token.
func (s *server) apiTokenLogin(w http.ResponseWriter, r *http.Request) {
	res, ok := s.apiLogin(w, r)
	if !ok {
		return
	}
	p, err := s.tokens.IssuePair(r.Context(), res.Subject, token.FamilyOptions{
		Metadata: map[string]string{"via": "token", "agent": userAgent(r)},
	})
	if err != nil {
		s.tokens.WriteError(w, r, err) // 503 temporarily_unavailable: the store failed
		return
	}
	// RFC 6749 §5.1: access_token, token_type, expires_in, refresh_token;
	// Cache-Control: no-store.
	if err := s.tokens.WriteResponse(w, p); err != nil {
		s.log.Error("answering a token login", "err", err)
	}
}

// refreshError answers a failed refresh: 400 invalid_grant (RFC 6749
// §5.2) for a refused token, with a description telling reuse apart, and
// 503 temporarily_unavailable with Retry-After when the store failed — the
// client then retries with the same token, which is no reuse.
func (s *server) refreshError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, token.ErrReused):
		token.WriteErrorCode(w, token.CodeInvalidGrant, "refresh token reused: its family has been revoked")
	case errors.Is(err, authkit.ErrInvalidCredentials):
		token.WriteErrorCode(w, token.CodeInvalidGrant, "refresh token invalid, expired or revoked")
	default:
		s.tokens.WriteError(w, r, err)
	}
}

// POST /api/token/refresh {"refresh_token"} → a new pair; the old refresh
// token is spent, and presenting it again revokes the family.
func (s *server) apiTokenRefresh(w http.ResponseWriter, r *http.Request) {
	var req struct {
		RefreshToken string `json:"refresh_token"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	if req.RefreshToken == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "refresh_token is required")
		return
	}
	p, err := s.tokens.RefreshPair(r.Context(), token.Token(req.RefreshToken), "")
	if err != nil {
		s.refreshError(w, r, err)
		return
	}
	if err := s.tokens.WriteResponse(w, p); err != nil {
		s.log.Error("answering a token refresh", "err", err)
	}
}

// POST /api/jwt/login {"username","password"} → {"access_token",
// "token_type","expires_in"} and the refresh token in an HttpOnly
// __Secure- cookie scoped to /api/jwt/refresh, both from a jwtpair.Manager.
func (s *server) apiJWTLogin(w http.ResponseWriter, r *http.Request) {
	res, ok := s.apiLogin(w, r)
	if !ok {
		return
	}
	pair, err := s.pairs.Issue(r.Context(), res.Subject, token.FamilyOptions{
		Metadata: map[string]string{"via": "jwt", "agent": userAgent(r)},
	})
	if err != nil {
		s.internalError(w, "issue JWT and refresh token", err)
		return
	}
	if err := s.pairs.WriteResponse(w, pair); err != nil {
		s.log.Error("answering a JWT login", "err", err)
	}
}

// POST /api/jwt/refresh (the refresh cookie) → a new JWT and a new cookie.
// The rotation and the answer are the jwtpair.Manager's; the errors are
// the API's, with a description that tells reuse apart. A reused cookie
// revokes the family, and with it (jwtpair.New connected them) the JWTs
// issued from it.
func (s *server) apiJWTRefresh(w http.ResponseWriter, r *http.Request) {
	v, err := s.refreshCookie.Read(r)
	if err != nil { // absent, or sent twice (a planted copy): trust none
		writeError(w, http.StatusBadRequest, "invalid_grant", "no refresh cookie")
		return
	}
	pair, err := s.pairs.Refresh(r.Context(), token.Token(v), "")
	if err != nil {
		if errors.Is(err, authkit.ErrInvalidCredentials) {
			s.refreshCookie.Delete(w)
		}
		if errors.Is(err, jwtpair.ErrNoAccessToken) && pair.Refresh != "" {
			// Rotated, but no JWT: the client keeps the successor, so that
			// its retry is no reuse.
			if cerr := s.pairs.SetCookie(w, pair); cerr != nil {
				err = errors.Join(err, cerr)
			}
		}
		s.refreshError(w, r, err)
		return
	}
	if err := s.pairs.WriteResponse(w, pair); err != nil {
		s.log.Error("answering a JWT refresh", "err", err)
	}
}

// POST /api/jwt/logout (Bearer JWT) → 204: the JWT's refresh family is
// revoked — and with it (jwtpair.New connected them) every JWT issued from
// it — and the refresh cookie cleared.
func (s *server) apiJWTLogout(w http.ResponseWriter, r *http.Request) {
	id, _ := authkit.IdentityFrom(r.Context())
	if fid, _ := id.Claims["fid"].(string); fid != "" {
		err := s.tokens.RevokeFamily(r.Context(), id.Subject, fid)
		if err != nil && !errors.Is(err, token.ErrNotFound) {
			s.internalError(w, "revoke family", err)
			return
		}
	}
	s.refreshCookie.Delete(w)
	w.WriteHeader(http.StatusNoContent)
}

// GET /api/me → {"subject","method"} for a session cookie, an opaque token
// or a JWT: one authkit.Require accepts all three.
func (s *server) apiMe(w http.ResponseWriter, r *http.Request) {
	id, _ := authkit.IdentityFrom(r.Context())
	writeJSON(w, http.StatusOK, map[string]string{"subject": id.Subject, "method": id.Method})
}
