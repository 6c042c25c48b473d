package keyring

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/cookie"
	"github.com/authkit/authkit/internal/clocktest"
)

// TestRevokedCookieKeyNeverReloads: a cookie naming a revoked key is
// refused without a store read; one naming an unknown key reloads at most
// once per UnknownKeyInterval, however many arrive.
func TestRevokedCookieKeyNeverReloads(t *testing.T) {
	clk := clocktest.New(tStart)
	hs := newHookStore(memoryStore(t, clk))
	keks := testKEKs(t)
	a := mustServer(t, hs, clk, keks)
	v, _ := a.sealAndSign(t)
	id := a.seal.KeyIDs()[0]
	if err := a.kr.Revoke(context.Background(), CookieSeal, idString(id)); err != nil {
		t.Fatal(err)
	}
	reads := hs.gets.Load()
	for range 100 {
		if _, err := a.seal.Open("n", v); !errors.Is(err, cookie.ErrUnknownKey) {
			t.Fatalf("revoked key: %v", err)
		}
	}
	if n := hs.gets.Load() - reads; n != 0 {
		t.Fatalf("%d reads for a revoked key", n)
	}
	forged, err := mustCodec(t, 12345).SealString("n", "x", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if _, err := a.seal.Open("n", forged); !errors.Is(err, cookie.ErrUnknownKey) {
			t.Fatal(err)
		}
	}
	if n := hs.gets.Load() - reads; n != 1 {
		t.Fatalf("%d reads for 100 unknown-key cookies within the interval, want 1", n)
	}
	clk.Add(time.Second)
	_, _ = a.seal.Open("n", forged)
	if n := hs.gets.Load() - reads; n != 2 {
		t.Fatalf("%d reads after the interval, want 2", n)
	}
}

func mustCodec(t testing.TB, id uint32) *cookie.Codec {
	t.Helper()
	c, err := cookie.NewCodec(cookie.Key{ID: id, Secret: bytes.Repeat([]byte{1}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestStoreDown: while the store fails, servers keep the keys they hold,
// switch signing keys by the dates they know, and report the failure.
func TestStoreDown(t *testing.T) {
	clk := clocktest.New(tStart)
	hs := newHookStore(memoryStore(t, clk))
	keks := testKEKs(t)
	a := mustServer(t, hs, clk, keks)
	ctx := context.Background()
	k, err := a.kr.Rotate(ctx, CookieSeal)
	if err != nil {
		t.Fatal(err)
	}
	down := errors.New("store down")
	hs.fail = func(string, string) error { return down }
	if err := a.kr.Refresh(ctx); !errors.Is(err, down) {
		t.Fatalf("Refresh with the store down: %v", err)
	}
	clk.Add(2 * time.Hour)
	a.kr.wake(ctx)
	if got := idString(a.seal.KeyIDs()[0]); got != k.ID {
		t.Fatalf("signing with %s; the rotation to %s was due by the clock", got, k.ID)
	}
	v, tok := a.sealAndSign(t)
	if c, j := a.accepts(v, tok); !c || !j {
		t.Fatal("keys lost while the store is down")
	}
	hs.fail = nil
	if err := a.kr.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestRecordRestored: when the record vanishes from the store (a flushed
// Redis), the first server to notice writes back the keys it holds, so
// everything issued keeps verifying.
func TestRecordRestored(t *testing.T) {
	clk := clocktest.New(tStart)
	st := memoryStore(t, clk)
	keks := testKEKs(t)
	a, b := mustServer(t, st, clk, keks), mustServer(t, st, clk, keks)
	v, tok := a.sealAndSign(t)
	for k := range dump(st) {
		if err := st.Delete(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.kr.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := mustServer(t, st, clk, keks)
	for _, s := range []*server{a, b, c} {
		if cOK, jOK := s.accepts(v, tok); !cOK || !jOK {
			t.Fatalf("cookie %v, JWT %v", cOK, jOK)
		}
	}
	if !slices.ContainsFunc(b.events(), func(e authkit.Event) bool { return e.Reason == "restored" }) {
		t.Fatalf("events %v", b.events())
	}
}

// TestClockSkewReplacement: a server whose clock is a few milliseconds
// behind the one that revoked the signing key sees the replacement activate
// in its future. It signs with the replacement already, never with a key
// that has stopped signing, and adds no second replacement.
func TestClockSkewReplacement(t *testing.T) {
	ahead := clocktest.New(tStart)
	behind := clocktest.New(tStart.Add(-5 * time.Millisecond))
	st := memoryStore(t, ahead)
	keks := testKEKs(t)
	a := mustServer(t, st, ahead, keks)
	ctx := context.Background()
	first := a.seal.KeyIDs()[0]
	// Rotate once, so that a retired key exists that must not sign again.
	if _, err := a.kr.Rotate(ctx, CookieSeal); err != nil {
		t.Fatal(err)
	}
	ahead.Add(2 * time.Hour)
	behind.Add(2 * time.Hour)
	a.kr.wake(ctx)
	second := a.seal.KeyIDs()[0]
	b := mustServer(t, st, behind, keks)
	if err := a.kr.Revoke(ctx, CookieSeal, idString(second)); err != nil {
		t.Fatal(err)
	}
	repl := a.seal.KeyIDs()[0]
	if err := b.kr.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := b.seal.KeyIDs()[0]; got != repl || got == first {
		t.Fatalf("the lagging server signs with %d; want the replacement %d (retired: %d)", got, repl, first)
	}
	raw, _ := st.Get(ctx, storePrefix+CookieSeal)
	rec, err := decodeRecord(raw)
	if err != nil {
		t.Fatal(err)
	}
	early := 0
	for _, e := range rec.keys {
		if e.flags&flagEarly != 0 && e.created > tStart.UnixMilli() {
			early++
		}
	}
	if early != 1 {
		t.Fatalf("%d replacements, want one", early)
	}
}
