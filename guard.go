package authkit

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultRetryAfter is the Retry-After a [Guard] sends with a 503 when its
// RetryAfter field is zero.
const DefaultRetryAfter = 5 * time.Second

// Guard protects handlers with a chain of Authenticators and answers failed
// requests as RFC 6750 §3 says. The zero Guard is ready to use (that is what
// the package-level [Require] uses). A Guard must not be changed after its
// first use.
//
// For each request, Require tries each Authenticator in turn; the first that
// does not return ErrNoCredentials decides:
//
//   - success: the Identity goes into the request context ([IdentityFrom]) and
//     the protected handler runs;
//   - an error wrapping ErrInvalidCredentials, or a bearer token no
//     Authenticator claims: 401 with
//     `WWW-Authenticate: Bearer realm="…", error="invalid_token"`;
//   - nothing sent: 401 with `WWW-Authenticate: Bearer realm="…"` and no
//     error code — or the Unauthenticated handler, such as a redirect to a
//     login page;
//   - a token sent in two ways or a malformed Authorization header: 400
//     invalid_request;
//   - any other error (a store that cannot be reached): 503 with Retry-After.
//     The chain stops there: an outage never looks like "logged out" and never
//     falls through to a weaker mechanism.
//
// Order matters when a request carries two credentials: a browser sending
// a session cookie and a bearer token is decided by whichever Authenticator
// comes first in the chain, and the other is never consulted. Clients that
// authenticate with bearer tokens should not send cookies (fetch's
// credentials: "omit").
//
// No error text from an Authenticator reaches the response; 503 causes are
// logged to Logger.
type Guard struct {
	// Realm is the realm parameter of WWW-Authenticate. Empty omits it.
	Realm string

	// Unauthenticated, when set, handles requests that end in 401 and sent no
	// bearer token — browsers, typically — instead of the plain 401: for
	// example a redirect to the login page. API clients that sent a bearer
	// token always get the RFC 6750 401.
	Unauthenticated http.Handler

	// InsecureAllowQueryToken accepts a bearer token in the access_token
	// query parameter (RFC 6750 §2.3). Off by default and best left off: URLs
	// end up in server logs, browser history and Referer headers.
	InsecureAllowQueryToken bool

	// InsecureAllowFormToken accepts a bearer token in the access_token field of an
	// application/x-www-form-urlencoded request body (RFC 6750 §2.2). Off by
	// default. It makes the Guard parse the form body before the handler.
	InsecureAllowFormToken bool

	// Deprecated: use InsecureAllowFormToken; either one allows form tokens.
	AllowFormToken bool

	// RetryAfter is sent in the Retry-After header of 503 responses, rounded
	// up to whole seconds. Zero means DefaultRetryAfter.
	RetryAfter time.Duration

	// Logger receives the errors that lead to 503 responses. Nil means
	// slog.Default().
	Logger *slog.Logger
}

// Require returns middleware that lets a request through only when one of
// auths proves who sent it; see [Guard] for how it answers otherwise. It
// panics if auths is empty or holds a nil Authenticator.
func (g *Guard) Require(auths ...Authenticator) func(http.Handler) http.Handler {
	if len(auths) == 0 {
		panic("authkit: Require needs at least one Authenticator")
	}
	for _, a := range auths {
		if a == nil {
			panic("authkit: Require given a nil Authenticator")
		}
	}
	auths = append([]Authenticator(nil), auths...)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			g.serve(w, r, next, auths)
		})
	}
}

// Require is the zero Guard's [Guard.Require].
func Require(auths ...Authenticator) func(http.Handler) http.Handler {
	return (&Guard{}).Require(auths...)
}

