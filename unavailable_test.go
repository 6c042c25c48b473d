package authkit_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authkit/authkit"
)

func TestUnavailable(t *testing.T) {
	secret := errors.New("dial tcp 10.0.0.7:6379: connection refused")
	for _, tc := range []struct {
		name      string
		u         authkit.Unavailable
		cancelled bool
		retry     string
		ctype     string
		body      string
		level     string
	}{
		{"default", authkit.Unavailable{}, false, "5", "text/plain; charset=utf-8", "Service Unavailable\n", "ERROR"},
		{"rounded up", authkit.Unavailable{RetryAfter: 1500 * time.Millisecond}, false, "2", "text/plain; charset=utf-8", "Service Unavailable\n", "ERROR"},
		{"oauth", authkit.Unavailable{OAuth: true}, false, "5", "application/json;charset=UTF-8", `{"error":"temporarily_unavailable"}` + "\n", "ERROR"},
		{"client gone", authkit.Unavailable{}, true, "5", "text/plain; charset=utf-8", "Service Unavailable\n", "DEBUG"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			tc.u.Logger = slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
			r := httptest.NewRequest("GET", "/x", nil)
			if tc.cancelled {
				ctx, cancel := context.WithCancel(r.Context())
				cancel()
				r = r.WithContext(ctx)
			}
			w := httptest.NewRecorder()
			tc.u.Write(w, r, "test: store down", secret)
			if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != tc.retry ||
				w.Header().Get("Content-Type") != tc.ctype || w.Header().Get("Cache-Control") != "no-store" || w.Body.String() != tc.body {
				t.Fatalf("response %d %v %q", w.Code, w.Header(), w.Body)
			}
			if strings.Contains(w.Body.String(), "10.0.0.7") {
				t.Fatal("error text in the body")
			}
			if !strings.Contains(log.String(), "level="+tc.level) || !strings.Contains(log.String(), "10.0.0.7") {
				t.Fatalf("log %q, want level %s with the cause", log.String(), tc.level)
			}
		})
	}
}
