package keyring

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/store"
)

// TestBackgroundLoop runs two Keyrings with their background goroutines in
// a synctest bubble for three simulated days: the keys rotate on schedule
// with no call from the application, both servers follow, a value sealed by
// one opens on the other throughout, and Close stops the goroutines.
func TestBackgroundLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := store.NewMemory(store.MemoryConfig{})
		defer st.Close()
		keks := testKEKs(t)
		var mu sync.Mutex
		created := 0
		cfg := Config{KEKs: keks, ReloadInterval: time.Minute, Logger: quiet, Events: func(_ context.Context, e authkit.Event) {
			if e.Type == EventKeyCreated {
				mu.Lock()
				created++
				mu.Unlock()
			}
		}}
		sch := Schedule{Rotation: 6 * time.Hour, Prepublish: 10 * time.Minute, MaxLifetime: time.Hour, Leeway: time.Minute}
		ctx := context.Background()
		var krs []*Keyring
		for range 2 {
			kr, err := New(st, cfg)
			if err != nil {
				t.Fatal(err)
			}
			krs = append(krs, kr)
		}
		a, err := krs[0].Codec(ctx, CookieSeal, sch)
		if err != nil {
			t.Fatal(err)
		}
		b, err := krs[1].Codec(ctx, CookieSeal, sch)
		if err != nil {
			t.Fatal(err)
		}
		signers := map[uint32]bool{}
		for range 3 * 24 * 6 { // every ten minutes for three days
			time.Sleep(10 * time.Minute)
			synctest.Wait()
			ka, kb := a.KeyIDs()[0], b.KeyIDs()[0]
			if ka != kb {
				// The two loops switch at the same instant; allow none.
				t.Fatalf("at %v the servers sign with %d and %d", time.Now(), ka, kb)
			}
			signers[ka] = true
			v, err := a.SealString("n", "x", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.OpenString("n", v); err != nil {
				t.Fatal(err)
			}
		}
		for _, kr := range krs {
			kr.Close()
		}
		mu.Lock()
		defer mu.Unlock()
		// One key at the start, then one signing every six hours, the last
		// at the 72nd hour: 13.
		if len(signers) != 13 || created != 13 {
			t.Fatalf("%d signing keys, %d created; want 13", len(signers), created)
		}
	})
}
