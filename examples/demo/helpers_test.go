package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/authkit/authkit/hash"
	"github.com/authkit/authkit/store"
)

// testHasher is argon2id with tiny parameters, so that tests do not spend
// their time hashing. It counts every call, so tests can check how many
// password verifications a request did and through which method.
type testHasher struct {
	h *hash.Hasher

	mu       sync.Mutex
	hashes   int
	verify   int
	dummy    int
	verified []string // the scheme and parameters of each hash Verify checked
}

// testScheme is the scheme of the test hasher.
var testScheme = hash.Argon2id{Memory: 1024, Time: 1}

func newTestHasher() *testHasher {
	return &testHasher{h: hash.New(hash.Config{Scheme: testScheme, InsecureWeakParameters: true})}
}

func (c *testHasher) Hash(ctx context.Context, pw string) (string, error) {
	c.mu.Lock()
	c.hashes++
	c.mu.Unlock()
	return c.h.Hash(ctx, pw)
}

func (c *testHasher) Verify(ctx context.Context, pw, encoded string) (bool, error) {
	c.mu.Lock()
	c.verify++
	c.verified = append(c.verified, hashPrefix(encoded))
	c.mu.Unlock()
	return c.h.Verify(ctx, pw, encoded)
}

func (c *testHasher) VerifyDummy(ctx context.Context, pw string) error {
	c.mu.Lock()
	c.dummy++
	c.mu.Unlock()
	return c.h.VerifyDummy(ctx, pw)
}

// counts returns and resets the call counters.
// NeedsRehash costs no hashing, so it is not counted.
func (c *testHasher) NeedsRehash(encoded string) bool { return c.h.NeedsRehash(encoded) }

func (c *testHasher) counts() (hashes, verify, dummy int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	hashes, verify, dummy = c.hashes, c.verify, c.dummy
	c.hashes, c.verify, c.dummy, c.verified = 0, 0, 0, nil
	return
}

// verifiedHashes returns the scheme and parameters of the hashes Verify
// checked since the last counts.
func (c *testHasher) verifiedHashes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.verified)
}

type testServer struct {
	*server
	hasher *testHasher
	mem    *store.Memory
	url    string
	ts     *httptest.Server
}

// newTestServer starts the demo on an in-memory store, on 127.0.0.1.
func newTestServer(t *testing.T, change ...func(*config)) *testServer {
	t.Helper()
	mem := store.NewMemory(store.MemoryConfig{})
	t.Cleanup(func() { mem.Close() })
	th := newTestHasher()
	cfg := config{Store: mem, Hasher: th, HashScheme: testScheme, Logger: slog.New(slog.DiscardHandler)}
	for _, c := range change {
		c(&cfg)
	}
	s, err := newServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return &testServer{server: s, hasher: th, mem: mem, url: ts.URL, ts: ts}
}

// client is an API client with its own cookie jar.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func (ts *testServer) client(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: ts.url, hc: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// response is a finished exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

// do sends a request; body is JSON-encoded unless it is a string or nil.
// Extra headers come in pairs.
func (c *client) do(method, path string, body any, headers ...string) response {
	c.t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ctype = strings.NewReader(b), "application/json"
	case []byte:
		rd, ctype = bytes.NewReader(b), "application/json"
	default:
		j, _ := json.Marshal(b)
		rd, ctype = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{res.StatusCode, res.Header, b}
}

func creds(u, p string) map[string]string { return map[string]string{"username": u, "password": p} }

// register creates a user through the API.
func (c *client) register(user, pw string) {
	c.t.Helper()
	if r := c.do("POST", "/api/register", creds(user, pw)); r.status != http.StatusCreated {
		c.t.Fatalf("register %s: %d %s", user, r.status, r.body)
	}
}
