package authkit

import (
	"errors"
	"log/slog"
	"net/http"
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
//     `WWW-Authenticate: Bearer realm="…", error="invalid_token"` when the
//     request sent a bearer token; when it sent none (a stale session
//     cookie, say) the 401 carries no error code, since RFC 6750 reserves
//     invalid_token for a bearer token that was sent — and the
//     Unauthenticated handler, if set, answers instead;
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
	auths = checkAuths(auths)
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

// Optional returns middleware for pages that serve signed-in and anonymous
// visitors alike: the handler always runs, with the Identity in the request
// context ([IdentityFrom]) when one of auths proves who sent the request,
// and without one otherwise. The Authenticators are tried as by
// [Guard.Require]; what differs is the answer when none succeeds:
//
//   - nothing sent, or a credential that is not a bearer token and is
//     refused (a stale or revoked session cookie): the handler runs
//     anonymously — the session manager has already told the browser to
//     drop the cookie;
//   - a bearer token that is refused or that no Authenticator claims: 401
//     invalid_token, as Require answers — an API client that sent a token
//     must learn it is bad, not silently get the anonymous view;
//   - a malformed request: 400 invalid_request;
//   - any other error (a store that cannot be reached): 503 with
//     Retry-After. The handler does not run: rendering the anonymous page
//     would look like "logged out".
//
// It panics if auths is empty or holds a nil Authenticator.
func (g *Guard) Optional(auths ...Authenticator) func(http.Handler) http.Handler {
	auths = checkAuths(auths)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			g.decide(w, r, next, auths, true)
		})
	}
}

// Optional is the zero Guard's [Guard.Optional].
func Optional(auths ...Authenticator) func(http.Handler) http.Handler {
	return (&Guard{}).Optional(auths...)
}

func checkAuths(auths []Authenticator) []Authenticator {
	if len(auths) == 0 {
		panic("authkit: Require needs at least one Authenticator")
	}
	for _, a := range auths {
		if a == nil {
			panic("authkit: Require given a nil Authenticator")
		}
	}
	return append([]Authenticator(nil), auths...)
}

func (g *Guard) serve(w http.ResponseWriter, r *http.Request, next http.Handler, auths []Authenticator) {
	g.decide(w, r, next, auths, false)
}

// decide runs the chain; with optional set, a request with no credential or
// a refused non-bearer credential reaches next anonymously.
func (g *Guard) decide(w http.ResponseWriter, r *http.Request, next http.Handler, auths []Authenticator, optional bool) {
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
			if tok == "" {
				if optional {
					next.ServeHTTP(w, r)
					return
				}
				g.unauthorized(w, r, false, "")
				return
			}
			g.unauthorized(w, r, true, "invalid_token")
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
	if optional {
		next.ServeHTTP(w, r)
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
	Unavailable{RetryAfter: g.RetryAfter, Logger: g.Logger}.Write(w, r, "authkit: cannot authenticate request", err)
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
