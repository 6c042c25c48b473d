package oidc

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/cookie"
	"github.com/authkit/authkit/internal/secret"
	"github.com/authkit/authkit/jwt"
	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store"
)

// Method is the authkit.Event Method of the events a [RelyingParty] reports.
const Method = "oidc"

// Defaults and bounds of [Config].
const (
	DefaultCookiePrefix      = "__Host-oidc-"
	DefaultFlowLifetime      = 10 * time.Minute
	MaxFlowLifetime          = time.Hour
	DefaultGrantLifetime     = 30 * 24 * time.Hour
	DefaultLeeway            = time.Minute
	DefaultDiscoveryInterval = time.Hour
	DefaultTimeout           = 10 * time.Second
	DefaultRefreshMargin     = 30 * time.Second
)

// DefaultScopes are requested when a [Provider] names none.
var DefaultScopes = []string{"openid", "profile", "email"}

// Provider configures one OpenID Provider. A [RelyingParty] may have
// several, side by side, each under its own Name.
type Provider struct {
	// Name identifies the provider in routes, in the flow cookie and in
	// the session: 1 to 32 characters of a-z, 0-9, '-' and '_'. Required.
	Name string

	// Issuer is the provider's issuer identifier, for example
	// "https://accounts.google.com". The discovery document and every ID
	// token must carry exactly this string. Required.
	Issuer string

	// DiscoveryURL is where the discovery document is fetched. Empty means
	// Issuer, without a trailing '/', + "/.well-known/openid-configuration".
	// The document's issuer must still equal Issuer.
	DiscoveryURL string

	// ClientID and ClientSecret are the client credentials registered with
	// the provider. ClientID is required. Without a secret the client is
	// public and only PKCE protects the code exchange.
	ClientID     string
	ClientSecret string

	// RedirectURL is the absolute URL of this provider's callback on this
	// application, as registered with the provider, for example
	// "https://app.example.com/auth/google/callback". Give each provider
	// its own: the route tells which provider a response must come from.
	// Required.
	RedirectURL string

	// PostLogoutRedirectURL, when set, is sent as post_logout_redirect_uri
	// with RP-initiated logout; it must be registered with the provider.
	PostLogoutRedirectURL string

	// Scopes are requested from the provider. "openid" is added when
	// missing. Nil means DefaultScopes. Add "offline_access" (most
	// providers) to get a refresh token for Config.KeepTokens.
	Scopes []string

	// MaxAge, when positive, is sent as max_age: the provider must have
	// authenticated the user within it, and the ID token must carry an
	// auth_time that shows so.
	MaxAge time.Duration

	// TrustedAudiences are audiences besides ClientID that an ID token may
	// name. An ID token naming any other audience is refused (OpenID
	// Connect Core §3.1.3.7). Nil trusts none.
	TrustedAudiences []string

	// AuthParams are extra parameters of the authorization request, such
	// as prompt, login_hint, acr_values or hd. The parameters the flow
	// sets itself (state, nonce, code_challenge, ...) cannot be replaced.
	AuthParams url.Values
}

