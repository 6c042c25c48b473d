package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/cookie"
	"github.com/authkit/authkit/hash"
	"github.com/authkit/authkit/jwt"
	"github.com/authkit/authkit/jwtpair"
	"github.com/authkit/authkit/keyring"
	"github.com/authkit/authkit/login"
	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/throttle"
	"github.com/authkit/authkit/token"
)

//go:embed web
var webFS embed.FS

const (
	realm = "authkit-demo"

	// Names of the demo's own cookies. The session cookie is the session
	// package's default, __Host-session.
	demoCookieName    = "__Host-demo-auth"
	refreshCookieName = "__Secure-jwt-refresh"
	refreshCookiePath = "/api/jwt/refresh"

	demoCookieTTL = 15 * time.Minute
	accessTTL     = 10 * time.Minute // opaque access tokens
	jwtTTL        = 5 * time.Minute
	refreshTTL    = 7 * 24 * time.Hour // absolute lifetime of a refresh family
)

// passwordHasher is what the demo needs from *hash.Hasher. Tests wrap it to
// count calls.
type passwordHasher interface {
	Hash(ctx context.Context, password string) (string, error)
	Verify(ctx context.Context, password, encoded string) (rehash bool, err error)
	VerifyDummy(ctx context.Context, password string) error
	NeedsRehash(encoded string) bool
}

