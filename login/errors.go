package login

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/throttle"
)

// Errors of the sign-in flows. Test them with errors.Is. A throttled
// attempt is a *[throttle.LimitedError] (errors.Is(err, throttle.ErrLimited));
// anything else — a store or hasher outage — is none of these and should be
// answered with 503.
var (
	// ErrInvalidCredentials is the one failure of a password sign-in: wrong
	// password, unknown user name, malformed name or an overlong password
	// all return it, so a response cannot tell them apart. It wraps
	// authkit.ErrInvalidCredentials.
	ErrInvalidCredentials = wrapInvalid("login: invalid user name or password")
	// ErrInvalidLink is the one failure of a login link: unknown, used,
	// expired or malformed. It wraps authkit.ErrInvalidCredentials.
	ErrInvalidLink = wrapInvalid("login: invalid or expired link")
	// ErrInvalidCode is the one failure of a one-time code: wrong, used,
	// expired, out of attempts, superseded by a newer code, or for an
	// unknown challenge. It wraps authkit.ErrInvalidCredentials.
	ErrInvalidCode = wrapInvalid("login: invalid or expired code")
	// ErrCrossOrigin means a cross-origin unsafe request (one that Go's
	// http.CrossOriginProtection refuses) tried to sign in; it was refused
	// before any password hashing or throttle update. Answer 403.
	ErrCrossOrigin = errors.New("login: cross-origin sign-in request refused")
	// ErrConfirm means a login link bound to another browser was submitted
	// without the explicit confirmation the confirmation page asks for. The
	// link is still valid.
	ErrConfirm = errors.New("login: the link was requested in another browser; confirmation needed")
	// ErrUnknownUser is what the application's lookups ([Users],
	// [Directory]) return for a name or address without an account. The
	// flows never return it to their caller.
	ErrUnknownUser = errors.New("login: unknown user")
)

type invalidErr struct{ msg string }

func (e *invalidErr) Error() string { return e.msg }
func (e *invalidErr) Unwrap() error { return authkit.ErrInvalidCredentials }

func wrapInvalid(msg string) error { return &invalidErr{msg} }

// The values of [authkit.Event.Method] for the sign-in flows.
const (
	MethodPassword = "password" // user name and password ([Password])
	MethodLink     = "link"     // an email login link ([Links])
	MethodCode     = "code"     // a one-time code ([Codes])
)

// The values of [authkit.Event.Reason] the sign-in flows report besides
// authkit's own (ReasonCrossOrigin, ReasonExpired, ReasonUnknown,
// ReasonMalformed).
const (
	ReasonBadPassword = "bad_password" // a known user name with a wrong password
	ReasonUnknownUser = "unknown_user" // a user name without an account (or not a valid name)
	ReasonBadHash     = "bad_hash"     // the stored hash is unusable (malformed, over limits)
	ReasonThrottled   = "throttled"    // refused by the throttle, nothing checked
	ReasonBadCode     = "bad_code"     // a wrong one-time code
	ReasonExhausted   = "exhausted"    // a code challenge out of attempts
	ReasonRehashed    = "rehashed"     // EventLogin: the stored hash was upgraded
)

// SetRetryAfter sets the Retry-After header (in whole seconds) when err is a
// throttle refusal, and reports whether it did. Answer such a refusal with
// 429 Too Many Requests.
func SetRetryAfter(h http.Header, err error) bool {
	var le *throttle.LimitedError
	if !errors.As(err, &le) {
		return false
	}
	h.Set("Retry-After", strconv.Itoa(le.RetryAfterSeconds()))
	return true
}

// emitter sends events and owns the logger of one flow.
type emitter struct {
	events authkit.EventFunc
	log    *slog.Logger
	now    func() time.Time
	method string
}

func newEmitter(ev authkit.EventFunc, log *slog.Logger, now func() time.Time, method string) emitter {
	if log == nil {
		log = slog.Default()
	}
	if now == nil {
		now = time.Now
	}
	return emitter{events: ev, log: log, now: now, method: method}
}

func (e *emitter) emit(ctx context.Context, typ authkit.EventType, subject, reason, ip string) {
	if e.events == nil {
		return
	}
	e.events(ctx, authkit.Event{Type: typ, Time: e.now(), Method: e.method, Subject: subject, Reason: reason, ClientIP: ip})
}
