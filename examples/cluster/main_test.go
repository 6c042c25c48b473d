package main

import (
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/authkit/authkit/hash"
	"github.com/authkit/authkit/keyring"
	"github.com/authkit/authkit/store/redisstore"
	"github.com/authkit/authkit/store/storetest"
)

// instance starts one server on its own Redis client, as a separate process
// would have, with the fleet's key-encryption key.
func instance(t *testing.T, name, addr, prefix string, keks []*keyring.KEK) (*httptest.Server, *redis.Client) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	st, err := redisstore.New(c, redisstore.Config{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Verify(context.Background()); err != nil {
		t.Fatalf("AUTHKIT_REDIS_ADDR=%s: %v", addr, err)
	}
	h := hash.New(hash.Config{Scheme: hash.Argon2id{Memory: 1024, Time: 1}, InsecureWeakParameters: true})
	app, err := newApp(context.Background(), name, st, keks, h, map[string]string{"alice": "wonderland-42"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	return httptest.NewServer(app), c
}

// TestCluster is one scenario from sign-in to sign-out across two instances;
// each step depends on the one before, so it stays one function.
func TestCluster(t *testing.T) {
	addr := storetest.Env(t, "AUTHKIT_REDIS_ADDR")
	prefix := "authkit-cluster-test:" + rand.Text() + ":"
	t.Cleanup(func() {
		c := redis.NewClient(&redis.Options{Addr: addr})
		defer c.Close()
		ctx := context.Background()
		for iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator(); iter.Next(ctx); {
			c.Del(ctx, iter.Val())
		}
	})
	keks, err := keyring.ParseKEKs(keyring.GenerateKEK())
	if err != nil {
		t.Fatal(err)
	}
	a, ac := instance(t, "A", addr, prefix, keks)
	b, bc := instance(t, "B", addr, prefix, keks)
	defer b.Close()
	defer bc.Close()

	// One browser: cookies go to every port of a host, so it talks to both.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	get := func(base string) string {
		t.Helper()
		res, err := browser.Get(base + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", base, res.StatusCode, body)
		}
		return string(body)
	}
	post := func(base, path string, v url.Values) {
		t.Helper()
		res, err := browser.PostForm(base+path, v)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("POST %s%s: %d", base, path, res.StatusCode)
		}
	}

	post(a.URL, "/login", url.Values{"username": {"alice"}, "password": {"wonderland-42"}})
	if body := get(a.URL); !strings.Contains(body, "Signed in as <strong>alice</strong> on instance A") {
		t.Fatalf("A after login: %s", body)
	}
	// The session made on A is valid on B, and B can change it.
	if body := get(b.URL); !strings.Contains(body, "Signed in as <strong>alice</strong> on instance A") || !strings.Contains(body, ">B<") {
		t.Fatalf("B does not know the session: %s", body)
	}
	post(b.URL, "/count", nil)
	if body := get(a.URL); !strings.Contains(body, "Counter: <strong>1</strong>") {
		t.Fatalf("A does not see B's change: %s", body)
	}

	// A JWT signed by A verifies on B: the keys are in Redis.
	tok := jwtFrom(t, browser, a.URL)
	if got := me(t, b.URL, tok); got != `{"subject":"alice","verified_by":"B"}` {
		t.Fatalf("B with A's JWT: %s", got)
	}

	// Stop A, process and connections: B still serves the session.
	a.Close()
	ac.Close()
	if _, err := browser.Get(a.URL + "/"); err == nil {
		t.Fatal("A still answers")
	}
	post(b.URL, "/count", nil)
	if body := get(b.URL); !strings.Contains(body, "Counter: <strong>2</strong>") || !strings.Contains(body, "alice") {
		t.Fatalf("B after A stopped: %s", body)
	}
	if got := me(t, b.URL, tok); !strings.Contains(got, `"subject":"alice"`) {
		t.Fatalf("B with A's JWT after A stopped: %s", got)
	}

	// Signing out on B ends the session for every instance.
	post(b.URL, "/logout", nil)
	if body := get(b.URL); strings.Contains(body, "Signed in") {
		t.Fatalf("still signed in after logout: %s", body)
	}
}

// jwtFrom asks the instance at base for a JWT and returns it.
func jwtFrom(t *testing.T, browser *http.Client, base string) string {
	t.Helper()
	res, err := browser.PostForm(base+"/token", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	m := regexp.MustCompile(`Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)`).FindSubmatch(body)
	if res.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("POST /token: %d %s", res.StatusCode, body)
	}
	return string(m[1])
}

// me calls GET /api/me at base with a bearer token and returns the body.
func me(t *testing.T, base, tok string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/api/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/me: %d %s", res.StatusCode, body)
	}
	return strings.TrimSpace(string(body))
}
