package session_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/authkit/authkit/internal/redistest"
	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/store/storetest"
)

// newRedis returns a store on the Redis at AUTHKIT_REDIS_ADDR (see
// internal/redistest).
func newRedis(t *testing.T) store.Store { return redistest.Store(t, "session") }

// TestRevocationRacesRedis forces the races of RenewID with RevokeSubject
// and of Logout with a renewal on Redis, whose CompareAndSwap is a script.
func TestRevocationRacesRedis(t *testing.T) {
	storetest.Env(t, "AUTHKIT_REDIS_ADDR")
	t.Run("RenewID racing RevokeSubject", func(t *testing.T) {
		renewRace(t, newRedis, session.Config{}, func(t *testing.T, m *session.Manager, _ http.Handler, _ string) bool {
			if err := m.RevokeSubject(context.Background(), "alice"); err != nil {
				t.Fatal(err)
			}
			return true
		})
	})
	t.Run("Logout racing renewal", func(t *testing.T) { logoutRace(t, newRedis) })
}

// TestLostUpdateRedis runs the lost-update test on Redis when
// AUTHKIT_REDIS_ADDR is set.
func TestLostUpdateRedis(t *testing.T) {
	st := newRedis(t)
	lostUpdate(t, st, 200)

	// The main flows on Redis: fixation, data, logout everywhere.
	m := session.New(st, session.Config{})
	h := app(m)
	a := newClient(t, h)
	a.body("POST", "/set?k=cart&v=3")
	pre := a.cookie()
	a.body("POST", "/login?u=alice")
	if got := a.body("GET", "/get?k=cart"); got != "3" || a.cookie() == pre {
		t.Errorf("login on Redis: cart %q", got)
	}
	b := newClient(t, h)
	b.body("POST", "/login?u=alice")
	a.body("POST", "/revoke-others")
	if got := b.body("GET", "/whoami"); got != "invalid" {
		t.Errorf("revoked session on Redis: %q", got)
	}
	a.body("POST", "/logout")
	if got := a.body("GET", "/whoami"); got != "anon" {
		t.Errorf("after logout on Redis: %q", got)
	}
}