// config configures the demo server. Only Store is required.
type config struct {
	// Store holds users, throttle counters, sessions, tokens and JWT
	// revocations.
	Store store.Store
	// StoreName describes the store on the page ("memory", a redacted URL).
	StoreName string
	// Hasher hashes and verifies passwords. Nil means hash.New with
	// HashScheme.
	Hasher passwordHasher
	// HashScheme is the scheme Hasher makes new hashes with; unknown user
	// names are verified against a hash of it. Nil means hash.Argon2id{}:
	// argon2id at OWASP's parameters.
	HashScheme hash.Scheme
	// TrustedProxies are reverse proxies whose X-Forwarded-For is believed,
	// for the throttle and the client IP of sessions. Empty: none.
	TrustedProxies []netip.Prefix
	// SeedDemoUser creates the user "demo" with a legacy bcrypt hash.
	SeedDemoUser bool
	// PublicURL is the demo's origin as browsers reach it
	// ("http://127.0.0.1:8080"). The SSO panel needs it for its redirect
	// URI; empty turns the panel off.
	PublicURL string
	// SSO names a real OpenID provider for the SSO panel; the zero value
	// runs a local stand-in provider in this process.
	SSO ssoConfig
	// KEKs are the key-encryption keys of the keyring (keys.go). Nil makes
	// one for this process only: enough for one instance on the in-memory
	// store; instances sharing a store need the same KEK.
	KEKs []*keyring.KEK
	// Throttle configures the throttle of password sign-ins and of login
	// link and code requests. The zero value is the throttle package's
	// defaults; a nil Now or Logger is the server's.
	Throttle throttle.Config
	// Logger receives security events and errors. Nil means slog.Default().
	Logger *slog.Logger
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// server is the demo: an http.Handler built from authkit's packages.
type server struct {
	cfg    config
	st     store.Store
	log    *slog.Logger
	now    func() time.Time
	hasher passwordHasher
	users  *users

	// The sign-in flows (signin.go). Every password check of the demo goes
	// through password.
	password   *login.Password
	links      *login.Links
	codes      *login.Codes
	outbox     *outbox
	codeCookie cookie.Template

	sessions *session.Manager
	tokens   *token.Manager
	keys     *jwt.KeySet
	issuer   *jwt.Issuer
	jwts     *jwt.Verifier
	pairs    *jwtpair.Manager // access JWTs with their refresh tokens, in refreshCookie
	sso      *sso             // the SSO panel; nil without config.PublicURL

	keyringFields // the keyring and the Codec of device cookies (keys.go)

	codec         *cookie.Codec
	demoCookie    cookie.Template
	refreshCookie cookie.Template // pairs.Cookie()
	sessionCookie cookie.Template

	events *eventLog
	pages  *template.Template
	// handler is the whole mux behind the middleware.
	handler http.Handler
}

// newServer builds the demo around cfg.Store.
func newServer(cfg config) (*server, error) {
	if cfg.Store == nil {
		return nil, errors.New("demo: config.Store is required")
	}
	if cfg.StoreName == "" {
		cfg.StoreName = "memory"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Hasher == nil {
		cfg.Hasher = hash.New(hash.Config{Scheme: cfg.HashScheme})
	}
	s := &server{
		cfg:    cfg,
		st:     cfg.Store,
		log:    cfg.Logger,
		now:    cfg.Now,
		hasher: cfg.Hasher,
		events: newEventLog(200),
	}
	s.users = &users{st: s.st, now: s.now}

	events := func(ctx context.Context, e authkit.Event) {
		s.events.add(e)
		authkit.LogEvents(s.log)(ctx, e)
	}
	s.sessions = session.New(s.st, session.Config{
		TrustedProxies: cfg.TrustedProxies,
		Events:         events,
		Logger:         s.log,
		Now:            cfg.Now,
	})

	// The JWT keys and the cookie keys come from the keyring in the store,
	// shared by every instance on it (keys.go).
	err := s.setupKeys(context.Background(), events)
	if err != nil {
		return nil, fmt.Errorf("demo: keys: %w", err)
	}
	s.issuer = jwt.NewIssuer(s.keys, jwt.IssuerConfig{Issuer: realm, Audience: []string{realm}, Lifetime: jwtTTL, Now: cfg.Now})
	s.jwts = jwt.NewVerifier(s.keys, jwt.Config{
		Issuer:         realm,
		Audience:       realm,
		Store:          s.st,
		IdentityClaims: []string{"fid", "jti"},
		Events:         events,
		Logger:         s.log,
		Now:            cfg.Now,
	})
	s.tokens = token.New(s.st, token.Config{
		AccessLifetime:  accessTTL,
		RefreshLifetime: refreshTTL,
		Events:          events,
		Logger:          s.log,
		Now:             cfg.Now,
	})

	// The pair manager issues a JWT with a refresh token, rotates the
	// refresh token and carries it in an HttpOnly, Secure, SameSite=Strict
	// cookie scoped to the refresh endpoint. Building it connects the token
	// manager to the JWT verifier: whenever a refresh family is revoked — a
	// reused refresh token, a logout, a device signed out, "log out
	// everywhere" — the family's ID goes into the subject's JWT revocation
	// record, which the verifier reads anyway. So the JWTs issued from the
	// family (their fid claim) are refused at once, with no extra store read
	// per request.
	s.pairs = jwtpair.New(s.issuer, s.jwts, s.tokens, jwtpair.Config{
		CookieName:  refreshCookieName,
		RefreshPath: refreshCookiePath,
		Logger:      s.log,
	})
	s.refreshCookie = s.pairs.Cookie()

	s.demoCookie = cookie.New(demoCookieName)
	s.demoCookie.MaxAge = demoCookieTTL
	s.sessionCookie = cookie.New(session.DefaultCookieName)
	for _, t := range []cookie.Template{s.demoCookie, s.sessionCookie} {
		if err := t.Validate(); err != nil {
			return nil, err
		}
	}

	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	if cfg.PublicURL != "" {
		if s.sso, err = newSSO(s, cfg.PublicURL, cfg.SSO, events); err != nil {
			return nil, err
		}
	}
	if cfg.SeedDemoUser {
		if err := s.seed(context.Background()); err != nil {
			return nil, fmt.Errorf("demo: seeding the demo user: %w", err)
		}
	}
	if err := s.setupLogin(events); err != nil {
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Close releases what the server holds beyond its store, which belongs to
// the caller: the SSO panel's stand-in provider and the keyring's reloads.
func (s *server) Close() error {
	if s.sso != nil {
		s.sso.close()
	}
	return s.keyring.Close()
}

func (s *server) seed(ctx context.Context) error {
	err := s.users.create(ctx, user{Name: demoUser, Hash: demoLegacyHash, Version: 1, Created: s.now()})
	if errors.Is(err, errTaken) {
		return nil
	}
	return err
}

// routes wires every handler. The whole mux is behind
// http.CrossOriginProtection, and no GET handler changes state.
func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(webFS, "web/static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))

	// Pages: forms that post to these routes work without JavaScript.
	web := &authkit.Guard{Realm: realm, Unauthenticated: http.RedirectHandler("/?e=need-session#session", http.StatusSeeOther)}
	mux.HandleFunc("GET /{$}", s.index)
	mux.HandleFunc("POST /register", s.webRegister)
	mux.HandleFunc("POST /cookie/login", s.webCookieLogin)
	mux.HandleFunc("POST /cookie/logout", s.webCookieLogout)
	mux.HandleFunc("POST /session/login", s.webSessionLogin)
	mux.HandleFunc("POST /session/logout", s.webSessionLogout)
	mux.Handle("GET /devices", web.Require(s.sessions)(http.HandlerFunc(s.devices)))
	mux.Handle("POST /devices/revoke", web.Require(s.sessions)(http.HandlerFunc(s.webRevokeSession)))
	mux.Handle("POST /devices/revoke-family", web.Require(s.sessions)(http.HandlerFunc(s.webRevokeFamily)))
	mux.Handle("POST /devices/logout-all", web.Require(s.sessions)(http.HandlerFunc(s.webLogoutAll)))
	mux.Handle("POST /password", web.Require(s.sessions)(http.HandlerFunc(s.webChangePassword)))
	mux.HandleFunc("GET /demo/inspect", s.inspect)

	// The JSON API.
	api := &authkit.Guard{Realm: realm, Logger: s.log}
	mux.HandleFunc("POST /api/register", s.apiRegister)
	mux.HandleFunc("POST /api/session/login", s.apiSessionLogin)
	mux.HandleFunc("POST /api/session/logout", s.apiSessionLogout)
	mux.Handle("GET /api/session/devices", api.Require(s.sessions)(http.HandlerFunc(s.apiDevices)))
	mux.Handle("POST /api/session/logout-all", api.Require(s.sessions)(http.HandlerFunc(s.apiLogoutAll)))
	mux.HandleFunc("POST /api/token/login", s.apiTokenLogin)
	mux.HandleFunc("POST /api/token/refresh", s.apiTokenRefresh)
	mux.Handle("/api/token/revoke", s.tokens.RevocationHandler(token.RevocationConfig{
		// The demo's tokens are issued to no client (public clients):
		// whoever holds a token may revoke it.
		AuthenticateClient: func(*http.Request) (string, error) { return "", nil },
	}))
	mux.HandleFunc("POST /api/jwt/login", s.apiJWTLogin)
	mux.HandleFunc("POST "+refreshCookiePath, s.apiJWTRefresh)
	mux.Handle("POST /api/jwt/logout", api.Require(s.jwts)(http.HandlerFunc(s.apiJWTLogout)))
	mux.Handle("GET /.well-known/jwks.json", s.keyring.JWKSHandler())
	mux.HandleFunc("POST /keys/rotate", s.webRotateKeys)
	mux.Handle("GET /api/me", api.Require(s.sessions, s.tokens, s.jwts)(http.HandlerFunc(s.apiMe)))

	s.ssoRoutes(mux)
	s.signinRoutes(mux)

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(s.crossOriginDenied))
	return cop.Handler(securityHeaders(s.showCookies(s.sessions.Middleware(mux))))
}

// securityHeaders adds the headers every response of the demo carries.
// The page loads nothing from elsewhere and runs no inline script.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

func (s *server) crossOriginDenied(w http.ResponseWriter, r *http.Request) {
	s.events.add(authkit.Event{Type: authkit.EventCSRFRejected, Time: s.now(), Reason: "cross_origin"})
	s.log.Warn("refused a cross-origin request", "method", r.Method, "path", r.URL.Path, "origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeError(w, http.StatusForbidden, "cross_origin", "cross-origin request refused")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusForbidden)
	fmt.Fprintln(w, "403 Forbidden: this request came from another origin, so the demo refused it (http.CrossOriginProtection).")
}

// emit reports a security event of the demo's own: the sealed cookie's
// logins, which no package of authkit sees (password checks are reported
// by login.Password).
func (s *server) emit(r *http.Request, typ authkit.EventType, method, subject, reason string) {
	e := authkit.Event{Type: typ, Time: s.now(), Method: method, Subject: subject, Reason: reason}
	if ip := authkit.ClientIP(r, s.cfg.TrustedProxies); ip.IsValid() {
		e.ClientIP = ip.String()
	}
	s.events.add(e)
	authkit.LogEvents(s.log)(r.Context(), e)
}

// revokeEverything ends every credential of subject: sessions, opaque
// tokens and refresh families, and JWTs.
func (s *server) revokeEverything(ctx context.Context, subject string) error {
	return authkit.RevokeSubject(ctx, subject, s.sessions, s.tokens, s.jwts)
}

// userAgent describes the client for token metadata, from its User-Agent.
func userAgent(r *http.Request) string {
	return deviceName(strings.ToValidUTF8(r.UserAgent(), ""))
}
