package session

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/textproto"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/cookie"
	"github.com/authkit/authkit/internal/index"
	"github.com/authkit/authkit/store"
)

// Defaults used for zero [Config] fields.
const (
	DefaultCookieName  = "__Host-session"
	DefaultIdleTimeout = 30 * time.Minute
	DefaultLifetime    = 24 * time.Hour
	DefaultIdleRefresh = 0.1
	// MaxIdleRefresh is the largest IdleRefresh used; larger values are
	// treated as it (see Config.IdleRefresh).
	MaxIdleRefresh             = 0.5
	DefaultRememberIdleTimeout = 7 * 24 * time.Hour
	DefaultRememberLifetime    = 30 * 24 * time.Hour
	DefaultMaxSize             = 16 << 10
	DefaultMaxPerSubject       = 20

	// Deprecated: use DefaultMaxPerSubject.
	DefaultMaxSessionsPerUser = DefaultMaxPerSubject
)

// maxDuration bounds every lifetime: browsers keep a cookie at most 400 days.
const maxDuration = cookie.MaxAgeLimit

// Store key prefixes.
const (
	sessionPrefix = "sess:"
	indexPrefix   = "sidx:"
)

// Config configures a [Manager]. The zero value gives the documented
// defaults. A Config must not be changed after it is passed to
// [New]; the Manager keeps its own copy.
type Config struct {
	// Cookie is the template of the session cookie. The zero value means
	// cookie.New(DefaultCookieName): "__Host-session", Secure, HttpOnly,
	// SameSite=Lax, Path=/, no Domain. Chrome, Edge and Firefox accept
	// Secure cookies over http://localhost and http://127.0.0.1, so local
	// development needs no change; Safari does not (see the package
	// documentation, "Cookies"). Keep the "__Host-" prefix: without it a
	// sibling subdomain can plant a second session cookie. MaxAge and
	// Expires must be zero: the Manager sets Max-Age on remember-me
	// sessions itself and sends a browser-session cookie otherwise. The
	// template is validated by New.
	Cookie cookie.Template

	// Header, when set, is the name of a request and response header that
	// carries the session ID for non-browser clients instead of the cookie
	// (for example "Session-Token"). A request that sends the header uses
	// it and its cookie is ignored; a handler can also switch a new
	// session to the header with [UseHeader]. The Manager sends the ID in
	// this response header whenever it is created or renewed. Requests
	// using the header are exempt from the cross-origin check, since
	// browsers cannot attach custom headers to cross-origin requests
	// without a CORS preflight. Empty, the default, disables header
	// transport.
	Header string

	// IdleTimeout ends a session that has not been used for this long.
	// A request uses the session when its handler calls the data or
	// identity API, or when [Manager.Authenticate] runs behind the
	// Middleware; requests that never look at the session (static files)
	// do not keep it alive. Zero means DefaultIdleTimeout (30 minutes). It
	// must be between one second and 400 days; setting it equal to
	// Lifetime leaves only the absolute limit. Because the idle deadline is extended at most
	// once per IdleRefresh of it, a session can end up to
	// IdleRefresh×IdleTimeout earlier than a strict timeout would (27
	// minutes after the last request, at the defaults).
	IdleTimeout time.Duration

	// Lifetime is the absolute lifetime of a session from its creation (or
	// from Login), however active it is: a stolen cookie cannot be kept
	// alive for longer. Zero means DefaultLifetime (24 hours). Between one
	// second and 400 days.
	Lifetime time.Duration

	// IdleRefresh is the fraction of the idle timeout that must pass since
	// the idle deadline was last extended before a request extends it again
	// with a store write. Zero means DefaultIdleRefresh (0.1: at most one
	// write per session every 3 minutes at the default idle timeout). It
	// must be in (0, 1]; values above MaxIdleRefresh (0.5) are treated as
	// 0.5, because at a fraction f a session used once every f×IdleTimeout
	// — at f = 1, once per timeout, which is already too late — would never
	// be extended and would end IdleTimeout after it was last extended
	// however active it is. Read-only requests between extensions do not
	// write.
	IdleRefresh float64

	// RememberIdleTimeout and RememberLifetime replace IdleTimeout and
	// Lifetime for sessions marked with [Manager.RememberMe], whose cookie
	// is persistent (it survives a browser restart). The values are stored
	// in the session record, so changing them later affects only new
	// remember-me sessions. Zero means DefaultRememberIdleTimeout (7 days)
	// and DefaultRememberLifetime (30 days). Between one second and 400 days.
	RememberIdleTimeout time.Duration
	RememberLifetime    time.Duration

	// MaxSize caps the encoded session record, in bytes (keys, values and
	// about 30 bytes of bookkeeping). A Set that would exceed it fails with
	// ErrTooLarge. Zero means DefaultMaxSize (16 KiB). Between 256 and
	// store.MaxValueSize. The record is read on every request that uses the
	// session: keep it small.
	MaxSize int

	// MaxPerSubject caps how many sessions one subject may have at
	// once. A Login past the cap logs out the subject's oldest sessions.
	// Zero means DefaultMaxPerSubject (20). At most 1000.
	MaxPerSubject int

	// Deprecated: use MaxPerSubject; read only when MaxPerSubject is zero.
	MaxSessionsPerUser int

	// TrustedOrigins are origins ("https://app.example.com") from which
	// cross-origin unsafe requests carrying the session cookie are accepted.
	// New panics on a malformed origin.
	TrustedOrigins []string

	// InsecureSkipCSRFCheck turns off the cross-origin check on unsafe
	// requests (POST, PUT, PATCH, DELETE) that carry the session cookie.
	// With it, any site a user visits can make their browser send
	// state-changing requests with their session (CSRF), unless the
	// application checks on its own. Default false.
	InsecureSkipCSRFCheck bool

	// CSRFDenied answers requests refused by the cross-origin check. Nil
	// means a plain 403 Forbidden.
	CSRFDenied http.Handler

	// TrustedProxies are the addresses of reverse proxies whose
	// X-Forwarded-For header is believed. The client IP recorded for a
	// session (and reported in events) is the rightmost X-Forwarded-For
	// address not in these prefixes, when the direct peer is in them; the
	// direct peer's address otherwise. Empty, the default, ignores
	// X-Forwarded-For.
	TrustedProxies []netip.Prefix

	// ErrorHandler answers a request whose session could not be saved (the
	// store failed, too many concurrent writers, the session grew past
	// MaxSize), in place of the handler's response, which has not started
	// yet when the session is saved. Nil means: log the error to Logger
	// and answer 500 Internal Server Error. Errors that happen after the
	// response started are logged.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// Events receives security events: login, logout, renew, revoke,
	// rejected credentials and rejected cross-origin requests. Nil means
	// none. Events never carry a session ID.
	Events authkit.EventFunc

	// Logger receives errors and warnings: failed saves, changes that could
	// not be saved. Nil means slog.Default().
	Logger *slog.Logger

	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// Manager manages server-side sessions kept in a [store.Store]. Create one
// with [New]; it is safe for concurrent use. Wrap
// handlers with [Manager.Middleware]; use the data API ([Get], [Set],
// [Delete], [Pop]) and the identity methods ([Manager.Login],
// [Manager.Logout], [Manager.RenewID]) inside them.
//
// Manager implements [authkit.Authenticator] (Method "session") and
// [authkit.Revoker].
type Manager struct {
	store  store.Store
	cfg    Config
	cookie cookie.Template
	header string // canonical header name, "" when disabled
	vary   string
	cop    *http.CrossOriginProtection
	index  index.Index
	logger *slog.Logger
	now    func() time.Time

	idle, life, rIdle, rLife int64 // ms
}

var (
	_ authkit.Authenticator = (*Manager)(nil)
	_ authkit.Revoker       = (*Manager)(nil)
)

// NewWithConfig is New.
//
// Deprecated: use [New], which takes the Config.
func NewWithConfig(st store.Store, cfg Config) *Manager { return New(st, cfg) }

// New returns a Manager that keeps sessions in st, configured by cfg; the
// zero Config is valid and gives the defaults documented on its fields. It
// panics if st is nil or cfg is invalid (an out-of-range value, an invalid
// cookie template, a malformed trusted origin): those are programming
// errors.
func New(st store.Store, cfg Config) *Manager {
	if st == nil {
		panic("session: nil store")
	}
	m := &Manager{store: st, cfg: cfg}
	c := &m.cfg
	c.TrustedOrigins = append([]string(nil), cfg.TrustedOrigins...)
	c.TrustedProxies = append([]netip.Prefix(nil), cfg.TrustedProxies...)

	m.setTransport()
	m.setLimits()

	m.cop = http.NewCrossOriginProtection()
	for _, o := range c.TrustedOrigins {
		if err := m.cop.AddTrustedOrigin(o); err != nil {
			panic("session: Config.TrustedOrigins: " + err.Error())
		}
	}
	if c.CSRFDenied == nil {
		c.CSRFDenied = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, http.StatusText(http.StatusForbidden), http.StatusForbidden)
		})
	}

	m.logger = c.Logger
	if m.logger == nil {
		m.logger = slog.Default()
	}
	m.now = c.Now
	if m.now == nil {
		m.now = time.Now
	}
	m.index = index.Index{Store: st, Prefix: indexPrefix, Max: c.MaxPerSubject, Now: m.now}
	return m
}

