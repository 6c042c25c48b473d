package authkit

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// Unavailable answers requests that cannot be decided because something the
// answer depends on failed — a store that cannot be reached, a timeout: 503
// Service Unavailable with Retry-After, never a 401 that would look like
// "logged out". It is the one 503 path of authkit's handlers ([Guard], the
// token package's RFC 7009 endpoint, the JWT refresh endpoint); handlers of
// applications built on authkit can use it too.
//
// The cause is logged, at Error — or at Debug when the request's own context
// was cancelled (the client hung up: no outage, and a flood of disconnects
// must not flood the error log). No error text reaches the response body.
// The zero Unavailable is ready to use.
type Unavailable struct {
	// RetryAfter is sent in the Retry-After header, rounded up to whole
	// seconds. Zero means DefaultRetryAfter.
	RetryAfter time.Duration

	// Logger receives the cause. Nil means slog.Default().
	Logger *slog.Logger

	// OAuth makes the body the JSON error object of OAuth 2.0 endpoints,
	// {"error":"temporarily_unavailable"} (RFC 6749 §4.1.2.1, §5.2), instead
	// of plain text.
	OAuth bool
}

// Write logs err with msg and the request's method and path, and writes the
// 503 response.
func (u Unavailable) Write(w http.ResponseWriter, r *http.Request, msg string, err error) {
	logger := u.Logger
	if logger == nil {
		logger = slog.Default()
	}
	level := slog.LevelError
	if r.Context().Err() != nil {
		level = slog.LevelDebug
	}
	logger.LogAttrs(r.Context(), level, msg,
		slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("error", err))
	w.Header().Set("Retry-After", strconv.FormatInt(u.retryAfterSeconds(), 10))
	if u.OAuth {
		h := w.Header()
		h.Set("Content-Type", "application/json;charset=UTF-8")
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":"temporarily_unavailable"}` + "\n"))
		return
	}
	writeStatus(w, http.StatusServiceUnavailable)
}

func (u Unavailable) retryAfterSeconds() int64 {
	ra := u.RetryAfter
	if ra <= 0 {
		ra = DefaultRetryAfter
	}
	return int64((ra + time.Second - 1) / time.Second)
}
