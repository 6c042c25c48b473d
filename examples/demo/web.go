package main

import (
	"encoding/json"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/hash"
	"github.com/authkit/authkit/login"
	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/throttle"
	"github.com/authkit/authkit/token"
)

// Messages shown after a redirect, chosen by a code in the query string
// (?m= for news, ?e= for errors), so that nothing a visitor types is echoed.
var messages = map[string]string{
	"registered":        "Account created. Now sign in with any of the four mechanisms below.",
	"cookie-in":         "Signed in with a sealed cookie.",
	"cookie-out":        "The sealed cookie was deleted from this browser. A copy taken earlier would still work until it expires: the server keeps nothing it could forget.",
	"session-in":        "Signed in with a server-side session.",
	"session-out":       "Signed out: the session record was deleted from the store, so every copy of the cookie is dead.",
	"upgraded":          "Signed in. Your stored password hash was upgraded to the current scheme — see Account.",
	"revoked":           "That device was signed out.",
	"logged-out-all":    "Signed out everywhere: every session, token, refresh family and JWT of the account was revoked.",
	"password-changed":  "Password changed. Every credential of the account was revoked, and this browser got a new session.",
	"bad-login":         "Wrong username or password.",
	"throttled":         "Too many attempts for this account or from this address. Wait a few minutes.",
	"busy":              "The server is busy hashing other passwords. Try again.",
	"taken":             "That username is taken. (Registration tells anyone whether a name exists, as on every site where people choose a name.)",
	"need-session":      "Sign in with a session (panel 2) to see your devices.",
	"unavailable":       "The store is unavailable right now. Try again.",
	"bad-request":       "The form was incomplete.",
	"bad-password":      "The current password was wrong.",
	"invalid_username":  "A username has 3 to 32 characters: letters, digits, '.', '_' and '-'.",
	"invalid_password":  "That password is not accepted: at least 8 characters, not a well-known password, not containing the username.",
	"password-mismatch": "The two new passwords differ.",
}

func parsePages() (*template.Template, error) {
	sub, err := fs.Sub(webFS, "web/templates")
	if err != nil {
		return nil, err
	}
	return template.New("").Funcs(template.FuncMap{
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		},
		"ago":    func(t time.Time) string { return ago(time.Since(t)) },
		"device": deviceName,
		"short": func(key string) string { // a store key, shortened for display
			if len(key) > 22 {
				return key[:20] + "…"
			}
			return key
		},
		"in": func(t time.Time) string { return ago(time.Until(t)) },
	}).ParseFS(sub, "*.html")
}

func ago(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Minute:
		return "seconds"
	case d < 2*time.Minute:
		return "1 minute"
	case d < 2*time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " minutes"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + " hours"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + " days"
}

// The view of the page's top part and each panel.
type page struct {
	Title   string
	Store   string
	Message string
	Error   string
	Account *accountView
	Cookie  cookieView
	Session sessionView
	Events  []authkit.Event
	SSO     *ssoView // nil when sign-in with SSO is off
	SignIn  *signinView
	Keys    *keysView
	// Devices page only.
	Sessions []session.Info
	Families []token.FamilyInfo
}

type accountView struct {
	Name         string
	Via          string
	StoreKey     string
	Scheme       string
	HashShape    string
	Version      int
	Created      time.Time
	UpgradedFrom string
	UpgradedAt   time.Time
}

type cookieView struct {
	SignedIn  bool
	Refused   string // why a cookie the browser sent was refused
	Subject   string
	SetCookie string
	Sent      string
	Attrs     []attr
	Anatomy   []field
	Payload   string
	Expires   time.Time
}

type sessionView struct {
	SignedIn  bool
	Subject   string
	SetCookie string
	Sent      string
	Attrs     []attr
	IDShort   string
	StoreKey  string
	Dump      string
	Fields    []field
	FieldsErr string
	IndexKey  string
	Devices   int
	Expires   time.Time
	AuthTime  time.Time
}

type attr struct{ Name, Value, Why string }

