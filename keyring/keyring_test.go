package keyring

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/cookie"
	"github.com/authkit/authkit/internal/clocktest"
	"github.com/authkit/authkit/jwt"
	"github.com/authkit/authkit/store"
)

var (
	quiet   = slog.New(slog.DiscardHandler)
	tStart  = time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	testSch = Schedule{Rotation: 7 * 24 * time.Hour, Prepublish: time.Hour, MaxLifetime: 24 * time.Hour, Leeway: time.Minute}
)

// server is one server of a test fleet: a Keyring without a background
// loop, driven by the test.
type server struct {
	kr    *Keyring
	seal  *cookie.Codec
	keys  *jwt.KeySet
	iss   *jwt.Issuer
	ver   *jwt.Verifier
	event []authkit.Event
	mu    sync.Mutex
}

func newServer(t testing.TB, st store.Store, clk *clocktest.Clock, keks []*KEK) (*server, error) {
	t.Helper()
	s := &server{}
	cfg := Config{KEKs: keks, Now: clk.Now, Logger: quiet, ReloadInterval: time.Minute, JWKSMaxAge: 10 * time.Minute,
		Events: func(_ context.Context, e authkit.Event) { s.mu.Lock(); s.event = append(s.event, e); s.mu.Unlock() }}
	kr, err := newKeyring(st, cfg, false)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { kr.Close() })
	s.kr = kr
	if s.seal, err = kr.Codec(context.Background(), CookieSeal, testSch); err != nil {
		return nil, err
	}
	if s.keys, err = kr.KeySet(context.Background(), jwt.ES256, testSch); err != nil {
		return nil, err
	}
	s.iss = jwt.NewIssuer(s.keys, jwt.IssuerConfig{Issuer: "i", Lifetime: 12 * time.Hour, Now: clk.Now})
	s.ver = jwt.NewVerifier(s.keys, jwt.Config{Issuer: "i", InsecureDisableRevocation: true, Now: clk.Now})
	return s, nil
}

func mustServer(t testing.TB, st store.Store, clk *clocktest.Clock, keks []*KEK) *server {
	t.Helper()
	s, err := newServer(t, st, clk, keks)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *server) events() []authkit.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.event)
}

// sealAndSign returns a sealed cookie and a JWT from s.
func (s *server) sealAndSign(t testing.TB) (string, string) {
	t.Helper()
	v, err := s.seal.SealString("n", "payload", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.iss.Issue(jwt.Grant{Subject: "u"})
	if err != nil {
		t.Fatal(err)
	}
	return v, tok.Token
}

// accepts reports whether s opens the cookie and verifies the JWT.
func (s *server) accepts(v, tok string) (bool, bool) {
	_, errC := s.seal.OpenString("n", v)
	_, errJ := s.ver.Verify(context.Background(), tok)
	return errC == nil, errJ == nil
}

// dump returns a copy of every entry of m.
func dump(m *store.Memory) map[string][]byte {
	out := map[string][]byte{}
	for k, v := range m.All() {
		out[k] = bytes.Clone(v)
	}
	return out
}

func TestNewRequiresKEK(t *testing.T) {
	clk := clocktest.New(tStart)
	st := memoryStore(t, clk)
	if _, err := New(st, Config{}); !errors.Is(err, ErrNoKEK) {
		t.Fatalf("no KEK: %v", err)
	}
	if _, err := New(st, Config{KEKs: []*KEK{nil}}); !errors.Is(err, ErrNoKEK) {
		t.Fatalf("nil KEK: %v", err)
	}
	if _, err := New(nil, Config{KEKs: testKEKs(t)}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("nil store: %v", err)
	}
	if _, err := New(st, Config{KEKs: testKEKs(t), JWKSMaxAge: -1}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("negative duration: %v", err)
	}
	if n := len(dump(st)); n != 0 {
		t.Fatalf("New wrote %d entries", n)
	}
}

// TestStartWithWrongKEK: a server started with another KEK than the one the
// keys were stored under fails at start-up with ErrWrongKEK and leaves the
// store exactly as it was: no key is generated in place of those it cannot
// read.
func TestStartWithWrongKEK(t *testing.T) {
	clk := clocktest.New(tStart)
	st := memoryStore(t, clk)
	a := mustServer(t, st, clk, testKEKs(t))
	v, tok := a.sealAndSign(t)
	before := dump(st)
	for name, keks := range map[string][]*KEK{"other KEK": testKEKs(t), "two other KEKs": append(testKEKs(t), testKEKs(t)...)} {
		_, err := newServer(t, st, clk, keks)
		if !errors.Is(err, ErrWrongKEK) {
			t.Fatalf("%s: %v, want ErrWrongKEK", name, err)
		}
		if !maps.EqualFunc(before, dump(st), bytes.Equal) {
			t.Fatalf("%s: the store changed", name)
		}
	}
	if c, j := a.accepts(v, tok); !c || !j {
		t.Fatal("the first server no longer accepts its own values")
	}
}

// TestSharedKeys: values sealed and tokens signed by one server open and
// verify on another started later on the same store, and the reverse.
func TestSharedKeys(t *testing.T) {
	clk := clocktest.New(tStart)
	st := memoryStore(t, clk)
	keks := testKEKs(t)
	a := mustServer(t, st, clk, keks)
	b := mustServer(t, st, clk, keks)
	for _, pair := range [][2]*server{{a, b}, {b, a}} {
		v, tok := pair[0].sealAndSign(t)
		if c, j := pair[1].accepts(v, tok); !c || !j {
			t.Fatalf("cookie %v, JWT %v", c, j)
		}
	}
	if len(dump(st)) != 2 {
		t.Fatalf("store holds %v", slices.Collect(maps.Keys(dump(st))))
	}
	// Loading a purpose twice gives the same Codec; another schedule is
	// refused.
	c2, err := a.kr.Codec(context.Background(), CookieSeal, testSch)
	if err != nil || c2 != a.seal {
		t.Fatalf("second Codec: %p, %v", c2, err)
	}
	other := testSch
	other.Leeway *= 2
	if _, err := a.kr.Codec(context.Background(), CookieSeal, other); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("another schedule: %v", err)
	}
}

