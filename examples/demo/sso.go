package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/oidc"
	"github.com/authkit/authkit/oidc/oidctest"
	"github.com/authkit/authkit/session"
)

// The "Sign in with SSO" panel: an OpenID Connect relying party (package
// oidc) ending in a session. Without -oidc-issuer it signs in with a small
// provider this process runs itself on another loopback port — a local
// stand-in for a company identity provider, built on the same OpenID
// provider library (package oidctest) — so the demo still needs nothing
// else. With -oidc-issuer, -oidc-client-id and -oidc-client-secret it uses
// a real provider.

// ssoProvider is the provider's name in the routes: /sso/corp/callback.
const ssoProvider = "corp"

// ssoConfig names a real OpenID provider. An empty Issuer means the
// stand-in.
type ssoConfig struct {
	Issuer, ClientID, ClientSecret string
}

// The stand-in provider's accounts, shown on the panel.
var ssoUsers = []oidctest.User{
	{Subject: "corp-000-jane", Username: "jane", Password: "jane-password", Email: "jane@corp.example", EmailVerified: true, Name: "Jane Doe"},
	{Subject: "corp-001-sam", Username: "sam", Password: "sam-password", Email: "sam@corp.example", Name: "Sam Roe"},
}

// sso is the panel's relying party and, for the stand-in, its provider.
type sso struct {
	rp       *oidc.RelyingParty
	idp      *oidctest.Server // nil with a real provider
	issuer   string
	redirect string
}

var ssoMessages = map[string]string{
	"sso-in":         "Signed in with SSO: the identity provider vouched for you with a signed ID token, and this server started a session.",
	"sso-out":        "Signed out here and at the identity provider (RP-initiated logout).",
	"sso-idp-ended":  "The identity provider ended your session there and told this server over the back channel: the session signed in through it is gone.",
	"sso-denied":     "Sign-in with SSO was cancelled at the identity provider.",
	"sso-failed":     "Sign-in with SSO failed: the response from the identity provider was refused. The server log says why.",
	"sso-expired":    "That sign-in link has expired or was already used. Start again.",
	"sso-return":     "The return address must be a page of this site.",
	"sso-down":       "The identity provider cannot be reached right now.",
	"sso-not-signed": "This browser is not signed in with SSO.",
}

func init() { maps.Copy(messages, ssoMessages) }

// newSSO sets up the panel for a demo served at public (its origin, as the
// browser sees it).
func newSSO(s *server, public string, c ssoConfig, events authkit.EventFunc) (*sso, error) {
	x := &sso{redirect: public + "/sso/" + ssoProvider + "/callback"}
	p := oidc.Provider{
		Name:                  ssoProvider,
		Issuer:                c.Issuer,
		ClientID:              c.ClientID,
		ClientSecret:          c.ClientSecret,
		RedirectURL:           x.redirect,
		PostLogoutRedirectURL: public + "/sso/signed-out",
	}
	if c.Issuer == "" {
		clientSecret := randomString(24)
		x.idp = oidctest.NewServer(oidctest.Config{
			Clients: []oidctest.Client{{
				ID:                     "authkit-demo",
				Secret:                 clientSecret,
				RedirectURIs:           []string{x.redirect},
				PostLogoutRedirectURIs: []string{p.PostLogoutRedirectURL},
				BackChannelLogoutURI:   public + "/sso/" + ssoProvider + "/backchannel-logout",
			}},
			Users:        ssoUsers,
			IssParameter: true,
			Logger:       s.log,
		})
		p.Issuer, p.ClientID, p.ClientSecret = x.idp.Issuer(), "authkit-demo", clientSecret
		p.Scopes = []string{"openid", "profile", "email", "offline_access"}
	}
	x.issuer = p.Issuer
	x.rp = oidc.New(s.sessions, s.st, oidc.Config{
		Providers:  []oidc.Provider{p},
		Codec:      s.codec,
		KeepTokens: true,
		Events:     events,
		Logger:     s.log,
		Now:        s.now,
	})
	return x, nil
}

// close stops the stand-in provider.
func (x *sso) close() {
	x.rp.Close()
	if x.idp != nil {
		x.idp.Close()
	}
}

