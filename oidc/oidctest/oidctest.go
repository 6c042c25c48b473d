// Package oidctest runs a small OpenID Provider in-process, on loopback, for
// tests and demos of relying parties such as authkit's oidc package. It is a
// local stand-in for a company identity provider, NOT an identity provider
// to deploy: users and clients live in memory, passwords are compared in
// clear, and it serves plain HTTP.
//
// The protocol work is done by github.com/zitadel/oidc's OpenID-certified
// provider (pkg/op); this package adds an in-memory storage, a login page, and
// what a test of a relying party needs beyond a well-behaved provider:
//
//   - [Server.Login] drives the provider's login page like a browser, up to
//     the redirect back to the relying party;
//   - provider sessions with a sid claim in ID tokens, and OpenID Connect
//     Back-Channel Logout 1.0: [Server.EndSessions] (and the provider's
//     end_session endpoint) post signed logout tokens to every client
//     registered with a BackChannelLogoutURI;
//   - [Config.IssParameter] advertises and sends the RFC 9207 iss parameter;
//   - [Server.Sign], [Server.AddKey] and [Config.Middleware] let a test play
//     a hostile or broken provider: forged tokens, extra keys, rewritten
//     responses.
//
// # Example
//
//	idp := oidctest.NewServer(oidctest.Config{
//		Clients: []oidctest.Client{{ID: "app", Secret: "s3cret", RedirectURIs: []string{rpURL + "/auth/idp/callback"}}},
//		Users:   []oidctest.User{{Subject: "u1", Username: "alice", Password: "pw", Email: "alice@example.com"}},
//	})
//	defer idp.Close()
//	// configure the relying party with idp.Issuer(), "app" and "s3cret".
package oidctest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/authkit/authkit/internal/secret"
)

// Client is a client (relying party) registered with the provider.
type Client struct {
	ID string
	// Secret authenticates the client at the token endpoint with HTTP Basic
	// (client_secret_basic). Empty makes a public client, which only PKCE
	// protects.
	Secret string
	// RedirectURIs are the exact redirect_uri values accepted.
	RedirectURIs []string
	// PostLogoutRedirectURIs are the post_logout_redirect_uri values
	// accepted by the end_session endpoint.
	PostLogoutRedirectURIs []string
	// BackChannelLogoutURI, when set, receives a logout token (POST,
	// form-encoded logout_token) for every provider session of this client
	// that ends.
	BackChannelLogoutURI string
}

// User is an account at the provider.
type User struct {
	Subject       string // the sub claim
	Username      string // typed into the login page
	Password      string // compared in clear: this is a test provider
	Email         string
	EmailVerified bool
	Name          string
}

// Config configures a [Server]. Zero values get defaults.
type Config struct {
	Clients []Client
	Users   []User

	// Algorithm signs ID tokens and logout tokens: "RS256" (default),
	// "PS256", "ES256" or "EdDSA".
	Algorithm string

	// IssParameter makes the provider advertise
	// authorization_response_iss_parameter_supported and add iss to every
	// authorization response (RFC 9207).
	IssParameter bool

	// AccessTokenLifetime is the lifetime of access tokens. Zero means five
	// minutes.
	AccessTokenLifetime time.Duration

	// IDTokenLifetime is unused by the provider library (ID tokens live an
	// hour); kept for symmetry with AccessTokenLifetime.
	IDTokenLifetime time.Duration

	// Middleware, when set, wraps the provider's handler, for tests that
	// observe or rewrite its traffic (count token requests, swap an ID
	// token in a token response).
	Middleware func(http.Handler) http.Handler

	// HTTPClient sends back-channel logout requests. Nil means a client
	// with a 10-second timeout.
	HTTPClient *http.Client

	// Logger receives failed back-channel logout deliveries. Nil discards.
	Logger *slog.Logger
}

// Server is a running provider. Create it with [NewServer]; Close it when
// done.
type Server struct {
	// URL is the base URL, http://127.0.0.1:port; it is also the issuer.
	URL string

	cfg      Config
	st       *storage
	srv      *http.Server
	ln       net.Listener
	log      *slog.Logger
	handler  http.Handler
	closeOne sync.Once
}

