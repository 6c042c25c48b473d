package session_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/store/redisstore"
	"github.com/authkit/authkit/store/storetest"
)

// newRedis returns a Store on the Redis that AUTHKIT_REDIS_ADDR names
// (skipping the test when it is unset), under a random key prefix whose
// keys it removes afterwards.
func newRedis(t *testing.T) store.Store {
	addr := storetest.Env(t, "AUTHKIT_REDIS_ADDR")
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, PoolSize: 64})
	t.Cleanup(func() { c.Close() }) // after the key cleanup below (cleanups run last-in first-out)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("AUTHKIT_REDIS_ADDR=%s: %v", addr, err)
	}
	prefix := "authkit-session-test:" + rand.Text() + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	st, err := redisstore.New(c, redisstore.Config{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

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
