package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/authkit/authkit/internal/clocktest"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authkit/authkit/cookie"
	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store"
)

// docServer serves a discovery document that a test can change, and
// counts the fetches.
type docServer struct {
	*httptest.Server
	mu      sync.Mutex
	doc     map[string]any
	status  int
	ctype   string
	fetches atomic.Int32
}

func newDocServer(t *testing.T) *docServer {
	s := &docServer{status: http.StatusOK, ctype: "application/json"}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		s.fetches.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		w.Header().Set("Content-Type", s.ctype)
		w.WriteHeader(s.status)
		json.NewEncoder(w).Encode(s.doc)
	}))
	t.Cleanup(s.Close)
	s.doc = validDoc(s.URL)
	return s
}

func validDoc(iss string) map[string]any {
	return map[string]any{
		"issuer":                                iss,
		"authorization_endpoint":                iss + "/authorize",
		"token_endpoint":                        iss + "/token",
		"jwks_uri":                              iss + "/keys",
		"response_types_supported":              []string{"code"},
		"id_token_signing_alg_values_supported": []string{"RS256", "HS256"},
	}
}

func (s *docServer) set(k string, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v == nil {
		delete(s.doc, k)
	} else {
		s.doc[k] = v
	}
}

// fakeClock follows the real time plus what the test adds: the provider
// runs on real time.
type fakeClock = clocktest.Clock

func testRP(t *testing.T, issuer string, ck *fakeClock) *RelyingParty {
	t.Helper()
	mem := store.NewMemory(store.MemoryConfig{})
	t.Cleanup(func() { mem.Close() })
	cfg := Config{Providers: []Provider{{Name: "p", Issuer: issuer, ClientID: "c", RedirectURL: "https://app.example/cb"}}}
	if ck != nil {
		cfg.Now = ck.Now
	}
	rp := New(session.New(mem, session.Config{}), mem, cfg)
	t.Cleanup(func() { rp.Close() })
	return rp
}

func TestDiscoveryRefused(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(s *docServer)
		want   string
	}{
		{"issuer with a trailing slash", func(s *docServer) { s.set("issuer", s.URL+"/") }, "issuer"},
		{"another issuer", func(s *docServer) { s.set("issuer", "https://evil.example") }, "issuer"},
		{"no token endpoint", func(s *docServer) { s.set("token_endpoint", nil) }, "token_endpoint"},
		{"plain http endpoint", func(s *docServer) { s.set("jwks_uri", "http://keys.example/jwks") }, "https"},
		{"relative endpoint", func(s *docServer) { s.set("authorization_endpoint", "/authorize") }, "absolute"},
		{"only HMAC", func(s *docServer) { s.set("id_token_signing_alg_values_supported", []string{"HS256"}) }, "algorithm"},
		{"only none", func(s *docServer) { s.set("id_token_signing_alg_values_supported", []string{"none"}) }, "algorithm"},
		{"no code flow", func(s *docServer) { s.set("response_types_supported", []string{"id_token"}) }, "code flow"},
		{"not JSON", func(s *docServer) { s.ctype = "text/html" }, "JSON"},
		{"status", func(s *docServer) { s.status = http.StatusInternalServerError }, "status 500"},
		{"issuer not a string", func(s *docServer) { s.set("issuer", 7) }, "shape"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newDocServer(t)
			c.change(s)
			rp := testRP(t, s.URL, nil)
			_, err := rp.Discovery(context.Background(), "p")
			if !errors.Is(err, ErrDiscovery) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v: want ErrDiscovery about %q", err, c.want)
			}
		})
	}
}

func TestDiscoveryAlgorithms(t *testing.T) {
	s := newDocServer(t)
	s.set("id_token_signing_alg_values_supported", []string{"none", "HS256", "ES256", "RS512", "EdDSA"})
	md, err := testRP(t, s.URL, nil).Discovery(context.Background(), "p")
	if err != nil {
		t.Fatal(err)
	}
	if got := md.algorithms(); len(got) != 2 || got[0] != "ES256" || got[1] != "EdDSA" {
		t.Fatalf("algorithms %v: want the safe ones advertised, [ES256 EdDSA]", got)
	}
	s.set("id_token_signing_alg_values_supported", nil)
	md, err = testRP(t, s.URL, nil).Discovery(context.Background(), "p")
	if err != nil || len(md.algorithms()) != 1 || md.algorithms()[0] != "RS256" {
		t.Fatalf("without the list: %v %v, want RS256", md, err)
	}
}