func (g *Guard) serve(w http.ResponseWriter, r *http.Request, next http.Handler, auths []Authenticator) {
	tok, err := g.extractBearer(r)
	if err != nil {
		g.challenge(w, http.StatusBadRequest, "invalid_request", "")
		return
	}
	st := &requestState{bearer: tok, bearerSet: true}
	r = r.WithContext(contextWith(r.Context(), st))
	for _, a := range auths {
		id, err := a.Authenticate(r)
		switch {
		case err == nil && id != nil:
			st.identity = id
			next.ServeHTTP(w, r)
			return
		case err == nil:
			g.unavailable(w, r, errors.New("authkit: Authenticator returned neither an Identity nor an error"))
			return
		case errors.Is(err, ErrNoCredentials):
			continue
		case errors.Is(err, ErrInvalidCredentials):
			g.unauthorized(w, r, tok != "", "invalid_token")
			return
		case errors.Is(err, ErrInvalidRequest):
			g.challenge(w, http.StatusBadRequest, "invalid_request", "")
			return
		default:
			g.unavailable(w, r, err)
			return
		}
	}
	if tok != "" {
		g.unauthorized(w, r, true, "invalid_token")
		return
	}
	g.unauthorized(w, r, false, "")
}

func (g *Guard) unauthorized(w http.ResponseWriter, r *http.Request, sentBearer bool, code string) {
	if !sentBearer && g.Unauthenticated != nil {
		g.Unauthenticated.ServeHTTP(w, r)
		return
	}
	g.challenge(w, http.StatusUnauthorized, code, "")
}

func (g *Guard) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	logger := g.Logger
	if logger == nil {
		logger = slog.Default()
	}
	// A client that hung up cancels the request's context, which fails the
	// store call: that is no outage, and a flood of disconnects must not
	// flood the error log.
	level := slog.LevelError
	if r.Context().Err() != nil {
		level = slog.LevelDebug
	}
	logger.LogAttrs(r.Context(), level, "authkit: cannot authenticate request",
		slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("error", err))
	ra := g.RetryAfter
	if ra <= 0 {
		ra = DefaultRetryAfter
	}
	secs := int64((ra + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	writeStatus(w, http.StatusServiceUnavailable)
}

// challenge answers status with a Bearer WWW-Authenticate header carrying the
// realm, the RFC 6750 error code (if any) and the scope (if any).
func (g *Guard) challenge(w http.ResponseWriter, status int, code, scope string) {
	var b strings.Builder
	b.WriteString("Bearer")
	sep := " "
	param := func(name, value string) {
		b.WriteString(sep)
		b.WriteString(name)
		b.WriteString(`="`)
		b.WriteString(quoteEscape(value))
		b.WriteString(`"`)
		sep = ", "
	}
	if g.Realm != "" {
		param("realm", g.Realm)
	}
	if code != "" {
		param("error", code)
	}
	if scope != "" {
		param("scope", scope)
	}
	w.Header().Set("WWW-Authenticate", b.String())
	writeStatus(w, status)
}

// quoteEscape escapes s for an RFC 9110 quoted-string, dropping control
// characters that cannot appear in one.
func quoteEscape(s string) string {
	if !strings.ContainsAny(s, "\"\\") && !hasCTL(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 && c != '\t' || c == 0x7f:
			// dropped
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func hasCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return true
		}
	}
	return false
}

// writeStatus writes a short plain-text body naming only the status: no
// library error text ever reaches a client.
func writeStatus(w http.ResponseWriter, status int) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(http.StatusText(status) + "\n"))
}

// RequireScope returns middleware, for use inside [Guard.Require], that lets a
// request through only when its Identity holds every one of scopes. It
// answers 403 with `error="insufficient_scope"` and the scopes required, and
// 401 when there is no Identity at all (RequireScope used outside a Guard).
func (g *Guard) RequireScope(scopes ...string) func(http.Handler) http.Handler {
	need := strings.Join(scopes, " ")
	scopes = append([]string(nil), scopes...)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, ok := IdentityFrom(r.Context())
			if !ok {
				g.challenge(w, http.StatusUnauthorized, "", "")
				return
			}
			for _, s := range scopes {
				if !id.HasScope(s) {
					g.challenge(w, http.StatusForbidden, "insufficient_scope", need)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// RequireScope is the zero Guard's [Guard.RequireScope].
func RequireScope(scopes ...string) func(http.Handler) http.Handler {
	return (&Guard{}).RequireScope(scopes...)
}
