package keyring

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authkit/authkit/internal/clocktest"
	"github.com/authkit/authkit/jwt"
)

func getJWKS(t *testing.T, h http.Handler, method, inm string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, "/.well-known/jwks.json", nil)
	if inm != "" {
		req.Header.Set("If-None-Match", inm)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func jwksKIDs(t *testing.T, body []byte) []string {
	t.Helper()
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		for _, private := range []string{"d", "p", "q", "k"} {
			if _, ok := k[private]; ok {
				t.Fatalf("JWKS key %v has private member %q", k["kid"], private)
			}
		}
		kids = append(kids, k["kid"].(string))
	}
	slices.Sort(kids)
	return kids
}

func TestJWKSHandler(t *testing.T) {
	clk := clocktest.New(tStart)
	st := memoryStore(t, clk)
	a := mustServer(t, st, clk, testKEKs(t)) // ES256 and a cookie purpose
	ctx := context.Background()
	ed, err := a.kr.KeySet(ctx, jwt.EdDSA, testSch)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := a.kr.KeySet(ctx, jwt.HS256, testSch)
	if err != nil {
		t.Fatal(err)
	}
	pending, err := a.kr.Rotate(ctx, JWTPurpose(jwt.ES256))
	if err != nil {
		t.Fatal(err)
	}
	h := a.kr.JWKSHandler()
	rec := getJWKS(t, h, http.MethodGet, "")
	want := []string{a.keys.SigningKey().ID(), pending.ID, ed.SigningKey().ID()}
	slices.Sort(want)
	if got := jwksKIDs(t, rec.Body.Bytes()); rec.Code != 200 || !slices.Equal(got, want) {
		t.Fatalf("%d, kids %v, want %v (the HMAC key %s never)", rec.Code, got, want, hs.SigningKey().ID())
	}
	if ct, cc := rec.Header().Get("Content-Type"), rec.Header().Get("Cache-Control"); ct != "application/jwk-set+json" || cc != "public, max-age=600" {
		t.Fatalf("Content-Type %q, Cache-Control %q", ct, cc)
	}
	etag := rec.Header().Get("ETag")
	if r := getJWKS(t, h, http.MethodGet, etag); r.Code != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d", r.Code)
	}
	if r := getJWKS(t, h, http.MethodHead, ""); r.Code != 200 || r.Body.Len() != 0 {
		t.Fatalf("HEAD: %d, %d bytes", r.Code, r.Body.Len())
	}
	if r := getJWKS(t, h, http.MethodPost, ""); r.Code != http.StatusMethodNotAllowed || r.Header().Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST: %d", r.Code)
	}

	// A revoked key leaves the set at once on this server.
	if err := a.kr.Revoke(ctx, JWTPurpose(jwt.ES256), pending.ID); err != nil {
		t.Fatal(err)
	}
	rec = getJWKS(t, h, http.MethodGet, etag)
	if rec.Code != 200 || slices.Contains(jwksKIDs(t, rec.Body.Bytes()), pending.ID) || rec.Header().Get("ETag") == etag {
		t.Fatalf("after revocation: %d, %s", rec.Code, rec.Body)
	}
}

// TestJWKSMaxAgeFollowsSchedule: the advertised max-age never reaches past
// the next scheduled change of the published keys.
func TestJWKSMaxAgeFollowsSchedule(t *testing.T) {
	clk := clocktest.New(tStart)
	st := memoryStore(t, clk)
	a := mustServer(t, st, clk, testKEKs(t))
	ctx := context.Background()
	due := tStart.Add(testSch.Rotation - testSch.Prepublish) // the next key is added then
	for _, tt := range []struct {
		at   time.Time
		want time.Duration
	}{
		{tStart, 10 * time.Minute},
		{due.Add(-3 * time.Minute), 3 * time.Minute},
		{due.Add(-300 * time.Millisecond), time.Second},
	} {
		clk.Set(tt.at)
		if got := a.kr.JWKSMaxAge(); got != tt.want {
			t.Errorf("at %v: max-age %v, want %v", tt.at.Sub(tStart), got, tt.want)
		}
	}
	clk.Set(due)
	a.kr.wake(ctx) // adds the next key; the following change is its predecessor's removal
	next := a.kr.Keys()
	if len(next) < 2 {
		t.Fatalf("keys %+v", next)
	}
	if got := a.kr.JWKSMaxAge(); got != 10*time.Minute {
		t.Errorf("after the step: %v", got)
	}
	cc := getJWKS(t, a.kr.JWKSHandler(), http.MethodGet, "").Header().Get("Cache-Control")
	if !strings.HasPrefix(cc, "public, max-age=") {
		t.Fatalf("Cache-Control %q", cc)
	}
}

// TestReadersDoNotWaitForReloads: while a reload is stuck in the store, the
// JWKS handler and Keys answer from the keys held.
func TestReadersDoNotWaitForReloads(t *testing.T) {
	clk := clocktest.New(tStart)
	hs := newHookStore(memoryStore(t, clk))
	a := mustServer(t, hs, clk, testKEKs(t))
	entered, release := make(chan struct{}), make(chan struct{})
	hs.fail = func(op, key string) error {
		if op == "get" && key == storePrefix+JWTPurpose(jwt.ES256) {
			close(entered)
			<-release
		}
		return nil
	}
	done := make(chan error)
	go func() { done <- a.kr.Refresh(context.Background()) }()
	<-entered
	hs.mu.Lock()
	hs.fail = nil
	hs.mu.Unlock()
	if r := getJWKS(t, a.kr.JWKSHandler(), http.MethodGet, ""); r.Code != 200 {
		t.Fatalf("JWKS during a stuck reload: %d", r.Code)
	}
	if n := len(a.kr.Keys()); n != 2 {
		t.Fatalf("Keys during a stuck reload: %d", n)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
