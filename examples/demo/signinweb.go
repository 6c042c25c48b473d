package main

import (
	"errors"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/authkit/authkit/login"
	"github.com/authkit/authkit/throttle"
)

// The sign-in section's routes: a form and a JSON route for each flow.
// Every flow ends in a session (sessionLogin), like the session panel's.

// signinMessages are the sign-in section's flash messages, merged into
// messages.
var signinMessages = map[string]string{
	"signin-password": "Signed in with a password: the session panel shows the session it started.",
	"signin-link":     "Signed in with the login link. It is used up: opening it again shows “invalid or expired”.",
	"signin-code":     "Signed in with the one-time code.",
	"link-sent":       "If that address has an account, a login link is in the outbox below. (The answer is the same either way, so this form does not tell who has an account.)",
	"code-sent":       "If that address has an account, a code is in the outbox below. Type it here.",
	"bad-code":        "Wrong or expired code. Five wrong codes end the challenge; ask for a new code.",
	"throttled-send":  "Too many links or codes for this address or from this client. Wait a few minutes.",
}

func init() { maps.Copy(messages, signinMessages) }

// signinRoutes adds the sign-in section's routes to mux.
func (s *server) signinRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /signin/password", s.webSigninPassword)
	mux.HandleFunc("POST /signin/link/send", s.webSendLink)
	mux.Handle(linkPath, s.links.Handler(s.linkDone)) // GET: confirm; POST: sign in
	mux.HandleFunc("POST /signin/code/send", s.webSendCode)
	mux.HandleFunc("POST /signin/code/verify", s.webVerifyCode)

	mux.HandleFunc("POST /api/signin/link", s.apiSendLink)
	mux.HandleFunc("POST /api/signin/code", s.apiSendCode)
	mux.HandleFunc("POST /api/signin/code/verify", s.apiVerifyCode)
	mux.HandleFunc("GET /api/signin/throttle", s.apiThrottle)
}

// signinRedirect answers a sign-in form with a redirect to the section,
// showing the throttle state of name when it is a valid user name. Only a
// valid name goes into the URL: the page never echoes arbitrary input.
func signinRedirect(w http.ResponseWriter, r *http.Request, kind, code, name string) {
	u := "/?" + kind + "=" + url.QueryEscape(code)
	if n, err := normalizeUsername(name); err == nil {
		u += "&as=" + url.QueryEscape(n)
	}
	http.Redirect(w, r, u+"#signin", http.StatusSeeOther)
}

// nameOf is the account name of a demo address, for the throttle view.
func nameOf(address string) string {
	local, _ := strings.CutSuffix(strings.ToLower(strings.TrimSpace(address)), "@"+mailDomain)
	return local
}

// POST /signin/password (form: username, password).
func (s *server) webSigninPassword(w http.ResponseWriter, r *http.Request) {
	u, p, ok := formLogin(w, r)
	if !ok {
		signinRedirect(w, r, "e", "bad-request", "")
		return
	}
	res, err := s.password.SignIn(w, r, u, p)
	if err != nil {
		signinRedirect(w, r, "e", loginErrorCode(err), u)
		return
	}
	if err := s.sessionLogin(r, res.Subject, "password"); err != nil {
		s.log.Error("session login", "err", err)
		signinRedirect(w, r, "e", "unavailable", u)
		return
	}
	msg := "signin-password"
	if res.Rehashed {
		msg = "upgraded"
	}
	signinRedirect(w, r, "m", msg, res.Subject)
}

// POST /signin/link/send (form: address) — a login link to the outbox.
func (s *server) webSendLink(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	addr := r.PostFormValue("address")
	switch err := s.links.Request(w, r, addr); {
	case err == nil:
		signinRedirect(w, r, "m", "link-sent", nameOf(addr))
	case errors.Is(err, throttle.ErrLimited):
		signinRedirect(w, r, "e", "throttled-send", nameOf(addr))
	default:
		s.log.Error("login link", "err", err)
		signinRedirect(w, r, "e", "unavailable", "")
	}
}

// linkDone signs in the subject of a login link that was just used.
func (s *server) linkDone(w http.ResponseWriter, r *http.Request, res login.Result) {
	if err := s.sessionLogin(r, res.Subject, "email link"); err != nil {
		s.log.Error("session login", "err", err)
		signinRedirect(w, r, "e", "unavailable", "")
		return
	}
	signinRedirect(w, r, "m", "signin-link", res.Subject)
}

// linkPageView is the page a login link opens.
type linkPageView struct {
	*page
	Link login.LinkPage
}

