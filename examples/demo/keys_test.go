package main

import (
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/authkit/authkit/internal/redistest"
	"github.com/authkit/authkit/keyring"
	"github.com/authkit/authkit/store"
)

// twoInstances starts two demo servers on st with the same key-encryption
// key, as two processes on one shared store.
func twoInstances(t *testing.T, st store.Store) (a, b *testServer) {
	t.Helper()
	keks, err := keyring.ParseKEKs(keyring.GenerateKEK())
	if err != nil {
		t.Fatal(err)
	}
	shared := func(c *config) { c.Store, c.KEKs = st, keks }
	return newTestServer(t, shared), newTestServer(t, shared)
}

// checkSharedKeys signs in with the sealed cookie and with a JWT on a, and
// checks that b accepts both, and that both publish the same JWKS.
func checkSharedKeys(t *testing.T, a, b *testServer) {
	t.Helper()
	c := a.client(t)
	c.register("alice", "wonderland-42")
	wantRedirect(t, form(t, c, "/cookie/login", loginForm("alice", "wonderland-42")), "/?m=cookie-in")
	c.base = b.url // the same browser, now talking to b (cookies go to every port of a host)
	if body := getPage(t, c, "/"); !strings.Contains(body, "Signed in as <strong>alice</strong>") {
		t.Fatal("instance b does not open the cookie instance a sealed")
	}
	c.base = a.url
	r := c.do("POST", "/api/jwt/login", creds("alice", "wonderland-42"))
	if r.status != http.StatusOK {
		t.Fatalf("JWT login on a: %d %s", r.status, r.body)
	}
	tok, _ := r.json(t)["access_token"].(string)
	other := b.client(t)
	if r := me(other, tok); r.status != http.StatusOK || r.json(t)["subject"] != "alice" {
		t.Fatalf("instance b with a's JWT: %d %s", r.status, r.body)
	}
	ja, jb := a.client(t).do("GET", "/.well-known/jwks.json", nil), other.do("GET", "/.well-known/jwks.json", nil)
	if ja.status != 200 || string(ja.body) != string(jb.body) || ja.header.Get("ETag") != jb.header.Get("ETag") {
		t.Fatalf("JWKS differ:\n%s\n%s", ja.body, jb.body)
	}
}

func TestInstancesShareKeys(t *testing.T) {
	mem := store.NewMemory(store.MemoryConfig{})
	t.Cleanup(func() { mem.Close() })
	a, b := twoInstances(t, mem)
	checkSharedKeys(t, a, b)
}

func TestInstancesShareKeysRedis(t *testing.T) {
	st := redistest.Store(t, "demo-keys")
	a, b := twoInstances(t, st)
	checkSharedKeys(t, a, b)
}

// TestWrongKEKRefusesToStart: an instance started on the store with another
// key-encryption key fails, and generates no key.
func TestWrongKEKRefusesToStart(t *testing.T) {
	mem := store.NewMemory(store.MemoryConfig{})
	t.Cleanup(func() { mem.Close() })
	twoInstances(t, mem)
	other, err := keyring.ParseKEKs(keyring.GenerateKEK())
	if err != nil {
		t.Fatal(err)
	}
	_, err = newServer(config{Store: mem, KEKs: other, Hasher: newTestHasher()})
	if !errors.Is(err, keyring.ErrWrongKEK) {
		t.Fatalf("another KEK: %v, want ErrWrongKEK", err)
	}
}

// TestKeysPanel: the page lists every key of the three purposes with its
// state and dates, and the KEK's public ID; "Rotate now" publishes a key.
func TestKeysPanel(t *testing.T) {
	ts := newTestServer(t)
	c := ts.client(t)
	body := getPage(t, c, "/")
	keys := ts.keyring.Keys()
	if len(keys) != 3 {
		t.Fatalf("%d keys", len(keys))
	}
	for _, want := range []string{`id="keys"`, "kring:cookie-seal", "kring:cookie-sign", "kring:jwt-EdDSA", `<code id="kek-id">` + keys[0].KEK, "made at start-up for this process only"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	for _, k := range keys {
		if !strings.Contains(body, `title="`+k.ID+`"`) {
			t.Errorf("the page lacks key %s", k.ID)
		}
	}
	wantRedirect(t, form(t, c, "/keys/rotate", url.Values{"purpose": {keyring.CookieSeal}}), "/?rotated="+keyring.CookieSeal)
	wantRedirect(t, form(t, c, "/keys/rotate", url.Values{"purpose": {"nope"}}), "/?e=bad-request")
	var states []keyring.State
	for _, k := range ts.keyring.Keys() {
		if k.Purpose == keyring.CookieSeal {
			states = append(states, k.State)
		}
	}
	if !slices.Equal(states, []keyring.State{keyring.StateSigning, keyring.StatePublished}) {
		t.Fatalf("states after Rotate now: %v", states)
	}
	if body := getPage(t, c, "/?rotated=cookie-seal"); !strings.Contains(body, "key-published") || !strings.Contains(body, "A new key is published") {
		t.Error("the page does not show the published key")
	}
}

func TestLoadKEKs(t *testing.T) {
	t.Setenv(kekEnv, "")
	if keks, err := loadKEKs("", "memory"); keks != nil || err != nil {
		t.Fatalf("memory store without a KEK: %v, %v", keks, err)
	}
	if _, err := loadKEKs("", "redis://127.0.0.1:6379/0"); err == nil || !strings.Contains(err.Error(), kekEnv) {
		t.Fatalf("shared store without a KEK: %v", err)
	}
	t.Setenv(kekEnv, keyring.GenerateKEK())
	if keks, err := loadKEKs("", "redis://127.0.0.1:6379/0"); len(keks) != 1 || err != nil {
		t.Fatalf("from the environment: %v, %v", keks, err)
	}
	path := filepath.Join(t.TempDir(), "kek")
	if err := os.WriteFile(path, []byte(keyring.GenerateKEK()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if keks, err := loadKEKs(path, "memory"); len(keks) != 1 || err != nil {
		t.Fatalf("from a file: %v, %v", keks, err)
	}
	if _, err := loadKEKs(filepath.Join(t.TempDir(), "missing"), "memory"); !errors.Is(err, keyring.ErrNoKEK) {
		t.Fatalf("missing file: %v", err)
	}
}