// The back-channel logout event (OpenID Connect Back-Channel Logout 1.0 §2.4).
const logoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// NewServer starts a provider on a loopback port. It panics if it cannot
// listen or cfg is invalid, like httptest.NewServer.
func NewServer(cfg Config) *Server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic("oidctest: listening: " + err.Error())
	}
	s := &Server{URL: "http://" + ln.Addr().String(), cfg: cfg, ln: ln}
	s.log = cfg.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.cfg.AccessTokenLifetime == 0 {
		s.cfg.AccessTokenLifetime = 5 * time.Minute
	}
	s.st = &storage{
		cfg:      &s.cfg,
		clients:  map[string]*client{},
		users:    map[string]*User{},
		requests: map[string]*authRequest{},
		codes:    map[string]string{},
		access:   map[string]*accessToken{},
		refresh:  map[string]*refreshToken{},
		sessions: map[string]*session{},
	}
	for _, c := range cfg.Clients {
		s.st.clients[c.ID] = &client{cfg: c}
	}
	for i := range cfg.Users {
		u := cfg.Users[i]
		s.st.users[u.Subject] = &u
	}
	alg := cfg.Algorithm
	if alg == "" {
		alg = "RS256"
	}
	k, err := newKey(alg)
	if err != nil {
		panic(err)
	}
	s.st.keys = []*signingKey{k}
	s.st.onTerminate = s.backChannel

	var cryptoKey [32]byte
	_, _ = rand.Read(cryptoKey[:])
	provider, err := op.NewProvider(&op.Config{
		CryptoKey:                         cryptoKey,
		CryptoKeyId:                       "k1",
		DefaultLogoutRedirectURI:          "/logged-out",
		CodeMethodS256:                    true,
		GrantTypeRefreshToken:             true,
		BackChannelLogoutSupported:        true,
		BackChannelLogoutSessionSupported: true,
	}, s.st, op.StaticIssuer(s.URL), op.WithAllowInsecure())
	if err != nil {
		ln.Close()
		panic("oidctest: starting the provider: " + err.Error())
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.loginSubmit(provider))
	mux.HandleFunc("GET /logged-out", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "Signed out of the local stand-in identity provider.\n")
	})
	mux.Handle("/", provider)
	var h http.Handler = mux
	if cfg.IssParameter {
		h = s.issParameter(h)
	}
	if cfg.Middleware != nil {
		h = cfg.Middleware(h)
	}
	s.handler = h
	s.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return s
}

func newKey(alg string) (*signingKey, error) {
	k := &signingKey{id: secret.Base62(16), alg: jose.SignatureAlgorithm(alg)}
	var err error
	switch alg {
	case "RS256", "PS256":
		k.key, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		k.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, k.key, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("oidctest: unsupported algorithm %q", alg)
	}
	return k, err
}

// Issuer returns the issuer identifier, equal to URL.
func (s *Server) Issuer() string { return s.URL }

// Handler returns the provider's HTTP handler (with Middleware and the
// RFC 9207 wrapper applied), for serving it another way as well.
func (s *Server) Handler() http.Handler { return s.handler }

// Close shuts the provider down at once, closing its connections, like
// httptest.Server.Close. (http.Server.Shutdown would wait five seconds for
// connections that clients opened but never used.)
func (s *Server) Close() {
	s.closeOne.Do(func() { _ = s.srv.Close() })
}

// AddKey publishes a new key of alg in the provider's JWKS without signing
// ID tokens with it, and returns its kid, for [Server.SignWith]. The
// discovery document keeps advertising only the signing algorithm.
func (s *Server) AddKey(alg string) (kid string, err error) {
	k, err := newKey(alg)
	if err != nil {
		return "", err
	}
	s.st.mu.Lock()
	s.st.keys = append(s.st.keys, k)
	s.st.mu.Unlock()
	return k.id, nil
}

// Sign returns a JWT with the given claims and extra header fields, signed
// with the provider's signing key (header alg and kid are set). A test uses
// it to forge what a compromised or confused provider could send.
func (s *Server) Sign(header, claims map[string]any) (string, error) {
	s.st.mu.Lock()
	k := s.st.signing()
	s.st.mu.Unlock()
	return sign(k, header, claims)
}

// SignWith is [Server.Sign] with the key kid from [Server.AddKey].
func (s *Server) SignWith(kid string, header, claims map[string]any) (string, error) {
	s.st.mu.Lock()
	var k *signingKey
	for _, x := range s.st.keys {
		if x.id == kid {
			k = x
		}
	}
	s.st.mu.Unlock()
	if k == nil {
		return "", errors.New("oidctest: unknown kid")
	}
	return sign(k, header, claims)
}

func sign(k *signingKey, header, claims map[string]any) (string, error) {
	opts := (&jose.SignerOptions{}).WithHeader("kid", k.id)
	for name, v := range header {
		opts = opts.WithHeader(jose.HeaderKey(name), v)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.key}, opts)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// LogoutToken returns a back-channel logout token for clientID naming