// TestDiscoveryCache: one fetch for many users; a stale document is served
// while it is fetched again; failures are retried at most every 10 s.
func TestDiscoveryCache(t *testing.T) {
	s := newDocServer(t)
	ck := clocktest.FromNow()
	rp := testRP(t, s.URL, ck)
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := rp.Discovery(ctx, "p"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := s.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches for 20 concurrent first uses, want 1", n)
	}

	ck.Add(2 * DefaultDiscoveryInterval)
	s.set("end_session_endpoint", s.URL+"/logout")
	md, err := rp.Discovery(ctx, "p")
	if err != nil || md.EndSessionEndpoint != "" {
		t.Fatalf("stale document: %v %v; want the old one served at once", md, err)
	}
	waitFor(t, func() bool { md, _ := rp.Discovery(ctx, "p"); return md.EndSessionEndpoint != "" })

	ck.Add(2 * DefaultDiscoveryInterval)
	s.status = http.StatusBadGateway
	before := s.fetches.Load()
	for range 5 {
		if md, err := rp.Discovery(ctx, "p"); err != nil || md.EndSessionEndpoint == "" {
			t.Fatalf("a failed refetch must keep the last good document: %v %v", md, err)
		}
	}
	waitFor(t, func() bool { return s.fetches.Load() == before+1 })
	for range 5 {
		rp.Discovery(ctx, "p")
	}
	if n := s.fetches.Load(); n != before+1 {
		t.Fatalf("%d fetches after a failure within 10 s, want 1", n-before)
	}
}

func TestDiscoveryFailureRetry(t *testing.T) {
	s := newDocServer(t)
	s.status = http.StatusServiceUnavailable
	ck := clocktest.FromNow()
	rp := testRP(t, s.URL, ck)
	ctx := context.Background()
	for range 3 {
		if _, err := rp.Discovery(ctx, "p"); !errors.Is(err, ErrDiscovery) {
			t.Fatalf("error %v", err)
		}
	}
	if n := s.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches within 10 s of a failure, want 1", n)
	}
	s.status = http.StatusOK
	ck.Add(discoveryRetry)
	if _, err := rp.Discovery(ctx, "p"); err != nil {
		t.Fatalf("after the retry interval: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNewPanics(t *testing.T) {
	mem := store.NewMemory(store.MemoryConfig{})
	defer mem.Close()
	sm := session.New(mem, session.Config{})
	ok := Provider{Name: "p", Issuer: "https://idp.example", ClientID: "c", RedirectURL: "https://app.example/cb"}
	for name, cfg := range map[string]Config{
		"bad name":        {Providers: []Provider{{Name: "P!", Issuer: ok.Issuer, ClientID: "c", RedirectURL: ok.RedirectURL}}},
		"duplicate":       {Providers: []Provider{ok, ok}},
		"no client":       {Providers: []Provider{{Name: "p", Issuer: ok.Issuer, RedirectURL: ok.RedirectURL}}},
		"http issuer":     {Providers: []Provider{{Name: "p", Issuer: "http://idp.example", ClientID: "c", RedirectURL: ok.RedirectURL}}},
		"issuer query":    {Providers: []Provider{{Name: "p", Issuer: "https://idp.example/?t=1", ClientID: "c", RedirectURL: ok.RedirectURL}}},
		"flow lifetime":   {FlowLifetime: 2 * time.Hour},
		"leeway":          {Leeway: time.Hour},
		"insecure cookie": {Cookie: cookie.Template{Name: "__Host-f-", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode}},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("New did not panic")
				}
			}()
			New(sm, mem, cfg)
		})
	}
}
