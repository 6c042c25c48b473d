package jwtpair

import (
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
func (m *Manager) WriteResponse(w http.ResponseWriter, pair Pair) error {
	if err := m.SetCookie(w, pair); err != nil {
		return err
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

// SetCookie sets the refresh cookie to pair.Refresh, until the family's
// idle deadline, as WriteResponse does. Use it when answering a refresh
// yourself, in particular after an error wrapping ErrNoAccessToken, whose
// Pair holds the rotated refresh token the client must keep.
func (m *Manager) SetCookie(w http.ResponseWriter, pair Pair) error {
	c := m.cookie
	c.MaxAge = pair.Family.IdleExpires.Sub(pair.Family.Rotated)
	c.MaxAge = min(max(c.MaxAge, time.Second), cookie.MaxAgeLimit)
	if err := c.Set(w, string(pair.Refresh)); err != nil {
		return fmt.Errorf("jwtpair: setting the refresh cookie: %w", err)
	}
	return nil
}

// Handler returns the refresh endpoint, to mount at RefreshPath:
//
//   - POST reads the refresh cookie, rotates it and answers as
//     [Manager.WriteResponse]; a missing, duplicated, unknown, expired,
//     revoked or reused refresh token answers 400 {"error":"invalid_grant"}
//     (RFC 6749 §5.2) and deletes the cookie;
//   - DELETE logs out: it revokes the cookie's family, and so the JWTs
//     issued from it, deletes the cookie and answers 204;
//   - a request whose Sec-Fetch-Site header is present and not
//     "same-origin" answers 403; other methods answer 405;
//   - a store failure answers 503 {"error":"temporarily_unavailable"} with
//     Retry-After ([authkit.Unavailable]) and keeps the cookie — or, when
//     the refresh token was rotated but no access token could be signed,
//     sets the new one, so that the retry is no reuse.
func (m *Manager) Handler() http.Handler {
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
		if r.Method == http.MethodDelete {
			m.logout(w, r)
			return
		}
		m.refresh(w, r)
	})
}

func (m *Manager) refresh(w http.ResponseWriter, r *http.Request) {
	v, err := m.cookie.Read(r)
	if err != nil {
		_ = m.cookie.Delete(w)
		writeJSONError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	pair, err := m.Refresh(r.Context(), token.Token(v), "")
	switch {
	case errors.Is(err, authkit.ErrInvalidCredentials):
		_ = m.cookie.Delete(w)
		writeJSONError(w, http.StatusBadRequest, "invalid_grant")
		return
	case errors.Is(err, ErrNoAccessToken) && pair.Refresh != "":
		// The client must hold the successor, or its retry is reuse.
		if cerr := m.SetCookie(w, pair); cerr != nil {
			err = errors.Join(err, cerr)
		}
		m.unavailable.Write(w, r, "jwtpair: refresh endpoint unavailable", err)
		return
	case err != nil:
		m.unavailable.Write(w, r, "jwtpair: refresh endpoint unavailable", err)
		return
	}
	if err := m.WriteResponse(w, pair); err != nil {
		m.log.LogAttrs(r.Context(), slog.LevelError, "jwtpair: writing the refresh response", slog.Any("error", err))
	}
}

func (m *Manager) logout(w http.ResponseWriter, r *http.Request) {
	if v, err := m.cookie.Read(r); err == nil {
		if err := m.tokens.RevokeToken(r.Context(), token.Token(v)); err != nil && !errors.Is(err, authkit.ErrInvalidCredentials) {
			m.unavailable.Write(w, r, "jwtpair: logout unavailable", err)
			return
		}
	}
	_ = m.cookie.Delete(w)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

func writeJSONError(w http.ResponseWriter, status int, code string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"error":"` + code + `"}`))
}
