package jwt

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authkit/authkit"
)

// jwksServer serves a JWKS document that tests change at will.
type jwksServer struct {
	mu      sync.Mutex
	body    []byte
	status  int
	delay   time.Duration
	chunked bool
	hits    atomic.Int32
	srv     *httptest.Server
}

func newJWKSServer(t *testing.T, body []byte) *jwksServer {
	s := &jwksServer{body: body, status: 200}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		body, status, delay, chunked := s.body, s.status, s.delay, s.chunked
		s.mu.Unlock()
		time.Sleep(delay)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=3600")
		w.WriteHeader(status)
		if chunked {
			for len(body) > 0 {
				n := min(len(body), 4096)
				_, _ = w.Write(body[:n])
				w.(http.Flusher).Flush()
				body = body[n:]
			}
			return
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *jwksServer) set(body []byte, status int) {
	s.mu.Lock()
	s.body, s.status = body, status
	s.mu.Unlock()
}

// settle waits until the server has had no request for a while, so that
// the background first fetch of a new RemoteKeySet is over.
func (s *jwksServer) settle() int32 {
	n := s.hits.Load()
	for {
		time.Sleep(300 * time.Millisecond)
		m := s.hits.Load()
		if m == n {
			return m
		}
		n = m
	}
}

func jwksOf(t *testing.T, keys ...*Key) []byte {
	t.Helper()
	ks := mustKeySet(t, nil, keys...)
	b, err := ks.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type remoteFixture struct {
	clk    *clock
	srv    *jwksServer
	remote *RemoteKeySet
	ver    *Verifier
}

func newRemoteFixture(t *testing.T, body []byte, rc RemoteConfig) *remoteFixture {
	f := &remoteFixture{clk: newClock(), srv: newJWKSServer(t, body)}
	rc.Now = f.clk.Now
	if rc.Logger == nil {
		rc.Logger = discardLogger()
	}
	r, err := NewRemoteKeySet(f.srv.srv.URL+"/jwks.json", rc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	f.remote = r
	f.ver = NewVerifier(r, Config{Issuer: testIssuer, Audience: testAudience, InsecureDisableRevocation: true, Now: f.clk.Now})
	return f
}

func (f *remoteFixture) token(t *testing.T, k *Key) string {
	t.Helper()
	iss := NewIssuer(mustKeySet(t, k), IssuerConfig{Issuer: testIssuer, Audience: []string{testAudience}, Now: f.clk.Now})
	is, err := iss.Issue(Grant{Subject: "remote-user"})
	if err != nil {
		t.Fatal(err)
	}
	return is.Token
}

func TestRemoteVerify(t *testing.T) {
	a, b := testKey(t, ES256), testKey(t, RS256)
	f := newRemoteFixture(t, jwksOf(t, a.Public(), b.Public()), RemoteConfig{})
	if err := f.remote.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, k := range []*Key{a, b} {
		c, err := f.ver.Verify(context.Background(), f.token(t, k))
		if err != nil || c.KeyID != k.ID() {
			t.Fatalf("%s: %v", k.Algorithm(), err)
		}
	}
	if got := f.remote.Keys(); len(got) != 2 || got[0].CanSign() {
		t.Fatalf("keys %v", got)
	}
}

func TestRemoteRotationPickedUp(t *testing.T) {
	a, b := testKey(t, ES256), testKey(t, EdDSA)
	f := newRemoteFixture(t, jwksOf(t, a.Public()), RemoteConfig{})
	ctx := context.Background()
	if err := f.remote.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	tokA, tokB := f.token(t, a), f.token(t, b)
	if _, err := f.ver.Verify(ctx, tokA); err != nil {
		t.Fatal(err)
	}
	// The issuer rotates: b replaces a.
	f.srv.set(jwksOf(t, b.Public()), 200)
	// Within the refetch interval, the unknown kid is refused without a fetch.
	before := f.srv.settle()
	if _, err := f.ver.Verify(ctx, tokB); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("within the interval: %v", err)
	}
	if f.srv.hits.Load() != before {
		t.Fatal("refetched within the interval")
	}
	f.clk.Add(DefaultRefetchInterval)
	if _, err := f.ver.Verify(ctx, tokB); err != nil {
		t.Fatalf("after the interval: %v", err)
	}
	if f.srv.hits.Load() != before+1 {
		t.Fatalf("%d fetches, want 1", f.srv.hits.Load()-before)
	}
	// The set changed: a, though cached, is gone.
	if _, err := f.ver.Verify(ctx, tokA); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("token of the removed key: %v", err)
	}
}

func TestRemoteUnknownKIDFloodIsRateLimited(t *testing.T) {
	a := testKey(t, ES256)
	f := newRemoteFixture(t, jwksOf(t, a.Public()), RemoteConfig{})
	ctx := context.Background()
	if err := f.remote.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	floodSign := withKey(t, a)
	flood := func() {
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				kid := make([]byte, 12)
				_, _ = rand.Read(kid)
				tok := forge(hdr("ES256", fmt.Sprintf("%x", kid)), claimsJSON(nil), floodSign)
				if _, err := f.ver.Verify(ctx, tok); !errors.Is(err, ErrUnknownKey) {
					t.Errorf("random kid: %v", err)
				}
			})
		}
		wg.Wait()
	}
	base := f.srv.settle()
	flood()
	if n := f.srv.hits.Load() - base; n != 0 {
		t.Fatalf("within the window: %d fetches for 100 random kids", n)
	}
	// A new window: 100 concurrent misses share one slow fetch.
	f.srv.mu.Lock()
	f.srv.delay = 100 * time.Millisecond
	f.srv.mu.Unlock()
	f.clk.Add(DefaultRefetchInterval)
	flood()
	if n := f.srv.hits.Load() - base; n != 1 {
		t.Fatalf("new window: %d fetches for 100 random kids, want 1", n)
	}
	flood()
	if n := f.srv.hits.Load() - base; n != 1 {
		t.Fatalf("same window again: %d fetches", n)
	}
}

