package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/authkit/authkit/hash"
	"github.com/authkit/authkit/store"
)

func newTest(t *testing.T) (*httptest.Server, func() *http.Client) {
	st := store.NewMemory(store.MemoryConfig{})
	t.Cleanup(func() { st.Close() })
	h := hash.New(hash.Config{Scheme: hash.Argon2id{Memory: 1024, Time: 1}, InsecureWeakParameters: true})
	ts := httptest.NewServer(newApp(st, h))
	t.Cleanup(ts.Close)
	return ts, func() *http.Client {
		jar, _ := cookiejar.New(nil)
		return &http.Client{Jar: jar}
	}
}

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	res, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func post(t *testing.T, c *http.Client, u string, v url.Values, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func creds(u, p string) url.Values { return url.Values{"username": {u}, "password": {p}} }

func TestWebapp(t *testing.T) {
	ts, newClient := newTest(t)
	c := newClient()

	if _, body := get(t, c, ts.URL+"/private"); !strings.Contains(body, "Sign in to see that page") {
		t.Fatalf("the private page without a session: %s", body)
	}
	if _, body := post(t, c, ts.URL+"/register", creds("alice", "wonderland-42")); !strings.Contains(body, "Hello, alice") {
		t.Fatalf("register: %s", body)
	}
	if _, body := post(t, c, ts.URL+"/logout", nil); !strings.Contains(body, "Sign in") {
		t.Fatalf("logout: %s", body)
	}
	if _, body := get(t, c, ts.URL+"/private"); strings.Contains(body, "Hello") {
		t.Fatal("still signed in after logout")
	}

	t.Run("wrong password and unknown user look alike", func(t *testing.T) {
		_, a := post(t, c, ts.URL+"/login", creds("alice", "wrong-password"))
		_, b := post(t, c, ts.URL+"/login", creds("nobody", "wrong-password"))
		if a != b || !strings.Contains(a, "Wrong name or password") {
			t.Errorf("%q\n%q", a, b)
		}
	})

	t.Run("sign-in renews the session ID", func(t *testing.T) {
		c := newClient()
		post(t, c, ts.URL+"/login", creds("alice", "wrong-password")) // an anonymous session (the flash)
		u, _ := url.Parse(ts.URL)
		before := c.Jar.Cookies(u)
		if len(before) != 1 {
			t.Fatalf("cookies %v", before)
		}
		if _, body := post(t, c, ts.URL+"/login", creds("alice", "wonderland-42")); !strings.Contains(body, "Hello, alice") {
			t.Fatalf("login: %s", body)
		}
		after := c.Jar.Cookies(u)
		if len(after) != 1 || after[0].Value == before[0].Value {
			t.Errorf("the session ID did not change at sign-in")
		}
		// The planted ID is dead.
		planted := newClient()
		planted.Jar.SetCookies(u, before)
		if _, body := get(t, planted, ts.URL+"/private"); strings.Contains(body, "Hello") {
			t.Error("the pre-login session ID signs in")
		}
	})

	t.Run("cross-origin posts are refused", func(t *testing.T) {
		c := newClient()
		post(t, c, ts.URL+"/login", creds("alice", "wonderland-42"))
		if code, _ := post(t, c, ts.URL+"/logout", nil, "Sec-Fetch-Site", "same-site"); code != http.StatusForbidden {
			t.Errorf("cross-origin logout: %d", code)
		}
		if _, body := get(t, c, ts.URL+"/private"); !strings.Contains(body, "Hello, alice") {
			t.Error("signed out by a cross-origin post")
		}
	})

	t.Run("taken names and short passwords", func(t *testing.T) {
		c := newClient()
		if _, body := post(t, c, ts.URL+"/register", creds("alice", "another-password")); !strings.Contains(body, "taken") {
			t.Errorf("%s", body)
		}
		if _, body := post(t, c, ts.URL+"/register", creds("bob", "short")); !strings.Contains(body, "at least 8") {
			t.Errorf("%s", body)
		}
	})
}
