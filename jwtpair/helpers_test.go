package jwtpair

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"github.com/authkit/authkit/internal/clocktest"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authkit/authkit/internal/faultstore"
	"github.com/authkit/authkit/jwt"
	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/token"
)

// t0 is the start of every test clock: 2027-01-15T08:00:00Z.
var t0 = time.Unix(1800000000, 0)

// clock is an injectable, settable time source.
type clock = clocktest.Clock

const (
	testIssuer   = "https://app.example"
	testAudience = "https://app.example/api"
)

// flakySigner is an ES256 signer that fails while fail is set, as a key in
// a KMS can.
type flakySigner struct {
	*ecdsa.PrivateKey
	fail atomic.Bool
}

var errSignerDown = errors.New("signer unreachable")

func (s *flakySigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if s.fail.Load() {
		return nil, errSignerDown
	}
	return s.PrivateKey.Sign(r, digest, opts)
}

// fixture is an issuer, a verifier and a token manager on one store (a
// faultstore over a Memory on the fixture's clock), joined by New.
type fixture struct {
	clk    *clock
	mem    *store.Memory
	fs     *faultstore.Store
	signer *flakySigner
	iss    *jwt.Issuer
	ver    *jwt.Verifier
	tokens *token.Manager
	pairs  *Manager
}

// newFixture builds a fixture; tokenStore, when not nil, replaces the
// shared store for the token manager.
func newFixture(t testing.TB, tokenStore store.Store) *fixture {
	t.Helper()
	f := &fixture{clk: clocktest.New(t0)}
	f.mem = store.NewMemory(store.MemoryConfig{SweepInterval: -1, Now: f.clk.Now})
	t.Cleanup(func() { f.mem.Close() })
	f.fs = faultstore.New(f.mem)
	pk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f.signer = &flakySigner{PrivateKey: pk}
	key, err := jwt.NewKey(jwt.ES256, f.signer)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := jwt.NewKeySet(key)
	if err != nil {
		t.Fatal(err)
	}
	f.iss = jwt.NewIssuer(keys, jwt.IssuerConfig{Issuer: testIssuer, Audience: []string{testAudience}, Now: f.clk.Now})
	f.ver = jwt.NewVerifier(keys, jwt.Config{Issuer: testIssuer, Audience: testAudience, Store: f.fs, Now: f.clk.Now})
	if tokenStore == nil {
		tokenStore = f.fs
	}
	f.tokens = token.New(tokenStore, token.Config{Now: f.clk.Now, Logger: discardLogger()})
	f.pairs = New(f.iss, f.ver, f.tokens, Config{Logger: discardLogger()})
	return f
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

var errDown = errors.New("store down")

// failingStore fails every call.
type failingStore struct{}

func (failingStore) Get(context.Context, string) ([]byte, error)          { return nil, errDown }
func (failingStore) Set(context.Context, string, []byte, time.Time) error { return errDown }
func (failingStore) Delete(context.Context, string) error                 { return errDown }
func (failingStore) CompareAndSwap(context.Context, string, []byte, []byte, time.Time) (bool, error) {
	return false, errDown
}

func (f *fixture) issue(t testing.TB, subject string) Pair {
	t.Helper()
	p, err := f.pairs.Issue(context.Background(), subject, token.FamilyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fixture) wantRevoked(t testing.TB, tok, what string) {
	t.Helper()
	if _, err := f.ver.Verify(context.Background(), tok); !errors.Is(err, jwt.ErrRevoked) {
		t.Fatalf("%s: Verify = %v, want jwt.ErrRevoked", what, err)
	}
}

func (f *fixture) wantValid(t testing.TB, tok, what string) {
	t.Helper()
	if _, err := f.ver.Verify(context.Background(), tok); err != nil {
		t.Fatalf("%s: Verify = %v, want valid", what, err)
	}
}