func TestRemoteOversizeBodyRefused(t *testing.T) {
	a := testKey(t, ES256)
	good := jwksOf(t, a.Public())
	huge := []byte(`{"keys":[],"pad":"` + strings.Repeat("x", 1<<20) + `"}`)
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			f := newRemoteFixture(t, huge, RemoteConfig{})
			f.srv.mu.Lock()
			f.srv.chunked = chunked
			f.srv.mu.Unlock()
			ctx := context.Background()
			err := f.remote.Refresh(ctx)
			if !errors.Is(err, ErrBodyTooLarge) {
				t.Fatalf("Refresh = %v", err)
			}
			_, err = f.ver.Verify(ctx, f.token(t, a))
			if !errors.Is(err, ErrKeysUnavailable) || errors.Is(err, authkit.ErrInvalidCredentials) {
				t.Fatalf("never fetched: %v", err)
			}
			// A good set, then an oversize one: the good one stays.
			f.srv.set(good, 200)
			if err := f.remote.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			f.srv.set(huge, 200)
			if err := f.remote.Refresh(ctx); !errors.Is(err, ErrBodyTooLarge) {
				t.Fatalf("Refresh = %v", err)
			}
			if _, err := f.ver.Verify(ctx, f.token(t, a)); err != nil {
				t.Fatalf("last good set lost: %v", err)
			}
		})
	}
	t.Run("small limit", func(t *testing.T) {
		f := newRemoteFixture(t, good, RemoteConfig{MaxBodySize: int64(len(good) - 1)})
		if err := f.remote.Refresh(context.Background()); !errors.Is(err, ErrBodyTooLarge) {
			t.Fatalf("Refresh = %v", err)
		}
	})
}

func TestRemoteOutageKeepsLastGoodKeys(t *testing.T) {
	a := testKey(t, ES256)
	f := newRemoteFixture(t, jwksOf(t, a.Public()), RemoteConfig{})
	ctx := context.Background()
	if err := f.remote.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	tok := f.token(t, a)
	for name, failure := range map[string]func(){
		"500":          func() { f.srv.set([]byte("oops"), 500) },
		"invalid JSON": func() { f.srv.set([]byte("{not json"), 200) },
		"empty set":    func() { f.srv.set([]byte(`{"keys":"nope"}`), 200) },
	} {
		t.Run(name, func(t *testing.T) {
			failure()
			if err := f.remote.Refresh(ctx); err == nil {
				t.Fatal("Refresh succeeded")
			}
			f.ver.cache.clear()
			if _, err := f.ver.Verify(ctx, tok); err != nil {
				t.Fatalf("after a failed fetch: %v", err)
			}
		})
	}
	t.Run("server gone", func(t *testing.T) {
		f.srv.srv.Close()
		if err := f.remote.Refresh(ctx); err == nil {
			t.Fatal("Refresh succeeded")
		}
		f.clk.Add(time.Hour)
		f.ver.cache.clear()
		// An unknown kid triggers a refetch that fails: refused, old keys kept.
		if _, err := f.ver.Verify(ctx, f.token(t, testKey(t, EdDSA))); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("unknown kid during the outage: %v", err)
		}
		if _, err := f.ver.Verify(ctx, f.token(t, a)); err != nil {
			t.Fatalf("known kid during the outage: %v", err)
		}
	})
}