// TestDumpHoldsNoKeyMaterial searches every entry of the store for every
// key the servers hold, in every encoding a careless format might use.
func TestDumpHoldsNoKeyMaterial(t *testing.T) {
	clk := clocktest.New(tStart)
	st := memoryStore(t, clk)
	keks := testKEKs(t)
	a := mustServer(t, st, clk, keks)
	ctx := context.Background()
	if _, err := a.kr.Codec(ctx, CookieSign, testSch); err != nil {
		t.Fatal(err)
	}
	if _, err := a.kr.KeySet(ctx, jwt.EdDSA, testSch); err != nil {
		t.Fatal(err)
	}
	if _, err := a.kr.KeySet(ctx, jwt.HS256, testSch); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{CookieSeal, CookieSign, JWTPurpose(jwt.ES256), JWTPurpose(jwt.EdDSA), JWTPurpose(jwt.HS256)} {
		if _, err := a.kr.Rotate(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	var secrets [][]byte
	for _, r := range *a.kr.rings.Load() {
		for _, m := range r.mat {
			if m.secret != nil {
				secrets = append(secrets, m.secret)
				continue
			}
			pem, err := m.key.Export()
			if err != nil {
				t.Fatal(err)
			}
			secrets = append(secrets, pem, rawPrivate(t, pem))
		}
	}
	if len(secrets) < 12 {
		t.Fatalf("only %d secrets collected", len(secrets))
	}
	entries := dump(st)
	for _, s := range secrets {
		forms := [][]byte{s, []byte(base64.StdEncoding.EncodeToString(s)), []byte(base64.RawURLEncoding.EncodeToString(s)), []byte(hex.EncodeToString(s))}
		if len(s) > 16 {
			forms = append(forms, s[:16], s[len(s)-16:])
		}
		for k, v := range entries {
			for _, f := range forms {
				if bytes.Contains(v, f) || strings.Contains(k, string(f)) {
					t.Fatalf("entry %s holds key material", k)
				}
			}
		}
	}
}

// rawPrivate returns the raw private scalar or seed of a PKCS#8 PEM key,
// or the decoded secret of an HMAC key.
func rawPrivate(t testing.TB, text []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(text)
	if block == nil {
		b, err := base64.RawURLEncoding.DecodeString(string(text))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		b, err := k.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		return b
	case ed25519.PrivateKey:
		return k.Seed()
	}
	t.Fatalf("unexpected key type %T", k)
	return nil
}

// TestKEKRotation follows the documented procedure: old KEK only; new KEK
// readable; new KEK first, which re-encrypts every key; old KEK dropped.
func TestKEKRotation(t *testing.T) {
	clk := clocktest.New(tStart)
	st := memoryStore(t, clk)
	oldK, newK := testKEKs(t)[0], testKEKs(t)[0]
	a := mustServer(t, st, clk, []*KEK{oldK})
	v, tok := a.sealAndSign(t)
	if _, err := newServer(t, st, clk, []*KEK{newK}); !errors.Is(err, ErrWrongKEK) {
		t.Fatalf("new KEK alone before re-encryption: %v", err)
	}
	b := mustServer(t, st, clk, []*KEK{oldK, newK}) // readable, not yet first
	if kekIDs(b) != oldK.ID() {
		t.Fatalf("re-encrypted before the new KEK was first: %s", kekIDs(b))
	}
	c := mustServer(t, st, clk, []*KEK{newK, oldK})
	if kekIDs(c) != newK.ID() {
		t.Fatalf("after starting with the new KEK first: %s", kekIDs(c))
	}
	if !slices.ContainsFunc(c.events(), func(e authkit.Event) bool { return e.Type == EventKeysReencrypted && e.Reason == "kek" }) {
		t.Fatalf("events %v", c.events())
	}
	// A server with the old KEK alone keeps its keys and reports the
	// failure. (b, which still lists the old KEK first, would re-encrypt
	// the keys back at its next reload: the switch of order must be made on
	// every server.)
	if err := a.kr.Refresh(context.Background()); !errors.Is(err, ErrWrongKEK) {
		t.Fatalf("old KEK alone after re-encryption: %v", err)
	}
	d := mustServer(t, st, clk, []*KEK{newK})
	for _, s := range []*server{a, b, c, d} {
		if cOK, jOK := s.accepts(v, tok); !cOK || !jOK {
			t.Fatalf("cookie %v, JWT %v", cOK, jOK)
		}
	}
	for _, e := range dump(st) {
		if bytes.Contains(e, oldK.id[:]) {
			t.Fatal("a key is still stored under the old KEK")
		}
	}
}

// kekIDs returns the distinct KEK IDs of s's keys, comma-separated.
func kekIDs(s *server) string {
	var ids []string
	for _, k := range s.kr.Keys() {
		if k.KEK != "" && !slices.Contains(ids, k.KEK) {
			ids = append(ids, k.KEK)
		}
	}
	return strings.Join(ids, ",")
}

// TestCorruptRecord: a damaged record is a clear error at start-up and is
// left for an operator to look at.
func TestCorruptRecord(t *testing.T) {
	clk := clocktest.New(tStart)
	st := memoryStore(t, clk)
	keks := testKEKs(t)
	mustServer(t, st, clk, keks)
	raw, err := st.Get(context.Background(), storePrefix+CookieSeal)
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][]byte{
		"truncated":       raw[:len(raw)-1],
		"version 2":       append([]byte{2}, raw[1:]...),
		"flipped sealed":  append(bytes.Clone(raw[:len(raw)-1]), raw[len(raw)-1]^1),
		"other purpose":   mustRecord(t, raw, func(r *record) { r.kind, r.alg, r.purpose = kindJWT, "ES256", "jwt-ES256" }),
		"cookie-sign rec": mustRecord(t, raw, func(r *record) { r.purpose = CookieSign }),
	} {
		if err := st.Set(context.Background(), storePrefix+CookieSeal, bad, tStart.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		_, err := newServer(t, st, clk, keks)
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrWrongKEK) {
			t.Fatalf("%s: %v", name, err)
		}
		if got, _ := st.Get(context.Background(), storePrefix+CookieSeal); !bytes.Equal(got, bad) {
			t.Fatalf("%s: the record was overwritten", name)
		}
	}
}

func mustRecord(t testing.TB, raw []byte, f func(*record)) []byte {
	t.Helper()
	r, err := decodeRecord(raw)
	if err != nil {
		t.Fatal(err)
	}
	f(r)
	return r.encode()
}

// TestMovedKeyDoesNotDecrypt: the additional data binds each sealed key to
// its entry, so swapping the sealed material of two keys makes both
// undecryptable rather than confusing them.
func TestMovedKeyDoesNotDecrypt(t *testing.T) {
	clk := clocktest.New(tStart)
	st := memoryStore(t, clk)
	keks := testKEKs(t)
	a := mustServer(t, st, clk, keks)
	if _, err := a.kr.Rotate(context.Background(), CookieSeal); err != nil {
		t.Fatal(err)
	}
	raw, _ := st.Get(context.Background(), storePrefix+CookieSeal)
	swapped := mustRecord(t, raw, func(r *record) { r.keys[0].sealed, r.keys[1].sealed = r.keys[1].sealed, r.keys[0].sealed })
	if err := st.Set(context.Background(), storePrefix+CookieSeal, swapped, tStart.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := newServer(t, st, clk, keks); !errors.Is(err, ErrWrongKEK) {
		t.Fatalf("swapped keys: %v", err)
	}
}

func TestScheduleAndPurposeValidation(t *testing.T) {
	clk := clocktest.New(tStart)
	st := memoryStore(t, clk)
	kr, err := newKeyring(st, Config{KEKs: testKEKs(t), Now: clk.Now, Logger: quiet, ReloadInterval: time.Minute, JWKSMaxAge: 10 * time.Minute}, false)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for name, s := range map[string]Schedule{
		"negative":                  {Leeway: -1},
		"rotation under prepublish": {Rotation: time.Hour, Prepublish: 2 * time.Hour},
		"prepublish under reload":   {Prepublish: 30 * time.Second},
		"too many keys":             {Rotation: 2 * time.Hour, Prepublish: time.Hour, MaxLifetime: 30 * 24 * time.Hour},
	} {
		if _, err := kr.Codec(ctx, CookieSeal, s); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A published JWT key must also outlast the JWKS max-age; an HMAC key
	// is never published.
	s := Schedule{Prepublish: 5 * time.Minute}
	if _, err := kr.KeySet(ctx, jwt.ES256, s); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("ES256 with a prepublish under the JWKS max-age: %v", err)
	}
	if _, err := kr.KeySet(ctx, jwt.HS256, s); err != nil {
		t.Errorf("HS256 with a prepublish under the JWKS max-age: %v", err)
	}
	for _, p := range []string{"", "Cookie", "a b", "-x", strings.Repeat("a", 65), "jwt-ES256", "jwt-XX1"} {
		if _, err := kr.Codec(ctx, p, Schedule{}); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("purpose %q: %v", p, err)
		}
	}
	if _, err := kr.KeySet(ctx, "none", Schedule{}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("algorithm none: %v", err)
	}
	if _, err := kr.Rotate(ctx, "cookie-other"); !errors.Is(err, ErrUnknownPurpose) {
		t.Errorf("unknown purpose: %v", err)
	}
	if _, err := kr.Codec(ctx, "my-flash-cookies", Schedule{}); err != nil {
		t.Errorf("a purpose of one's own: %v", err)
	}
	kr.Close()
	if _, err := kr.Codec(ctx, CookieSign, Schedule{}); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

// TestRotateAndRevoke walks one purpose through a manual rotation and a
// revocation of the signing key on two servers.
func TestRotateAndRevoke(t *testing.T) {
	clk := clocktest.New(tStart)
	st := memoryStore(t, clk)
	keks := testKEKs(t)
	a, b := mustServer(t, st, clk, keks), mustServer(t, st, clk, keks)
	ctx := context.Background()
	first := a.keys.SigningKey().ID()
	v1, tok1 := a.sealAndSign(t)

	k, err := a.kr.Rotate(ctx, JWTPurpose(jwt.ES256))
	if err != nil || k.State != StatePublished || !k.Activates.Equal(tStart.Add(time.Hour)) || k.Early {
		t.Fatalf("Rotate: %+v, %v", k, err)
	}
	again, err := b.kr.Rotate(ctx, JWTPurpose(jwt.ES256))
	if err != nil || again.ID != k.ID {
		t.Fatalf("second Rotate: %+v, %v; want the waiting key %s", again, err, k.ID)
	}
	if _, ok := a.keys.Key(k.ID); !ok || a.keys.SigningKey().ID() != first {
		t.Fatal("the new key is not published, or signs before its time")
	}
	clk.Add(time.Hour)
	a.kr.wake(ctx)
	if got := a.keys.SigningKey().ID(); got != k.ID {
		t.Fatalf("after the prepublish time, signing with %s", got)
	}
	// b has not reloaded: a token from a's new key still verifies there,
	// since b loaded the key when it was published.
	v2, tok2 := a.sealAndSign(t)
	if c, j := b.accepts(v2, tok2); !c || !j {
		t.Fatalf("b: cookie %v, JWT %v", c, j)
	}

	// Revoke the signing key on a: a refuses its tokens at once and signs
	// with a replacement at once; b refuses them after its reload.
	if err := a.kr.Revoke(ctx, JWTPurpose(jwt.ES256), k.ID); err != nil {
		t.Fatal(err)
	}
	repl := a.keys.SigningKey().ID()
	if repl == k.ID || repl == first {
		t.Fatalf("signing with %s after revoking %s", repl, k.ID)
	}
	if _, err := a.ver.Verify(ctx, tok2); !errors.Is(err, jwt.ErrUnknownKey) {
		t.Fatalf("a verifies a revoked key's token: %v", err)
	}
	if _, err := b.ver.Verify(ctx, tok1); err != nil {
		t.Fatalf("the first key's token, still verify-only: %v", err)
	}
	_, tok3 := a.sealAndSign(t)
	if _, err := b.ver.Verify(ctx, tok3); err != nil {
		t.Fatalf("b, a token of the replacement (unknown kid, reloaded): %v", err)
	}
	if _, err := b.ver.Verify(ctx, tok2); !errors.Is(err, jwt.ErrUnknownKey) {
		t.Fatalf("b after its reload accepts the revoked key: %v", err)
	}
	infos := a.kr.Keys()
	states := map[string]State{}
	for _, i := range infos {
		if i.Purpose == JWTPurpose(jwt.ES256) {
			states[i.ID] = i.State
		}
	}
	if states[first] != StateVerifyOnly || states[k.ID] != StateRevoked || states[repl] != StateSigning {
		t.Fatalf("states %v", states)
	}
	if err := a.kr.Revoke(ctx, JWTPurpose(jwt.ES256), k.ID); err != nil {
		t.Fatalf("revoking twice: %v", err)
	}
	if err := a.kr.Revoke(ctx, JWTPurpose(jwt.ES256), "nope"); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("unknown key: %v", err)
	}
	var types []string
	for _, e := range a.events() {
		types = append(types, string(e.Type)+":"+e.Reason)
	}
	want := []string{"key_created:first", "key_created:first", "key_created:manual", "key_revoked:revoked", "key_created:replacement"}
	if !slices.Equal(types, want) {
		t.Fatalf("events %v, want %v", types, want)
	}
	_ = v1
}

// TestConcurrentFirstStart: servers starting at once on an empty store,
// forced to read before any of them writes, create one key per purpose.
func TestConcurrentFirstStart(t *testing.T) {
	for _, n := range []int{2, 5} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			clk := clocktest.New(tStart)
			mem := memoryStore(t, clk)
			hs := newHookStore(mem)
			hs.arm(storePrefix+CookieSeal, n)
			hs.arm(storePrefix+JWTPurpose(jwt.ES256), n)
			keks := testKEKs(t)
			servers := make([]*server, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					s, err := newServer(t, hs, clk, keks)
					if err != nil {
						t.Error(err)
						return
					}
					servers[i] = s
				})
			}
			wg.Wait()
			if t.Failed() {
				return
			}
			for _, v := range dump(mem) {
				if r, err := decodeRecord(v); err != nil || len(r.keys) != 1 || r.seq != 1 {
					t.Fatalf("record %+v, %v", r, err)
				}
			}
			created := 0
			for _, s := range servers {
				created += len(s.events())
				if s.seal.KeyIDs()[0] != servers[0].seal.KeyIDs()[0] {
					t.Fatal("servers sign with different keys")
				}
			}
			if created != 2 {
				t.Fatalf("%d key_created events, want 2", created)
			}
		})
	}
}