// subject and sid (either may be empty), signed with the provider's key:
// typ logout+jwt, iss, aud, iat, exp two minutes later, a fresh jti, and the
// back-channel logout event.
func (s *Server) LogoutToken(clientID, subject, sid string) (string, error) {
	now := time.Now()
	claims := map[string]any{
		"iss":    s.URL,
		"aud":    clientID,
		"iat":    now.Unix(),
		"exp":    now.Add(2 * time.Minute).Unix(),
		"jti":    secret.Base62(22),
		"events": map[string]any{logoutEvent: map[string]any{}},
	}
	if subject != "" {
		claims["sub"] = subject
	}
	if sid != "" {
		claims["sid"] = sid
	}
	return s.Sign(map[string]any{"typ": "logout+jwt"}, claims)
}

// EndSessions ends every provider session of subject, as an administrator
// or the user signing out at the provider would, and sends a logout token
// for each to the clients that obtained tokens in it. It returns how many
// sessions ended.
func (s *Server) EndSessions(ctx context.Context, subject string) int {
	return s.st.endSessions(ctx, subject)
}

// backChannel posts a logout token per ended session to each client with a
// BackChannelLogoutURI that received tokens in it.
func (s *Server) backChannel(ctx context.Context, ended []*session) {
	hc := s.cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	for _, sess := range ended {
		for clientID := range sess.clients {
			s.st.mu.Lock()
			c := s.st.clients[clientID]
			s.st.mu.Unlock()
			if c == nil || c.backChannel() == "" {
				continue
			}
			tok, err := s.LogoutToken(clientID, sess.subject, sess.sid)
			if err != nil {
				s.log.Error("oidctest: signing a logout token", "error", err)
				continue
			}
			form := url.Values{"logout_token": {tok}}
			req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost, c.backChannel(), strings.NewReader(form.Encode()))
			if err != nil {
				s.log.Error("oidctest: back-channel logout request", "error", err)
				continue
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := hc.Do(req)
			if err != nil {
				s.log.Warn("oidctest: back-channel logout failed", "client", clientID, "error", err)
				continue
			}
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				s.log.Warn("oidctest: back-channel logout refused", "client", clientID, "status", resp.StatusCode)
			}
		}
	}
}