func TestRemoteNeverFetched(t *testing.T) {
	f := newRemoteFixture(t, []byte("down"), RemoteConfig{})
	f.srv.set([]byte("down"), 503)
	tok := f.token(t, testKey(t, ES256))
	ctx := context.Background()
	for range 3 {
		_, err := f.ver.Verify(ctx, tok)
		if !errors.Is(err, ErrKeysUnavailable) || errors.Is(err, authkit.ErrInvalidCredentials) {
			t.Fatalf("Verify = %v", err)
		}
	}
	rec := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	(&authkit.Guard{Logger: discardLogger()}).Require(f.ver)(nil).ServeHTTP(rec, r)
	if rec.Code != 503 {
		t.Fatalf("status %d", rec.Code)
	}
	// A bearer token of another kind is still left to the next
	// Authenticator while the keys are unavailable.
	for _, other := range []string{"ak_at_0123456789abcdefghijABCDEFGHIJ012345", "a+b.c/d.e="} {
		r.Header.Set("Authorization", "Bearer "+other)
		if _, err := f.ver.Authenticate(r); !errors.Is(err, authkit.ErrNoCredentials) {
			t.Fatalf("%s: %v", other, err)
		}
	}
}

// jwkJSON returns the public JWK of k with fields changed by mod (a nil
// value deletes the field).
func jwkJSON(t *testing.T, k *Key, mod map[string]any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(k.PublicJWK())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for f, v := range mod {
		if v == nil {
			delete(m, f)
		} else {
			m[f] = v
		}
	}
	b, _ = json.Marshal(m)
	return b
}

func setOf(keys ...json.RawMessage) []byte {
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

func TestRemoteKeysWithoutAlg(t *testing.T) {
	rs, es, ed := testKey(t, RS256), testKey(t, ES256), testKey(t, EdDSA)
	ps, err := NewKeyWithID(rs.ID(), PS256, rs.signer)
	if err != nil {
		t.Fatal(err)
	}
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	weakJSON, _ := json.Marshal(map[string]string{"kty": "RSA", "kid": "weak", "alg": "RS256", "e": "AQAB", "n": b64.EncodeToString(weak.N.Bytes())})
	body := setOf(
		jwkJSON(t, rs, map[string]any{"alg": nil}),
		jwkJSON(t, es, map[string]any{"alg": nil, "use": nil}),
		jwkJSON(t, ed, map[string]any{"alg": nil}),
		json.RawMessage(`{"kty":"oct","kid":"secret","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`),
		json.RawMessage(`{"kty":"oct","kid":"secret2","alg":"HS256","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`),
		jwkJSON(t, testKey(t, ES384), map[string]any{"use": "enc"}),
		weakJSON,
		json.RawMessage(`{"kty":"EC","kid":"bad","crv":"P-256","x":"AAAA","y":"AAAA"}`),
		json.RawMessage(`{"kty":"PQ","kid":"future"}`),
	)
	ctx := context.Background()
	cases := []struct {
		name    string
		allowed []Algorithm
		key     *Key
		want    error
	}{
		{"RSA without alg is RS256", nil, rs, nil},
		{"EC P-256 without alg is ES256", nil, es, nil},
		{"OKP without alg is EdDSA", nil, ed, nil},
		{"RSA without alg is PS256 when only PS256 is allowed", []Algorithm{PS256}, ps, nil},
		{"an RS256 token then fails", []Algorithm{PS256}, rs, ErrAlgorithm},
		{"EC outside the allowlist is ignored", []Algorithm{RS256, EdDSA}, es, ErrUnknownKey},
		{"HMAC keys are never used", nil, mustHS(t, "secret"), ErrUnknownKey},
		{"HMAC keys with alg are never used", nil, mustHS(t, "secret2"), ErrUnknownKey},
		{"use enc is ignored", nil, testKey(t, ES384), ErrUnknownKey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newRemoteFixture(t, body, RemoteConfig{Algorithms: c.allowed})
			if err := f.remote.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			_, err := f.ver.Verify(ctx, f.token(t, c.key))
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("Verify = %v, want %v", err, c.want)
			}
			for _, k := range f.remote.Keys() {
				if k.ID() == "weak" || k.ID() == "bad" || k.ID() == "future" || k.Algorithm().Symmetric() {
					t.Fatalf("unusable key %q in use", k.ID())
				}
			}
		})
	}
}