// ssoRoutes adds the panel's routes: the library's callback and
// back-channel logout, and the demo's pages that show each step.
func (s *server) ssoRoutes(mux *http.ServeMux) {
	x := s.sso
	if x == nil {
		return
	}
	mux.HandleFunc("GET /sso/start", s.ssoStart)
	mux.HandleFunc("GET /sso/"+ssoProvider+"/callback", s.ssoCallback)
	mux.HandleFunc("POST /sso/"+ssoProvider+"/backchannel-logout", func(w http.ResponseWriter, r *http.Request) {
		if err := x.rp.BackChannelLogout(w, r, ssoProvider); err != nil {
			s.log.Warn("back-channel logout refused", "err", err)
		}
	})
	mux.HandleFunc("POST /sso/logout", s.ssoLogout)
	mux.HandleFunc("GET /sso/signed-out", func(w http.ResponseWriter, r *http.Request) {
		redirect(w, r, "/", "m", "sso-out", "sso")
	})
	mux.HandleFunc("POST /sso/end-idp-session", s.ssoEndIdPSession)
}

// ssoStep is the page between the demo and the provider: it shows the
// request about to be sent, with a link that sends it.
type ssoStep struct {
	Title, Message, Error string // for the page's top
	Heading, Lede         string
	Endpoint              string
	Params                []attr
	SetCookie             string
	Continue              string
	Note                  string
	Store                 string
}

// GET /sso/start — make the authorization request and show it.
func (s *server) ssoStart(w http.ResponseWriter, r *http.Request) {
	u, err := s.sso.rp.LoginURL(w, r, ssoProvider, "/?m=sso-in#sso")
	if err != nil {
		s.ssoFail(w, r, err)
		return
	}
	step := &ssoStep{
		Title:    "SSO: the authorization request",
		Heading:  "1. The authorization request",
		Lede:     "Your browser is about to go to the identity provider with this request. The server has stored nothing: state, nonce and the PKCE verifier are in the sealed flow cookie it just set.",
		Continue: u,
		Note:     "Continue to the identity provider →",
	}
	step.Endpoint, step.Params = explainURL(u, authParamWhy)
	for _, line := range w.Header().Values("Set-Cookie") {
		if strings.HasPrefix(line, oidc.DefaultCookiePrefix) {
			step.SetCookie = redactSetCookie(line)
		}
	}
	s.renderStep(w, step)
}

func (s *server) renderStep(w http.ResponseWriter, step *ssoStep) {
	step.Store = s.cfg.StoreName
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.pages.ExecuteTemplate(w, "sso-step.html", step); err != nil {
		s.log.Error("render", "page", "sso-step.html", "err", err)
	}
}

// authParamWhy explains the authorization request's parameters.
var authParamWhy = map[string]string{
	"response_type":         "code: the authorization code flow — tokens come later, server to server, never through the browser",
	"client_id":             "who is asking: this application, as registered with the provider",
	"redirect_uri":          "where the provider sends the browser back; it must be registered exactly",
	"scope":                 "what the application asks to learn: openid makes it OpenID Connect",
	"state":                 "random; comes back with the response and must name a flow cookie in this browser — stops login CSRF",
	"nonce":                 "random; the provider copies it into the ID token — stops replaying an ID token of another sign-in",
	"code_challenge":        "SHA-256 of the PKCE verifier kept in the flow cookie: a stolen code is useless without the verifier",
	"code_challenge_method": "S256: the challenge is a SHA-256 hash, never the verifier itself",
}

// explainURL splits u into its endpoint and its parameters, explained.
func explainURL(u string, why map[string]string) (string, []attr) {
	pu, err := url.Parse(u)
	if err != nil {
		return u, nil
	}
	q := pu.Query()
	pu.RawQuery = ""
	var out []attr
	for _, k := range []string{"response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge", "code_challenge_method", "id_token_hint", "post_logout_redirect_uri"} {
		if q.Has(k) {
			v := q.Get(k)
			if k == "id_token_hint" {
				v = abbrev(v)
			}
			out = append(out, attr{k, v, why[k]})
			q.Del(k)
		}
	}
	for k := range q {
		out = append(out, attr{k, q.Get(k), why[k]})
	}
	return pu.String(), out
}

// GET /sso/corp/callback — the library does the work; the demo redirects
// to the panel with a message code, never with the provider's text.
func (s *server) ssoCallback(w http.ResponseWriter, r *http.Request) {
	res, err := s.sso.rp.Callback(w, r, ssoProvider)
	if err != nil {
		s.ssoFail(w, r, err)
		return
	}
	http.Redirect(w, r, res.ReturnTo, http.StatusSeeOther)
}

func (s *server) ssoFail(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Warn("sign-in with SSO failed", "err", err)
	var pe *oidc.ProviderError
	code := "sso-failed"
	switch {
	case errors.As(err, &pe) && pe.AccessDenied():
		code = "sso-denied"
	case errors.Is(err, oidc.ErrState), errors.Is(err, oidc.ErrReplay):
		code = "sso-expired"
	case errors.Is(err, oidc.ErrReturnTo):
		code = "sso-return"
	case errors.Is(err, oidc.ErrDiscovery):
		code = "sso-down"
	}
	redirect(w, r, "/", "e", code, "sso")
}

