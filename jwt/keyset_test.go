package jwt

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

func TestKeySetRotation(t *testing.T) {
	a, b, c := testKey(t, ES256), testKey(t, EdDSA), testKey(t, HS256)
	ks := mustKeySet(t, a)
	f := newFixture(t, ks, nil)
	ctx := context.Background()

	tokA := f.issue(t, Grant{})
	if tokA.KeyID != a.ID() {
		t.Fatalf("signed with %q", tokA.KeyID)
	}
	// Step 1: add b; a still signs.
	if err := ks.Add(b); err != nil {
		t.Fatal(err)
	}
	if err := ks.Add(b); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("adding a kid twice: %v", err)
	}
	if got := f.issue(t, Grant{}).KeyID; got != a.ID() {
		t.Fatalf("after Add, signed with %q", got)
	}
	// Step 2: rotate to b; tokens of a still verify.
	if err := ks.Rotate(b); err != nil {
		t.Fatal(err)
	}
	tokB := f.issue(t, Grant{})
	if tokB.KeyID != b.ID() || ks.SigningKey() != b {
		t.Fatalf("after Rotate, signed with %q", tokB.KeyID)
	}
	if got := ks.Keys(); len(got) != 2 || got[0] != b || got[1] != a {
		t.Fatalf("keys after rotation: %v", got)
	}
	for _, tok := range []string{tokA.Token, tokB.Token} {
		if _, err := f.ver.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	// Retiring the signing key is refused; retiring a refuses its tokens.
	if err := ks.Retire(b.ID()); !errors.Is(err, ErrKeyInUse) {
		t.Fatalf("retiring the signing key: %v", err)
	}
	if err := ks.Retire(a.ID()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ver.Verify(ctx, tokA.Token); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("token of a retired key: %v", err)
	}
	if _, err := f.ver.Verify(ctx, tokB.Token); err != nil {
		t.Fatalf("token of the current key after a retirement: %v", err)
	}
	if err := ks.Retire("unknown"); err != nil {
		t.Fatal(err)
	}
	// A key that cannot sign cannot become the signing key.
	if err := ks.Rotate(a.Public()); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("rotating to a public key: %v", err)
	}
	// Rotating to a kid already present promotes it.
	if err := ks.Add(c); err != nil {
		t.Fatal(err)
	}
	if err := ks.Rotate(c); err != nil || ks.SigningKey() != c {
		t.Fatalf("promote: %v", err)
	}
	if _, ok := ks.Key(b.ID()); !ok {
		t.Fatal("previous signing key dropped")
	}
}

func TestNewKeySetErrors(t *testing.T) {
	a := testKey(t, ES256)
	if _, err := NewKeySet(a, a); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("duplicate kid: %v", err)
	}
	if _, err := NewKeySet(a.Public()); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("public signing key: %v", err)
	}
	if _, err := NewKeySet(nil, nil); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("nil key: %v", err)
	}
	ks, err := NewKeySet(nil, a.Public())
	if err != nil {
		t.Fatal(err)
	}
	iss := NewIssuer(ks, IssuerConfig{})
	if _, err := iss.Issue(Grant{Subject: "s"}); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("issuing from a verify-only set: %v", err)
	}
}

func TestJWKSHandler(t *testing.T) {
	es, ed, rs, hs := testKey(t, ES256), testKey(t, EdDSA), testKey(t, RS256), testKey(t, HS256)
	ks := mustKeySet(t, es, ed, rs.Public(), hs)
	srv := httptest.NewServer(ks.JWKSHandler(0))
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for h, want := range map[string]string{
		"Content-Type":  "application/jwk-set+json",
		"Cache-Control": "public, max-age=300",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	etag := resp.Header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) {
		t.Fatalf("ETag %q", etag)
	}
	set, err := jwk.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 3 {
		t.Fatalf("%d keys published, want 3 (no HMAC key)", set.Len())
	}
	if strings.Contains(string(body), `"oct"`) || strings.Contains(string(body), `"d"`) {
		t.Fatalf("secret material published: %s", body)
	}
	for _, k := range []*Key{es, ed, rs} {
		jk, ok := set.LookupKeyID(k.ID())
		if !ok {
			t.Fatalf("kid %q missing", k.ID())
		}
		if alg, _ := jk.Algorithm(); alg.String() != string(k.Algorithm()) {
			t.Fatalf("kid %q: alg %v", k.ID(), alg)
		}
	}

	// Conditional GET.
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("If-None-Match", `"other", `+etag)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: status %d", resp.StatusCode)
	}

	// A change of keys changes the document and its ETag.
	if err := ks.Retire(ed.ID()); err != nil {
		t.Fatal(err)
	}
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == etag {
		t.Fatalf("after retirement: status %d, same ETag", resp.StatusCode)
	}
	var doc struct{ Keys []json.RawMessage }
	if err := json.Unmarshal(body, &doc); err != nil || len(doc.Keys) != 2 {
		t.Fatalf("after retirement: %s", body)
	}

	// Other methods.
	resp, err = http.Post(srv.URL, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: status %d", resp.StatusCode)
	}

	// max-age follows the argument.
	rec := httptest.NewRecorder()
	ks.JWKSHandler(time.Hour).ServeHTTP(rec, httptest.NewRequest("HEAD", "/", nil))
	if rec.Header().Get("Cache-Control") != "public, max-age=3600" || rec.Body.Len() != 0 {
		t.Fatalf("HEAD: %v, body %d bytes", rec.Header(), rec.Body.Len())
	}
}

func TestEtagMatch(t *testing.T) {
	const e = `"abc"`
	for h, want := range map[string]bool{
		``:                false,
		`"abc"`:           true,
		`W/"abc"`:         true,
		`*`:               true,
		`"x" , "abc"`:     true,
		`"x","y"`:         false,
		`abc`:             false,
		` "abc" `:         true,
		`"abcd", "ab"`:    false,
		`,,,`:             false,
		`"x",` + "\t" + e: true,
	} {
		if got := etagMatch(h, e); got != want {
			t.Errorf("etagMatch(%q) = %v", h, got)
		}
	}
}

func TestRotateToSameKID(t *testing.T) {
	k := testKey(t, ES256)
	ks := mustKeySet(t, testKey(t, EdDSA), k.Public())
	// The public half is promoted to the full key.
	if err := ks.Rotate(k); err != nil || ks.SigningKey() != k || len(ks.Keys()) != 2 {
		t.Fatalf("Rotate: %v, %d keys", err, len(ks.Keys()))
	}
	// Other material under a kid the set holds is refused.
	other, _ := GenerateKey(ES256)
	impostor, err := NewKeyWithID(k.ID(), ES256, other.signer)
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Rotate(impostor); !errors.Is(err, ErrInvalidKey) || ks.SigningKey() != k {
		t.Fatalf("Rotate to other material under the same kid: %v", err)
	}
}