// linkPage renders the confirmation page of a login link (LinkConfig.Page).
func (s *server) linkPage(w http.ResponseWriter, r *http.Request, lp login.LinkPage) {
	v := linkPageView{page: &page{Title: "Sign in with a link — authkit demo", Store: s.cfg.StoreName}, Link: lp}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := s.pages.ExecuteTemplate(w, "signin-link.html", v); err != nil {
		s.log.Error("render", "page", "signin-link.html", "err", err)
	}
}

// POST /signin/code/send (form: address) — a code to the outbox, and the
// challenge's ID in a cookie for the form that takes the code.
func (s *server) webSendCode(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	addr := r.PostFormValue("address")
	ch, err := s.codes.Start(r, addr)
	switch {
	case err == nil:
	case errors.Is(err, throttle.ErrLimited):
		signinRedirect(w, r, "e", "throttled-send", nameOf(addr))
		return
	default:
		s.log.Error("one-time code", "err", err)
		signinRedirect(w, r, "e", "unavailable", "")
		return
	}
	if err := s.codeCookie.Set(w, ch.ID); err != nil {
		s.log.Error("code cookie", "err", err)
		signinRedirect(w, r, "e", "unavailable", "")
		return
	}
	signinRedirect(w, r, "m", "code-sent", nameOf(addr))
}

// POST /signin/code/verify (form: code), the challenge from the cookie.
func (s *server) webVerifyCode(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	code := strings.TrimSpace(r.PostFormValue("code"))
	id, _ := s.codeCookie.Read(r)
	res, err := s.codes.Verify(r, id, code)
	switch {
	case err == nil:
	case errors.Is(err, login.ErrInvalidCode):
		signinRedirect(w, r, "e", "bad-code", "")
		return
	default:
		s.log.Error("one-time code", "err", err)
		signinRedirect(w, r, "e", "unavailable", "")
		return
	}
	s.codeCookie.Delete(w)
	if err := s.sessionLogin(r, res.Subject, "one-time code"); err != nil {
		s.log.Error("session login", "err", err)
		signinRedirect(w, r, "e", "unavailable", "")
		return
	}
	signinRedirect(w, r, "m", "signin-code", res.Subject)
}

// readAddress reads {"address"}; on failure it has answered.
func readAddress(w http.ResponseWriter, r *http.Request) (string, bool) {
	var req struct {
		Address string `json:"address"`
	}
	if !readJSON(w, r, &req) {
		return "", false
	}
	if req.Address == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "address is required")
		return "", false
	}
	return req.Address, true
}

// sendError answers a refused link or code request: 429 with Retry-After,
// or 503.
func (s *server) sendError(w http.ResponseWriter, what string, err error) {
	if login.SetRetryAfter(w.Header(), err) {
		writeError(w, http.StatusTooManyRequests, "too_many_requests", "too many links or codes for this address or from this client; try again later")
		return
	}
	s.internalError(w, what, err)
}

// POST /api/signin/link {"address"} → 202 {"expires_in"}, whether or not
// the address has an account; the link goes to the outbox.
func (s *server) apiSendLink(w http.ResponseWriter, r *http.Request) {
	addr, ok := readAddress(w, r)
	if !ok {
		return
	}
	if err := s.links.Request(w, r, addr); err != nil {
		s.sendError(w, "login link", err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]int{"expires_in": int(login.DefaultLinkLifetime.Seconds())})
}

// POST /api/signin/code {"address"} → 202 {"challenge","expires_in"},
// whether or not the address has an account; the code goes to the outbox.
func (s *server) apiSendCode(w http.ResponseWriter, r *http.Request) {
	addr, ok := readAddress(w, r)
	if !ok {
		return
	}
	ch, err := s.codes.Start(r, addr)
	if err != nil {
		s.sendError(w, "one-time code", err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"challenge": ch.ID, "expires_in": int(ch.Expires.Sub(s.now()).Round(time.Second).Seconds())})
}

// POST /api/signin/code/verify {"challenge","code"} → 200 and a session
// cookie; 401 invalid_code for a wrong, used, expired or exhausted code.
func (s *server) apiVerifyCode(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Challenge string `json:"challenge"`
		Code      string `json:"code"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	res, err := s.codes.Verify(r, req.Challenge, req.Code)
	switch {
	case err == nil:
	case errors.Is(err, login.ErrInvalidCode):
		writeError(w, http.StatusUnauthorized, "invalid_code", "wrong or expired code")
		return
	default:
		s.internalError(w, "one-time code", err)
		return
	}
	if err := s.sessionLogin(r, res.Subject, "one-time code"); err != nil {
		s.internalError(w, "session login", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"subject": res.Subject, "method": "session"})
}