// Config configures a [RelyingParty]. A Config must not be changed after it
// is passed to [New].
type Config struct {
	// Providers are the OpenID Providers users may sign in with.
	Providers []Provider

	// Codec seals the flow cookies and the key of each stored token record.
	// Every server of a fleet needs the same keys. Nil means a Codec with a
	// random key made by New: fine for one server, but a sign-in started
	// before a restart, or on another server, then fails with ErrState, and
	// kept provider tokens become unreadable after a restart.
	Codec *cookie.Codec

	// Cookie is the template of the flow cookies; its Name is a prefix to
	// which each flow appends its state. The zero value means
	// cookie.New(DefaultCookiePrefix): "__Host-oidc-…", Secure, HttpOnly,
	// SameSite=Lax (the callback is a top-level navigation from the
	// provider, which Lax allows), Path=/. MaxAge is set from FlowLifetime.
	Cookie cookie.Template

	// FlowLifetime bounds a sign-in from the redirect to the provider to
	// the callback. Zero means DefaultFlowLifetime (10 minutes); at most
	// MaxFlowLifetime (1 hour).
	FlowLifetime time.Duration

	// Subject maps a verified ID token to the subject of the session: the
	// application's own user ID for the provider's (issuer, sub) pair,
	// creating or linking the account as the application sees fit. An
	// error refuses the sign-in and is returned by Callback. Never map by
	// email alone: emails are reassigned, and many providers do not verify
	// them. Nil means [DefaultSubject].
	Subject func(ctx context.Context, t *IDToken) (string, error)

	// KeepTokens keeps the provider's access and refresh tokens, encrypted
	// in the store, for [RelyingParty.Token]. Off by default: most
	// applications need only the sign-in.
	KeepTokens bool

	// GrantLifetime is how long the record of a sign-in — the ID token for
	// logout, the kept tokens — stays in the store. It should be at least
	// the session's absolute lifetime (remember-me included). Zero means
	// DefaultGrantLifetime (30 days). It is cut to the Codec's MaxTTL when
	// that is shorter, as is FlowLifetime.
	GrantLifetime time.Duration

	// Leeway is the clock skew tolerated on ID and logout tokens' exp, iat,
	// nbf and auth_time. Zero means DefaultLeeway (1 minute); at most
	// jwt.MaxLeeway (5 minutes).
	Leeway time.Duration

	// RefreshMargin is how long before its expiry a kept access token is
	// refreshed. Zero means DefaultRefreshMargin (30 seconds).
	RefreshMargin time.Duration

	// DiscoveryInterval is how long a discovery document is used before it
	// is fetched again (in the background). Zero means
	// DefaultDiscoveryInterval (1 hour). Signing keys are refreshed by the
	// key set on their own schedule.
	DiscoveryInterval time.Duration

	// HTTPClient makes every request to the providers: discovery, JWKS,
	// token exchange and refresh. Nil means a client with a Timeout of
	// DefaultTimeout (10 seconds).
	HTTPClient *http.Client

	// InsecureAllowHTTP accepts http:// issuers and endpoints on hosts other
	// than loopback. Whoever can alter those responses can sign users in as
	// anyone. Default false.
	InsecureAllowHTTP bool

	// ErrorHandler answers a failed request of [RelyingParty.Handler]. Nil
	// means a plain-text page with a status code and no detail from the
	// provider.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// Events receives EventLogin (Reason: the provider name),
	// EventLoginFailed (Reason: a short code) and EventRevoke for
	// back-channel logouts, with Method "oidc".
	Events authkit.EventFunc

	// Logger receives failures that reach no caller. Nil means
	// slog.Default().
	Logger *slog.Logger

	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// RelyingParty signs users in with OpenID Connect providers and ends in an
// authkit session. Create it with [New]; it is safe for concurrent use.
type RelyingParty struct {
	sessions  *session.Manager
	store     store.Store
	cfg       Config
	codec     *cookie.Codec
	cookie    cookie.Template
	providers map[string]*provider
	order     []string
	client    *http.Client
	logger    *slog.Logger
}

// New returns a RelyingParty that logs users in to sessions and keeps its
// records in st (the same store as the sessions, or another). It panics on
// a nil argument or an invalid config — a provider without Name, Issuer,
// ClientID or RedirectURL, a repeated or malformed name, an issuer or
// redirect URL that is not https (http is allowed on loopback), an
// out-of-range duration, an invalid cookie template: those are programming
// errors. New does no I/O: each provider's discovery document is fetched on
// first use.
func New(sessions *session.Manager, st store.Store, cfg Config) *RelyingParty {
	if sessions == nil || st == nil {
		panic("oidc: New needs a session.Manager and a store.Store")
	}
	rp := &RelyingParty{sessions: sessions, store: st, cfg: cfg, providers: map[string]*provider{}}
	c := &rp.cfg
	setDuration := func(name string, d *time.Duration, def, max time.Duration) {
		if *d == 0 {
			*d = def
		}
		if *d < 0 || (max > 0 && *d > max) {
			panic(fmt.Sprintf("oidc: Config.%s %v is out of range", name, *d))
		}
	}
	setDuration("FlowLifetime", &c.FlowLifetime, DefaultFlowLifetime, MaxFlowLifetime)
	setDuration("GrantLifetime", &c.GrantLifetime, DefaultGrantLifetime, cookie.MaxAgeLimit)
	setDuration("Leeway", &c.Leeway, DefaultLeeway, jwt.MaxLeeway)
	setDuration("RefreshMargin", &c.RefreshMargin, DefaultRefreshMargin, time.Hour)
	setDuration("DiscoveryInterval", &c.DiscoveryInterval, DefaultDiscoveryInterval, 0)
	if c.Now == nil {
		c.Now = time.Now
	}
	rp.logger = c.Logger
	if rp.logger == nil {
		rp.logger = slog.Default()
	}
	rp.client = c.HTTPClient
	if rp.client == nil {
		rp.client = &http.Client{Timeout: DefaultTimeout}
	}
	rp.codec = c.Codec
	if rp.codec == nil {
		codec, err := cookie.NewCodec(cookie.Key{ID: 1, Secret: secret.Bytes(32)})
		if err != nil {
			panic("oidc: " + err.Error())
		}
		rp.codec = codec
	}
	// Nothing sealed may outlive the Codec's keys.
	if m := rp.codec.MaxTTL; m > 0 {
		c.FlowLifetime = min(c.FlowLifetime, m)
		c.GrantLifetime = min(c.GrantLifetime, m)
	}
	rp.cookie = c.Cookie
	if rp.cookie == (cookie.Template{}) {
		rp.cookie = cookie.New(DefaultCookiePrefix)
	}
	rp.cookie.MaxAge = c.FlowLifetime
	probe := rp.cookie
	probe.Name += strings.Repeat("A", stateLen)
	if err := probe.Validate(); err != nil {
		panic("oidc: Config.Cookie: " + err.Error())
	}
	for _, p := range c.Providers {
		rp.addProvider(p)
	}
	return rp
}

func (rp *RelyingParty) addProvider(p Provider) {
	if !validName(p.Name) {
		panic(fmt.Sprintf("oidc: provider name %q must be 1..32 of a-z 0-9 - _", p.Name))
	}
	if _, dup := rp.providers[p.Name]; dup {
		panic(fmt.Sprintf("oidc: provider %q configured twice", p.Name))
	}
	if p.Issuer == "" || p.ClientID == "" || p.RedirectURL == "" {
		panic(fmt.Sprintf("oidc: provider %q needs Issuer, ClientID and RedirectURL", p.Name))
	}
	for _, u := range []string{p.Issuer, p.RedirectURL, p.DiscoveryURL, p.PostLogoutRedirectURL} {
		if u == "" {
			continue
		}
		if err := checkEndpoint(u, rp.cfg.InsecureAllowHTTP); err != nil {
			panic(fmt.Sprintf("oidc: provider %q: URL %q %v", p.Name, u, err))
		}
	}
	if iu, _ := url.Parse(p.Issuer); iu.RawQuery != "" {
		panic(fmt.Sprintf("oidc: provider %q: the issuer must have no query", p.Name))
	}
	if p.DiscoveryURL == "" {
		p.DiscoveryURL = strings.TrimSuffix(p.Issuer, "/") + "/.well-known/openid-configuration"
	}
	if p.Scopes == nil {
		p.Scopes = DefaultScopes
	}
	p.Scopes = slices.Clone(p.Scopes)
	if !slices.Contains(p.Scopes, "openid") {
		p.Scopes = append([]string{"openid"}, p.Scopes...)
	}
	p.TrustedAudiences = slices.Clone(p.TrustedAudiences)
	p.AuthParams = cloneValues(p.AuthParams)
	rp.providers[p.Name] = &provider{cfg: p, rp: rp}
	rp.order = append(rp.order, p.Name)
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// validName reports whether s is a provider name: 1..32 of [a-z0-9_-].
func validName(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Providers returns the configured providers' names, in configuration
// order.
func (rp *RelyingParty) Providers() []string { return slices.Clone(rp.order) }

// Discovery returns the provider's discovery document, fetching it if
// needed.
func (rp *RelyingParty) Discovery(ctx context.Context, provider string) (*Metadata, error) {
	p, err := rp.provider(provider)
	if err != nil {
		return nil, err
	}
	d, err := p.get(ctx)
	if err != nil {
		return nil, err
	}
	return d.meta, nil
}

// Close stops the background refresh of the providers' signing keys.
func (rp *RelyingParty) Close() error {
	for _, p := range rp.providers {
		p.close()
	}
	return nil
}

func (rp *RelyingParty) provider(name string) (*provider, error) {
	p, ok := rp.providers[name]
	if !ok {
		return nil, ErrUnknownProvider
	}
	return p, nil
}

func (rp *RelyingParty) now() time.Time { return rp.cfg.Now() }

func (rp *RelyingParty) fetchTimeout() time.Duration {
	if t := rp.client.Timeout; t > 0 {
		return t
	}
	return DefaultTimeout
}

func (rp *RelyingParty) emit(ctx context.Context, typ authkit.EventType, subject, reason string) {
	if rp.cfg.Events == nil {
		return
	}
	rp.cfg.Events(ctx, authkit.Event{Type: typ, Time: rp.now(), Method: Method, Subject: subject, Reason: reason})
}

// DefaultSubject is the session subject used when Config.Subject is nil:
// the issuer and the provider's sub joined by '#', which no issuer contains
// (issuer identifiers have no fragment), so two providers' subjects never
// collide.
func DefaultSubject(_ context.Context, t *IDToken) (string, error) {
	return t.Issuer + "#" + t.Subject, nil
}
