package jwt

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"github.com/authkit/authkit/internal/clocktest"
	"sync"
	"testing"
	"time"

	"github.com/authkit/authkit/store"
)

// t0 is the start of every test clock: 2027-01-15T08:00:00Z.
var t0 = time.Unix(1800000000, 0)

// clock is an injectable, settable time source.
type clock = clocktest.Clock

func newClock() *clock { return clocktest.New(t0) }

var (
	keyCacheMu sync.Mutex
	keyCache   = map[Algorithm]*Key{}
)

// testKey returns a key for alg, generated once per test binary (RSA
// generation is slow).
func testKey(t testing.TB, alg Algorithm) *Key {
	t.Helper()
	keyCacheMu.Lock()
	defer keyCacheMu.Unlock()
	if k, ok := keyCache[alg]; ok {
		return k
	}
	k, err := GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	keyCache[alg] = k
	return k
}

func newMemory(t testing.TB) *store.Memory {
	m := store.NewMemory(store.MemoryConfig{SweepInterval: -1})
	t.Cleanup(func() { m.Close() })
	return m
}

// fixture is an issuer and a verifier sharing a key set, a store and a clock.
type fixture struct {
	clk   *clock
	keys  *KeySet
	iss   *Issuer
	ver   *Verifier
	store *store.Memory
}

const (
	testIssuer   = "https://issuer.example"
	testAudience = "https://api.example"
)

func newFixture(t testing.TB, keys *KeySet, mod func(*Config)) *fixture {
	t.Helper()
	f := &fixture{clk: newClock(), keys: keys, store: newMemory(t)}
	f.iss = NewIssuer(keys, IssuerConfig{Issuer: testIssuer, Audience: []string{testAudience}, Now: f.clk.Now})
	cfg := Config{Issuer: testIssuer, Audience: testAudience, Store: f.store, Now: f.clk.Now}
	if mod != nil {
		mod(&cfg)
	}
	f.ver = NewVerifier(keys, cfg)
	return f
}

func mustKeySet(t testing.TB, signing *Key, others ...*Key) *KeySet {
	t.Helper()
	s, err := NewKeySet(signing, others...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *fixture) issue(t testing.TB, g Grant) Issued {
	t.Helper()
	if g.Subject == "" {
		g.Subject = "user-1"
	}
	is, err := f.iss.Issue(g)
	if err != nil {
		t.Fatal(err)
	}
	return is
}

var b64 = base64.RawURLEncoding

// forge builds a compact token from raw header and payload JSON, signed by
// sign (nil: an empty signature).
func forge(header, payload string, sign func(input []byte) []byte) string {
	in := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	var sig []byte
	if sign != nil {
		sig = sign([]byte(in))
	}
	return in + "." + b64.EncodeToString(sig)
}

// hs256 signs with an HMAC secret, whatever it is.
func hs256(secret []byte) func([]byte) []byte {
	return func(in []byte) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write(in)
		return m.Sum(nil)
	}
}

// withKey signs with k itself.
func withKey(t testing.TB, k *Key) func([]byte) []byte {
	return func(in []byte) []byte {
		sig, err := k.sign(in)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
}