// attrsOf lists a Set-Cookie line's attributes with what each one does.
func attrsOf(line, name string) []attr {
	var out []attr
	if strings.HasPrefix(name, "__Host-") {
		out = append(out, attr{"__Host- prefix", "", "the browser accepts the cookie only if it is Secure, has Path=/ and no Domain: no subdomain or plain-HTTP page can plant or overwrite it"})
	} else if strings.HasPrefix(name, "__Secure-") {
		out = append(out, attr{"__Secure- prefix", "", "the browser accepts the cookie only with Secure"})
	}
	_, rest, _ := strings.Cut(line, ";")
	for a := range strings.SplitSeq(rest, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(a), "=")
		why := map[string]string{
			"Path":     "sent with requests under this path only",
			"Max-Age":  "seconds until the browser drops it",
			"Secure":   "sent over HTTPS only (and to localhost)",
			"HttpOnly": "invisible to JavaScript: document.cookie cannot read it, so a script injected into the page cannot steal it",
			"SameSite": "Lax: not sent with cross-site subrequests or cross-site POSTs; Strict: not sent on any cross-site request",
		}[k]
		if k == "" {
			continue
		}
		if k == "Max-Age" {
			if n, err := strconv.Atoi(v); err == nil {
				why += " (" + ago(time.Duration(n)*time.Second) + ")"
			}
		}
		if k == "Path" && v == "/" {
			why = "sent with every request to this site"
		}
		out = append(out, attr{k, v, why})
	}
	if !strings.Contains(line, "Max-Age") && !strings.Contains(line, "Expires") {
		out = append(out, attr{"no Max-Age", "", "a browser-session cookie: gone when the browser closes; the server-side timeouts still apply"})
	}
	return out
}

func redirect(w http.ResponseWriter, r *http.Request, path, kind, code, anchor string) {
	u := path
	if code != "" {
		u += "?" + kind + "=" + url.QueryEscape(code)
	}
	if anchor != "" {
		u += "#" + anchor
	}
	http.Redirect(w, r, u, http.StatusSeeOther)
}

// loginErrorCode maps an error of login.Password.SignIn to a message code.
func loginErrorCode(err error) string {
	switch {
	case errors.Is(err, login.ErrInvalidCredentials):
		return "bad-login"
	case errors.Is(err, throttle.ErrLimited):
		return "throttled"
	case errors.Is(err, login.ErrCrossOrigin):
		return "bad-request"
	case errors.Is(err, hash.ErrBusy):
		return "busy"
	}
	return "unavailable"
}

