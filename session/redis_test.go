package session_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store/redisstore"
	"github.com/authkit/authkit/store/storetest"
)

// TestLostUpdateRedis runs the lost-update test on Redis when
// AUTHKIT_REDIS_ADDR is set, under a random key prefix that it removes
// afterwards.
func TestLostUpdateRedis(t *testing.T) {
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