func mustHS(t *testing.T, kid string) *Key {
	k, err := NewKeyWithID(kid, HS256, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestRemoteConfigErrors(t *testing.T) {
	for _, u := range []string{"http://idp.example/jwks", "ftp://idp.example/jwks", "::", "https://"} {
		if r, err := NewRemoteKeySet(u, RemoteConfig{}); err == nil {
			r.Close()
			t.Errorf("URL %q accepted", u)
		}
	}
	for _, u := range []string{"http://127.0.0.1:1/jwks", "http://localhost:1/jwks", "http://[::1]:1/jwks"} {
		r, err := NewRemoteKeySet(u, RemoteConfig{Logger: discardLogger()})
		if err != nil {
			t.Errorf("URL %q: %v", u, err)
			continue
		}
		r.Close()
	}
	r, err := NewRemoteKeySet("http://idp.example/jwks", RemoteConfig{InsecureAllowHTTP: true, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if err := r.Refresh(context.Background()); err == nil {
		t.Fatal("Refresh after Close")
	}
	for name, cfg := range map[string]RemoteConfig{
		"HMAC in the allowlist": {Algorithms: []Algorithm{HS256}},
		"unknown algorithm":     {Algorithms: []Algorithm{"none"}},
		"negative interval":     {RefetchInterval: -time.Second},
	} {
		if r, err := NewRemoteKeySet("https://idp.example/jwks", cfg); err == nil {
			r.Close()
			t.Errorf("%s: accepted", name)
		}
	}
}

// A refetch that brings back the same keys — as every refetch an unknown
// kid triggers usually does — keeps the verified-token cache; one that adds
// a key keeps it too; one that changes the material under a kid empties it.
func TestRemoteUnchangedRefetchKeepsCache(t *testing.T) {
	a, b := testKey(t, ES256), testKey(t, EdDSA)
	f := newRemoteFixture(t, jwksOf(t, a.Public()), RemoteConfig{})
	ctx := context.Background()
	if err := f.remote.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	tokA := f.token(t, a)
	first, err := f.ver.Verify(ctx, tokA)
	if err != nil {
		t.Fatal(err)
	}
	// cached reports whether tokA is still served from the entry of its
	// first verification (Verify hands out the entry's Claims).
	cached := func() bool {
		c, err := f.ver.Verify(ctx, tokA)
		if err != nil {
			t.Fatal(err)
		}
		return c == first
	}
	unknownKID := func() {
		f.clk.Add(DefaultRefetchInterval)
		before := f.srv.hits.Load()
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				kid := make([]byte, 12)
				_, _ = rand.Read(kid)
				tok := forge(hdr("ES256", fmt.Sprintf("%x", kid)), claimsJSON(nil), withKey(t, a))
				if _, err := f.ver.Verify(ctx, tok); !errors.Is(err, ErrUnknownKey) {
					t.Errorf("random kid: %v", err)
				}
			})
		}
		wg.Wait()
		if n := f.srv.hits.Load() - before; n != 1 {
			t.Fatalf("%d refetches for an unknown-kid flood, want 1", n)
		}
	}
	for round := range 3 {
		unknownKID()
		if !cached() {
			t.Fatalf("round %d: an unchanged key set emptied the cache", round)
		}
	}
	// Another key appears: nothing cached can be wrong.
	f.srv.set(jwksOf(t, a.Public(), b.Public()), 200)
	unknownKID()
	if !cached() {
		t.Fatal("an added key emptied the cache")
	}
	// The issuer publishes other material under a's kid: a's tokens must be
	// verified afresh (and fail).
	swapped, err := NewKeyWithID(a.ID(), ES256, mustKeyOf(t, ES256).Public().public)
	if err != nil {
		t.Fatal(err)
	}
	f.srv.set(jwksOf(t, swapped, b.Public()), 200)
	unknownKID()
	if _, err := f.ver.Verify(ctx, tokA); !errors.Is(err, ErrSignature) {
		t.Fatalf("a cached token whose key changed: %v, want ErrSignature", err)
	}
}

// mustKeyOf generates a fresh key, unlike testKey's shared ones.
func mustKeyOf(t *testing.T, alg Algorithm) *Key {
	t.Helper()
	k, err := GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// An RSA key published without alg verifies the algorithms RSAWithoutAlg
// names; a key published with alg verifies that one only.
func TestRemoteRSAWithoutAlg(t *testing.T) {
	rs := testKey(t, RS256)
	ps, err := NewKeyWithID(rs.ID(), PS256, rs.signer)
	if err != nil {
		t.Fatal(err)
	}
	noAlg := setOf(jwkJSON(t, rs, map[string]any{"alg": nil}))
	withAlg := setOf(jwkJSON(t, rs, nil)) // alg RS256
	ctx := context.Background()
	for _, c := range []struct {
		name           string
		body           []byte
		rsaWithoutAlg  []Algorithm
		rsOK, psOK     bool
		kidlessRSAlone bool
	}{
		{"default: RS256", noAlg, nil, true, false, true},
		{"PS256 only", noAlg, []Algorithm{PS256}, false, true, false},
		{"both", noAlg, []Algorithm{RS256, PS256}, true, true, true},
		{"a key with alg ignores the setting", withAlg, []Algorithm{RS256, PS256}, true, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newRemoteFixture(t, c.body, RemoteConfig{RSAWithoutAlg: c.rsaWithoutAlg})
			if err := f.remote.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			for _, k := range []struct {
				key *Key
				ok  bool
			}{{rs, c.rsOK}, {ps, c.psOK}} {
				_, err := f.ver.Verify(ctx, f.token(t, k.key))
				if k.ok && err != nil || !k.ok && !errors.Is(err, ErrAlgorithm) {
					t.Errorf("%s token: %v, want ok %v", k.key.Algorithm(), err, k.ok)
				}
			}
			// One JWK is one key, whatever its algorithms: a token without
			// kid selects it.
			kidless := forge(`{"alg":"RS256","typ":"at+jwt"}`, claimsJSON(nil), withKey(t, rs))
			if _, err := f.ver.Verify(ctx, kidless); (err == nil) != c.kidlessRSAlone {
				t.Errorf("RS256 token without kid: %v", err)
			}
		})
	}
	for name, cfg := range map[string]RemoteConfig{
		"not an RSA algorithm": {RSAWithoutAlg: []Algorithm{ES256}},
		"not allowed":          {Algorithms: []Algorithm{RS256}, RSAWithoutAlg: []Algorithm{PS256}},
	} {
		if r, err := NewRemoteKeySet("https://idp.example/jwks", cfg); err == nil {
			r.Close()
			t.Errorf("%s: accepted", name)
		}
	}
}

// Ed25519 (RFC 9864) and EdDSA name one algorithm: a key of either verifies
// a token whose header names either, and an allowlist with one allows both.
func TestEd25519IsEdDSA(t *testing.T) {
	ed := testKey(t, EdDSA)
	full, err := NewKeyWithID(ed.ID(), Ed25519, ed.signer)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, signing := range []*Key{ed, full} {
		for _, hdrAlg := range []string{"EdDSA", "Ed25519"} {
			f := newFixture(t, mustKeySet(t, signing), func(c *Config) { c.InsecureDisableRevocation = true })
			tok := forge(hdr(hdrAlg, ed.ID()), claimsJSON(nil), withKey(t, ed))
			if _, err := f.ver.Verify(ctx, tok); err != nil {
				t.Errorf("key %s, header %s: %v", signing.Algorithm(), hdrAlg, err)
			}
		}
	}
	es := testKey(t, ES256)
	f := newFixture(t, mustKeySet(t, es), func(c *Config) { c.InsecureDisableRevocation = true })
	if _, err := f.ver.Verify(ctx, forge(hdr("Ed25519", es.ID()), claimsJSON(nil), withKey(t, ed))); !errors.Is(err, ErrAlgorithm) {
		t.Errorf("Ed25519 header on an ES256 key: %v", err)
	}
	// A key set of an Ed25519 key publishes alg Ed25519 and signs with it.
	jwks := jwksOf(t, full.Public())
	if !strings.Contains(string(jwks), `"alg":"Ed25519"`) {
		t.Fatalf("JWKS %s", jwks)
	}
	for name, c := range map[string]struct {
		body  []byte
		allow []Algorithm
	}{
		"alg Ed25519, allowlist EdDSA":   {jwks, []Algorithm{EdDSA}},
		"alg EdDSA, allowlist Ed25519":   {jwksOf(t, ed.Public()), []Algorithm{Ed25519}},
		"without alg, allowlist Ed25519": {setOf(jwkJSON(t, ed, map[string]any{"alg": nil})), []Algorithm{Ed25519}},
		"alg Ed25519, default allowlist": {jwks, nil},
	} {
		t.Run(name, func(t *testing.T) {
			rf := newRemoteFixture(t, c.body, RemoteConfig{Algorithms: c.allow})
			if err := rf.remote.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			for _, k := range []*Key{ed, full} {
				if _, err := rf.ver.Verify(ctx, rf.token(t, k)); err != nil {
					t.Errorf("token signed as %s: %v", k.Algorithm(), err)
				}
			}
		})
	}
}