// setTransport validates and fills in the cookie template and the header
// transport of m.cfg.
func (m *Manager) setTransport() {
	c := &m.cfg
	if c.Cookie == (cookie.Template{}) {
		c.Cookie = cookie.New(DefaultCookieName)
	}
	if err := c.Cookie.Validate(); err != nil {
		panic("session: Config.Cookie: " + err.Error())
	}
	if c.Cookie.MaxAge != 0 || !c.Cookie.Expires.IsZero() {
		panic("session: Config.Cookie must not set MaxAge or Expires")
	}
	m.cookie = c.Cookie

	m.vary = "Cookie"
	if c.Header != "" {
		if !validHeaderName(c.Header) {
			panic(fmt.Sprintf("session: Config.Header %q is not a valid header name", c.Header))
		}
		m.header = textproto.CanonicalMIMEHeaderKey(c.Header)
		m.vary = "Cookie, " + m.header
	}
}

// setLimits validates and fills in the durations and sizes of m.cfg.
func (m *Manager) setLimits() {
	c := &m.cfg
	dur := func(name string, d *time.Duration, def time.Duration) int64 {
		if *d == 0 {
			*d = def
		}
		if *d < time.Second || *d > maxDuration {
			panic(fmt.Sprintf("session: Config.%s %v is outside 1s..400 days", name, *d))
		}
		return d.Milliseconds()
	}
	m.idle = dur("IdleTimeout", &c.IdleTimeout, DefaultIdleTimeout)
	m.life = dur("Lifetime", &c.Lifetime, DefaultLifetime)
	m.rIdle = dur("RememberIdleTimeout", &c.RememberIdleTimeout, DefaultRememberIdleTimeout)
	m.rLife = dur("RememberLifetime", &c.RememberLifetime, DefaultRememberLifetime)

	if c.IdleRefresh == 0 {
		c.IdleRefresh = DefaultIdleRefresh
	}
	if !(c.IdleRefresh > 0 && c.IdleRefresh <= 1) {
		panic(fmt.Sprintf("session: Config.IdleRefresh %v is outside (0, 1]", c.IdleRefresh))
	}
	c.IdleRefresh = min(c.IdleRefresh, MaxIdleRefresh)
	if c.MaxSize == 0 {
		c.MaxSize = DefaultMaxSize
	}
	if c.MaxSize < 256 || c.MaxSize > store.MaxValueSize {
		panic(fmt.Sprintf("session: Config.MaxSize %d is outside 256..%d", c.MaxSize, store.MaxValueSize))
	}
	if c.MaxPerSubject == 0 {
		c.MaxPerSubject = c.MaxSessionsPerUser
	}
	if c.MaxPerSubject == 0 {
		c.MaxPerSubject = DefaultMaxPerSubject
	}
	if c.MaxPerSubject < 1 || c.MaxPerSubject > index.MaxMembers {
		panic(fmt.Sprintf("session: Config.MaxPerSubject %d is outside 1..%d", c.MaxPerSubject, index.MaxMembers))
	}
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func (m *Manager) nowMS() int64 { return m.now().UnixMilli() }

// refreshAfter is how long after the last extension a session with idle
// timeout idle (ms) gets its idle deadline extended again.
func (m *Manager) refreshAfter(idle int64) int64 {
	return int64(float64(idle) * m.cfg.IdleRefresh)
}

// handleError answers a request whose session could not be saved, in
// place of the handler's response. The handler's headers are dropped first
// — its Cache-Control, Content-Encoding or cookies describe a response that
// is not sent — so the error response is clean.
func (m *Manager) handleError(w http.ResponseWriter, r *http.Request, err error) {
	clear(w.Header())
	if m.cfg.ErrorHandler != nil {
		m.cfg.ErrorHandler(w, r, err)
		return
	}
	m.logger.LogAttrs(r.Context(), slog.LevelError, "session: cannot save session",
		slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("error", err))
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}

// Middleware loads the session of each request lazily — the store is read
// the first time the handler (or [Manager.Authenticate]) uses the session,
// not before — and saves it just before the response headers are written.
// It refuses cross-origin unsafe requests that carry the session cookie
// (see [Config.InsecureSkipCSRFCheck]) with Config.CSRFDenied, 403 by
// default. The ResponseWriter handed to next does not buffer the body and
// supports [http.Flusher], [http.Hijacker], [io.ReaderFrom] and
// [http.ResponseController] (through Unwrap).
func (m *Manager) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &state{m: m, r: r, credential: m.readCredential(r)}
		if st.crossOriginRefused(r) {
			m.cfg.CSRFDenied.ServeHTTP(w, r)
			return
		}
		st.w = writer{rw: w, st: st}
		st.ctx = reqCtx{Context: r.Context(), st: st}
		r = r.WithContext(&st.ctx)
		st.r = r
		next.ServeHTTP(&st.w, r)
		st.finish()
	})
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// clientIP returns the address of the client that sent r (see
// [Config.TrustedProxies]), "" when unknown.
func (m *Manager) clientIP(r *http.Request) string {
	if r == nil {
		return ""
	}
	a := authkit.ClientIP(r, m.cfg.TrustedProxies)
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// newEvent builds a security event about r, which may be nil.
func (m *Manager) newEvent(r *http.Request, typ authkit.EventType, subject, reason string) authkit.Event {
	return authkit.Event{
		Type:     typ,
		Time:     m.now(),
		Method:   authkit.MethodSession,
		Subject:  subject,
		Reason:   reason,
		ClientIP: m.clientIP(r),
	}
}

// emitRequest sends an event about r (which may be nil) to Config.Events.
// It must not be called with a request's state locked (see state.event).
func (m *Manager) emitRequest(r *http.Request, typ authkit.EventType, subject, reason string) {
	if m.cfg.Events == nil {
		return
	}
	ctx := context.Background()
	if r != nil {
		ctx = r.Context()
	}
	m.cfg.Events(ctx, m.newEvent(r, typ, subject, reason))
}