func (s *server) render(w http.ResponseWriter, r *http.Request, name string, p *page) {
	p.Store = s.cfg.StoreName
	if m := r.URL.Query().Get("m"); messages[m] != "" {
		p.Message = messages[m]
	}
	if e := r.URL.Query().Get("e"); messages[e] != "" {
		p.Error = messages[e]
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.pages.ExecuteTemplate(w, name, p); err != nil {
		s.log.Error("render", "page", name, "err", err)
	}
}

// GET / — the four panels. It reads, and never changes, state.
func (s *server) index(w http.ResponseWriter, r *http.Request) {
	p := &page{Title: "authkit demo"}
	ctx := r.Context()

	// Cookie panel: the sealed cookie, opened.
	if v, err := s.demoCookie.Read(r); err == nil {
		cv := &p.Cookie
		cv.Sent = "Cookie: " + demoCookieName + "=" + abbrev(v)
		cv.Anatomy, _ = decodeCookieValue(v)
		if raw, err := s.st.Get(ctx, showCookieKey(demoCookieName, v)); err == nil {
			cv.SetCookie = string(raw)
			cv.Attrs = attrsOf(cv.SetCookie, demoCookieName)
		}
		var payload cookiePayload
		if err := s.codec.OpenJSON(demoCookieName, v, &payload); err != nil {
			cv.Refused = "the server cannot open it: it is expired, was sealed with a key of an earlier run, or was tampered with"
		} else if u, err := s.users.get(ctx, payload.Sub); err != nil || u.Version != payload.V {
			cv.Refused = "it opens, but the account's password changed since it was issued (the demo checks a version number — the one store read that makes this cookie revocable)"
		} else {
			cv.SignedIn, cv.Subject = true, payload.Sub
			cv.Expires = time.UnixMilli(payload.Exp)
			cv.Payload = payload.pretty()
		}
	}

	// Session panel: the session, and its record as the store holds it.
	if id, err := s.sessions.Authenticate(r); err == nil {
		sv := &p.Session
		sv.SignedIn, sv.Subject, sv.Expires, sv.AuthTime = true, id.Subject, id.Expires, id.AuthTime
		if sid, err := s.sessionCookie.Read(r); err == nil {
			sv.Sent = "Cookie: " + session.DefaultCookieName + "=" + abbrev(sid)
			sv.IDShort = abbrev(sid)
			sv.StoreKey = storeKey("sess:", sid)
			if raw, err := s.st.Get(ctx, sv.StoreKey); err == nil {
				sv.Dump = hexDump(raw, 512)
				if sv.Fields, err = decodeSessionRecord(raw); err != nil {
					sv.FieldsErr = err.Error()
				}
			}
			if raw, err := s.st.Get(ctx, showCookieKey(session.DefaultCookieName, sid)); err == nil {
				sv.SetCookie = string(raw)
				sv.Attrs = attrsOf(sv.SetCookie, session.DefaultCookieName)
			}
		}
		sv.IndexKey = storeKey("sidx:", id.Subject)
		if list, err := s.sessions.Sessions(ctx, id.Subject); err == nil {
			sv.Devices = len(list)
		}
	} else if !errors.Is(err, authkit.ErrNoCredentials) && !errors.Is(err, authkit.ErrInvalidCredentials) {
		s.log.Warn("reading the session", "err", err)
		p.Error = messages["unavailable"]
	}

	name, via := p.Session.Subject, "session"
	if name == "" {
		name, via = p.Cookie.Subject, "sealed cookie"
	}
	if name != "" {
		if u, err := s.users.get(ctx, name); err == nil {
			p.Account = &accountView{
				Name: u.Name, Via: via, StoreKey: userKey(u.Name), Scheme: describeHash(u.Hash), HashShape: hashPrefix(u.Hash),
				Version: u.Version, Created: u.Created, UpgradedFrom: u.UpgradedFrom, UpgradedAt: u.UpgradedAt,
			}
		}
		p.Events = s.events.recent(name, 8)
	}
	p.SSO = s.ssoView(r)
	p.SignIn = s.signinView(r, p.Session.Subject)
	p.Keys = s.keysView(r)
	s.render(w, r, "index.html", p)
}

// cookiePayload is what the sealed cookie carries.
type cookiePayload struct {
	Sub string `json:"sub"`
	V   int    `json:"v"`   // the user's credential version when issued
	Iat int64  `json:"iat"` // Unix ms
	Exp int64  `json:"exp"` // Unix ms, also sealed into the value by the codec
}

func (p cookiePayload) pretty() string {
	b, _ := json.MarshalIndent(p, "", "  ")
	return string(b)
}

// formLogin reads the username and password fields of a form post.
func formLogin(w http.ResponseWriter, r *http.Request) (string, string, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		return "", "", false
	}
	u, p := r.PostForm.Get("username"), r.PostForm.Get("password")
	if u == "" || p == "" || len(u) > 4*maxUsernameLen || len(p) > maxPasswordLen {
		return "", "", false
	}
	return u, p, true
}

// POST /register (form).
func (s *server) webRegister(w http.ResponseWriter, r *http.Request) {
	u, p, ok := formLogin(w, r)
	if !ok {
		redirect(w, r, "/", "e", "bad-request", "account")
		return
	}
	_, err := s.register(r, u, p)
	var in *inputError
	switch {
	case errors.As(err, &in):
		redirect(w, r, "/", "e", in.Code, "account")
	case errors.Is(err, errTaken):
		redirect(w, r, "/", "e", "taken", "account")
	case err != nil:
		s.log.Error("register", "err", err)
		redirect(w, r, "/", "e", "unavailable", "account")
	default:
		redirect(w, r, "/", "m", "registered", "cookie")
	}
}