// POST /sso/logout — end the session and show the RP-initiated logout
// request (a cross-origin redirect after a form post would be blocked by
// the page's form-action policy, so the browser follows a link instead).
func (s *server) ssoLogout(w http.ResponseWriter, r *http.Request) {
	u, err := s.sso.rp.Logout(r.Context())
	if err != nil {
		s.log.Warn("SSO logout", "err", err)
		redirect(w, r, "/", "e", "unavailable", "sso")
		return
	}
	if u == "" {
		redirect(w, r, "/", "m", "session-out", "sso")
		return
	}
	step := &ssoStep{
		Title:    "SSO: sign out at the provider",
		Heading:  "Signed out here — now at the identity provider",
		Lede:     "The session is gone from the store. To end your session at the identity provider as well, the browser takes this request to its end-session endpoint (RP-initiated logout); the provider then sends it back here.",
		Continue: u,
		Note:     "Sign out at the identity provider →",
	}
	step.Endpoint, step.Params = explainURL(u, map[string]string{
		"id_token_hint":            "the ID token of this sign-in, so the provider knows whose session to end (read from the encrypted grant record)",
		"client_id":                "this application",
		"post_logout_redirect_uri": "where the provider sends the browser afterwards; registered with it",
	})
	s.renderStep(w, step)
}

// POST /sso/end-idp-session — the stand-in provider ends the user's
// sessions there, as an administrator or another application's logout
// would, and sends back-channel logout tokens to this server.
func (s *server) ssoEndIdPSession(w http.ResponseWriter, r *http.Request) {
	if s.sso.idp == nil {
		http.NotFound(w, r)
		return
	}
	t, err := s.sso.rp.IDToken(r.Context())
	if err != nil {
		redirect(w, r, "/", "e", "sso-not-signed", "sso")
		return
	}
	s.sso.idp.EndSessions(r.Context(), t.Subject)
	redirect(w, r, "/", "m", "sso-idp-ended", "sso")
}

// ssoView is the panel.
type ssoView struct {
	StandIn    bool
	Issuer     string
	Redirect   string
	Users      []oidctest.User
	Discovery  string
	DiscError  string
	SignedIn   bool
	Subject    string
	Token      *oidc.IDToken
	Header     string
	Claims     string
	Tag        string
	GrantKey   string
	GrantDump  string
	Expires    time.Time
	EventsList []authkit.Event
}

// ssoView builds the panel for r; nil when SSO is off.
func (s *server) ssoView(r *http.Request) *ssoView {
	x := s.sso
	if x == nil {
		return nil
	}
	ctx := r.Context()
	v := &ssoView{StandIn: x.idp != nil, Issuer: x.issuer, Redirect: x.redirect}
	if v.StandIn {
		v.Users = ssoUsers
	}
	dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if md, err := x.rp.Discovery(dctx, ssoProvider); err != nil {
		v.DiscError = "the discovery document cannot be fetched right now"
	} else {
		v.Discovery = prettyJSON(md.Raw)
	}
	t, err := x.rp.IDToken(ctx)
	if err != nil {
		return v
	}
	id, err := s.sessions.Authenticate(r)
	if err != nil {
		return v
	}
	v.SignedIn, v.Subject, v.Token, v.Expires = true, id.Subject, t, id.Expires
	v.Claims = prettyAny(t.Claims)
	v.Header = prettyAny(map[string]string{"alg": t.Algorithm, "kid": t.KeyID, "typ": "JWT"})
	if list, err := s.sessions.Sessions(ctx, id.Subject); err == nil {
		for _, in := range list {
			if in.Current {
				v.Tag = in.Tag
			}
		}
	}
	if l, err := session.Get[ssoLink](ctx, oidc.SessionKey); err == nil && l.G != "" {
		v.GrantKey = storeKey("oidc:grant:", l.G)
		if raw, err := s.st.Get(ctx, v.GrantKey); err == nil {
			v.GrantDump = hexDump(raw, 256)
		}
	}
	v.EventsList = s.events.recent(id.Subject, 6)
	return v
}

// ssoLink is the part of the session's oidc record the panel shows: the
// grant ID, whose hash is the grant record's store key.
type ssoLink struct {
	G string `json:"g"`
}

func prettyJSON(b []byte) string {
	var buf bytes.Buffer
	if json.Indent(&buf, b, "", "  ") != nil {
		return string(b)
	}
	return buf.String()
}

func prettyAny(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// randomString returns n random base64url characters.
func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}