var loginTemplate = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Local stand-in identity provider</title>
<style>body{font:16px system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}
.banner{background:#fff3cd;border:1px solid #e0c36a;padding:.5rem .75rem;border-radius:.25rem}
label{display:block;margin:.75rem 0}input{display:block;width:100%;padding:.4rem;font:inherit}
button{margin-top:1rem;padding:.45rem 1rem;font:inherit}.err{color:#a00}</style></head>
<body><p class="banner">Local stand-in for a company identity provider (runs inside this process, for development only).</p>
<h1>Sign in</h1>{{if .Error}}<p class="err" id="idp-error">{{.Error}}</p>{{end}}
<form method="post" action="/login"><input type="hidden" name="id" value="{{.ID}}">
<label>Username <input name="username" id="idp-username" autocomplete="username" required></label>
<label>Password <input name="password" id="idp-password" type="password" autocomplete="current-password" required></label>
<button type="submit" name="action" value="login" id="idp-submit">Sign in</button>
<button type="submit" name="action" value="deny" id="idp-deny" formnovalidate>Cancel</button>
</form></body></html>`))

func (s *Server) renderLogin(w http.ResponseWriter, id, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = loginTemplate.Execute(w, struct{ ID, Error string }{id, msg})
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.renderLogin(w, r.URL.Query().Get("id"), "")
}

// loginSubmit checks the form; on success it sends the browser to the
// provider's authorization callback, which redirects to the client with a
// code. "Cancel" answers the client with error=access_denied.
func (s *Server) loginSubmit(provider *op.Provider) http.HandlerFunc {
	callback := op.AuthCallbackURL(provider)
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		id := r.PostForm.Get("id")
		if r.PostForm.Get("action") == "deny" {
			req, err := s.st.AuthRequestByID(r.Context(), id)
			if err != nil {
				http.Error(w, "unknown authorization request", http.StatusBadRequest)
				return
			}
			s.st.mu.Lock()
			delete(s.st.requests, id)
			s.st.mu.Unlock()
			op.AuthRequestError(w, r, req, oidc.ErrAccessDenied().WithDescription("The user cancelled the sign-in."), provider)
			return
		}
		if err := s.st.authenticate(id, r.PostForm.Get("username"), r.PostForm.Get("password")); err != nil {
			s.renderLogin(w, id, "Wrong username or password.")
			return
		}
		ctx := op.ContextWithIssuer(r.Context(), s.URL)
		http.Redirect(w, r, callback(ctx, id), http.StatusFound)
	}
}

// Login drives the provider like a browser: it follows authURL (an
// authorization request made by a relying party) to the login page, signs
// in as username with password, and follows the provider's redirects until
// one leaves the provider. It returns that URL — the relying party's
// redirect_uri with code and state, or with an error — without requesting
// it. hc's cookie jar, if any, is used, and its CheckRedirect is ignored.
func (s *Server) Login(ctx context.Context, hc *http.Client, authURL, username, password string) (string, error) {
	return s.login(ctx, hc, authURL, url.Values{"username": {username}, "password": {password}, "action": {"login"}})
}

// Deny is [Server.Login] pressing Cancel on the login page: the returned
// URL carries error=access_denied.
func (s *Server) Deny(ctx context.Context, hc *http.Client, authURL string) (string, error) {
	return s.login(ctx, hc, authURL, url.Values{"action": {"deny"}})
}

func (s *Server) login(ctx context.Context, hc *http.Client, authURL string, form url.Values) (string, error) {
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	next, err := s.follow(ctx, &c, http.MethodGet, authURL, nil)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(next)
	if err != nil || !s.own(u) || u.Path != "/login" {
		return "", fmt.Errorf("oidctest: the authorization request did not reach the login page (got %q)", next)
	}
	form.Set("id", u.Query().Get("id"))
	return s.follow(ctx, &c, http.MethodPost, s.URL+"/login", form)
}

// follow sends one request and follows redirects within the provider; it
// returns the first URL outside it, or the login page.
func (s *Server) follow(ctx context.Context, c *http.Client, method, target string, form url.Values) (string, error) {
	for range 10 {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequestWithContext(ctx, method, target, body)
		if err != nil {
			return "", err
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := c.Do(req)
		if err != nil {
			return "", err
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
			return "", fmt.Errorf("oidctest: %s %s: status %d: %s", method, target, resp.StatusCode, bytes.TrimSpace(b))
		}
		loc, err := resp.Location()
		if err != nil {
			return "", err
		}
		if !s.own(loc) || loc.Path == "/login" {
			return loc.String(), nil
		}
		method, target, form = http.MethodGet, loc.String(), nil
	}
	return "", errors.New("oidctest: too many redirects")
}

func (s *Server) own(u *url.URL) bool { return u.Scheme+"://"+u.Host == s.URL }

// issParameter implements RFC 9207 around the provider: the discovery
// document advertises authorization_response_iss_parameter_supported, and
// every redirect from the authorization endpoints to a client gets iss.
func (s *Server) issParameter(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/openid-configuration" {
			rec := &recorder{header: http.Header{}}
			next.ServeHTTP(rec, r)
			var doc map[string]any
			if rec.status == 0 {
				rec.status = http.StatusOK
			}
			if rec.status == http.StatusOK && json.Unmarshal(rec.body.Bytes(), &doc) == nil {
				doc["authorization_response_iss_parameter_supported"] = true
				b, _ := json.Marshal(doc)
				rec.body.Reset()
				rec.body.Write(b)
				rec.header.Del("Content-Length")
			}
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.status)
			w.Write(rec.body.Bytes())
			return
		}
		if strings.HasPrefix(r.URL.Path, "/authorize") || r.URL.Path == "/login" {
			w = &issWriter{ResponseWriter: w, issuer: s.URL, own: s.own}
		}
		next.ServeHTTP(w, r)
	})
}

// recorder buffers a response.
type recorder struct {
	header http.Header
	body   bytes.Buffer
	status int
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

// issWriter adds iss to a redirect that leaves the provider.
type issWriter struct {
	http.ResponseWriter
	issuer string
	own    func(*url.URL) bool
	done   bool
}

func (w *issWriter) WriteHeader(code int) {
	if !w.done && code >= 300 && code < 400 {
		if u, err := url.Parse(w.Header().Get("Location")); err == nil && !w.own(u) {
			q := u.Query()
			if q.Has("code") || q.Has("error") {
				q.Set("iss", w.issuer)
				u.RawQuery = q.Encode()
				w.Header().Set("Location", u.String())
			}
		}
	}
	w.done = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *issWriter) Write(b []byte) (int, error) {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}