// POST /cookie/login (form): a sealed cookie holding the user name.
func (s *server) webCookieLogin(w http.ResponseWriter, r *http.Request) {
	u, p, ok := formLogin(w, r)
	if !ok {
		redirect(w, r, "/", "e", "bad-request", "cookie")
		return
	}
	res, err := s.password.SignIn(w, r, u, p)
	if err != nil {
		redirect(w, r, "/", "e", loginErrorCode(err), "cookie")
		return
	}
	// The cookie carries the credential version, read after the sign-in.
	usr, err := s.users.get(r.Context(), res.Subject)
	if err != nil {
		s.log.Error("reading the user", "err", err)
		redirect(w, r, "/", "e", "unavailable", "cookie")
		return
	}
	now := s.now()
	payload := cookiePayload{Sub: usr.Name, V: usr.Version, Iat: now.UnixMilli(), Exp: now.Add(demoCookieTTL).UnixMilli()}
	v, err := s.codec.SealJSON(demoCookieName, payload, demoCookieTTL)
	if err == nil {
		err = s.demoCookie.Set(w, v)
	}
	if err != nil {
		s.log.Error("sealing the cookie", "err", err)
		redirect(w, r, "/", "e", "unavailable", "cookie")
		return
	}
	s.emit(r, authkit.EventLogin, "cookie", usr.Name, "")
	redirect(w, r, "/", "m", msgAfterLogin(res, "cookie-in"), "cookie")
}

func msgAfterLogin(res login.Result, code string) string {
	if res.Rehashed {
		return "upgraded"
	}
	return code
}

// POST /cookie/logout (form).
func (s *server) webCookieLogout(w http.ResponseWriter, r *http.Request) {
	s.demoCookie.Delete(w)
	redirect(w, r, "/", "m", "cookie-out", "cookie")
}

// POST /session/login (form).
func (s *server) webSessionLogin(w http.ResponseWriter, r *http.Request) {
	u, p, ok := formLogin(w, r)
	if !ok {
		redirect(w, r, "/", "e", "bad-request", "session")
		return
	}
	res, err := s.password.SignIn(w, r, u, p)
	if err != nil {
		redirect(w, r, "/", "e", loginErrorCode(err), "session")
		return
	}
	if err := s.sessionLogin(r, res.Subject, "web form"); err != nil {
		s.log.Error("session login", "err", err)
		redirect(w, r, "/", "e", "unavailable", "session")
		return
	}
	redirect(w, r, "/", "m", msgAfterLogin(res, "session-in"), "session")
}

// POST /session/logout (form).
func (s *server) webSessionLogout(w http.ResponseWriter, r *http.Request) {
	if err := s.sessions.Logout(r.Context()); err != nil {
		s.log.Error("session logout", "err", err)
		redirect(w, r, "/", "e", "unavailable", "session")
		return
	}
	redirect(w, r, "/", "m", "session-out", "session")
}

// GET /devices — the signed-in user's sessions and refresh families.
func (s *server) devices(w http.ResponseWriter, r *http.Request) {
	id, _ := authkit.IdentityFrom(r.Context())
	p := &page{Title: "Your devices — authkit demo"}
	var err error
	if p.Sessions, err = s.sessions.Sessions(r.Context(), id.Subject); err == nil {
		p.Families, err = s.tokens.Families(r.Context(), id.Subject)
	}
	if err != nil {
		s.log.Error("devices", "err", err)
		p.Error = messages["unavailable"]
	}
	slices.Reverse(p.Sessions) // newest first
	slices.Reverse(p.Families)
	p.Account = &accountView{Name: id.Subject, Via: "session"}
	p.Events = s.events.recent(id.Subject, 12)
	s.render(w, r, "devices.html", p)
}

// POST /devices/revoke (form: handle) — sign out one session.
func (s *server) webRevokeSession(w http.ResponseWriter, r *http.Request) {
	id, _ := authkit.IdentityFrom(r.Context())
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	err := s.sessions.RevokeID(r.Context(), id.Subject, r.PostFormValue("handle"))
	if err != nil && !errors.Is(err, session.ErrNotFound) {
		s.log.Error("revoke session", "err", err)
		redirect(w, r, "/devices", "e", "unavailable", "")
		return
	}
	redirect(w, r, "/devices", "m", "revoked", "")
}

// POST /devices/revoke-family (form: id) — sign out one token or JWT client.
func (s *server) webRevokeFamily(w http.ResponseWriter, r *http.Request) {
	id, _ := authkit.IdentityFrom(r.Context())
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	fid := r.PostFormValue("id")
	// Revoking the family also revokes its JWTs (jwtpair.New connected the
	// token manager to the JWT verifier).
	err := s.tokens.RevokeFamily(r.Context(), id.Subject, fid)
	if err != nil && !errors.Is(err, token.ErrNotFound) {
		s.log.Error("revoke family", "err", err)
		redirect(w, r, "/devices", "e", "unavailable", "")
		return
	}
	redirect(w, r, "/devices", "m", "revoked", "")
}

// POST /devices/logout-all — every credential of the user ends, through
// authkit.RevokeSubject: sessions (this one too), tokens, refresh families,
// JWTs.
func (s *server) webLogoutAll(w http.ResponseWriter, r *http.Request) {
	id, _ := authkit.IdentityFrom(r.Context())
	err := s.sessions.Logout(r.Context())
	if err == nil {
		err = s.revokeEverything(r.Context(), id.Subject)
	}
	if err != nil {
		s.log.Error("logout everywhere", "err", err)
		redirect(w, r, "/devices", "e", "unavailable", "")
		return
	}
	redirect(w, r, "/", "m", "logged-out-all", "session")
}

// POST /password (form: current, new, confirm) — change the password, then
// revoke every credential of the user and give this browser a new session.
func (s *server) webChangePassword(w http.ResponseWriter, r *http.Request) {
	id, _ := authkit.IdentityFrom(r.Context())
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		redirect(w, r, "/devices", "e", "bad-request", "password")
		return
	}
	cur, next := r.PostForm.Get("current"), r.PostForm.Get("new")
	if cur == "" || next == "" || len(cur) > maxPasswordLen {
		redirect(w, r, "/devices", "e", "bad-request", "password")
		return
	}
	if next != r.PostForm.Get("confirm") {
		redirect(w, r, "/devices", "e", "password-mismatch", "password")
		return
	}
	// The current password is checked like a sign-in: throttled, so a
	// borrowed session cannot be used to guess it.
	if _, err := s.password.SignIn(w, r, id.Subject, cur); err != nil {
		code := loginErrorCode(err)
		if code == "bad-login" {
			code = "bad-password"
		}
		redirect(w, r, "/devices", "e", code, "password")
		return
	}
	if err := checkPassword(r.Context(), id.Subject, next); err != nil {
		var in *inputError
		if !errors.As(err, &in) {
			s.log.Error("password policy", "err", err)
			redirect(w, r, "/devices", "e", "unavailable", "password")
			return
		}
		redirect(w, r, "/devices", "e", "invalid_password", "password")
		return
	}
	h, err := s.hasher.Hash(r.Context(), next)
	if err == nil {
		_, err = s.users.update(r.Context(), id.Subject, func(u *user) error {
			u.Hash, u.Version, u.UpgradedFrom, u.UpgradedAt = h, u.Version+1, "", time.Time{}
			return nil
		})
	}
	if err == nil {
		err = s.revokeEverything(r.Context(), id.Subject)
	}
	if err == nil {
		err = s.sessions.Login(r.Context(), id.Subject)
	}
	if err != nil {
		s.log.Error("change password", "err", err)
		redirect(w, r, "/devices", "e", "unavailable", "password")
		return
	}
	redirect(w, r, "/devices", "m", "password-changed", "")
}
