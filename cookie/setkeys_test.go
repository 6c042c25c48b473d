package cookie

import (
	"bytes"
	"errors"
	"github.com/authkit/authkit/internal/clocktest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSetKeys(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			clk := clocktest.New(t0)
			c := newCodec(t, clk, Key{ID: 1, Secret: secret(1)})
			old, err := m.encode(c, "n", []byte("old"), time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.SetKeys(Key{ID: 2, Secret: secret(2)}, Key{ID: 1, Secret: secret(1)}); err != nil {
				t.Fatal(err)
			}
			if got := c.KeyIDs(); !slices.Equal(got, []uint32{2, 1}) {
				t.Fatalf("KeyIDs = %v", got)
			}
			cur, err := m.encode(c, "n", []byte("new"), time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if id := rawOf(t, cur)[4]; id != 2 {
				t.Fatalf("sealed with key %d after the swap", id)
			}
			for v, want := range map[string]string{old: "old", cur: "new"} {
				if got, err := m.decode(c, "n", v); err != nil || string(got) != want {
					t.Fatalf("got %q, %v; want %q", got, err, want)
				}
			}
			// A refused list leaves the keys as they were.
			for _, bad := range [][]Key{nil, {{ID: 3, Secret: secret(3)[:31]}}, {{ID: 3, Secret: secret(3)}, {ID: 3, Secret: secret(4)}}} {
				if err := c.SetKeys(bad...); !errors.Is(err, ErrInvalidKey) {
					t.Fatalf("SetKeys(%d keys): %v, want ErrInvalidKey", len(bad), err)
				}
			}
			if got := c.KeyIDs(); !slices.Equal(got, []uint32{2, 1}) {
				t.Fatalf("KeyIDs after refused lists = %v", got)
			}
			if err := c.SetKeys(Key{ID: 2, Secret: secret(2)}); err != nil {
				t.Fatal(err)
			}
			if _, err := m.decode(c, "n", old); !errors.Is(err, ErrUnknownKey) {
				t.Fatalf("a removed key still opens: %v", err)
			}
		})
	}
	var zero Codec
	if ids := zero.KeyIDs(); ids != nil {
		t.Fatalf("zero Codec KeyIDs = %v", ids)
	}
}

// TestOnUnknownKey: the hook runs only for key IDs the Codec does not hold;
// when it installs the key and reports true, the value opens; when it
// reports false, or true without installing the key, the value is refused.
func TestOnUnknownKey(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			clk := clocktest.New(t0)
			fleet := newCodec(t, clk, Key{ID: 7, Secret: secret(7)}, Key{ID: 1, Secret: secret(1)})
			v, err := m.encode(fleet, "n", []byte("x"), time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			c := newCodec(t, clk, Key{ID: 1, Secret: secret(1)})
			var calls []uint32
			install, answer := false, false
			c.OnUnknownKey = func(id uint32) bool {
				calls = append(calls, id)
				if install {
					if err := c.SetKeys(Key{ID: 7, Secret: secret(7)}, Key{ID: 1, Secret: secret(1)}); err != nil {
						t.Error(err)
					}
				}
				return answer
			}
			if _, err := m.decode(c, "n", v); !errors.Is(err, ErrUnknownKey) {
				t.Fatalf("hook reporting false: %v", err)
			}
			answer = true
			if _, err := m.decode(c, "n", v); !errors.Is(err, ErrUnknownKey) {
				t.Fatalf("hook reporting true without new keys: %v", err)
			}
			install = true
			if got, err := m.decode(c, "n", v); err != nil || string(got) != "x" {
				t.Fatalf("hook installing the key: %q, %v", got, err)
			}
			if _, err := m.decode(c, "n", v); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(calls, []uint32{7, 7, 7}) {
				t.Fatalf("hook calls = %v, want three calls for ID 7 and none once it is known", calls)
			}
			// Malformed values and the other mode's values never reach the hook.
			calls = nil
			_, _ = m.decode(c, "n", "!!!!"+v[4:])
			_, _ = m.other(c, "n", v)
			if len(calls) != 0 {
				t.Fatalf("hook called for a malformed value: %v", calls)
			}
		})
	}
}

// TestSetKeysConcurrent swaps keys while other goroutines seal and open:
// every value made with a key that stays in the list opens (run with -race).
func TestSetKeysConcurrent(t *testing.T) {
	k1, k2 := Key{ID: 1, Secret: secret(1)}, Key{ID: 2, Secret: secret(2)}
	c := newCodec(t, nil, k1, k2)
	var stop atomic.Bool
	swapped := make(chan struct{})
	go func() {
		defer close(swapped)
		for i := 0; !stop.Load(); i++ {
			keys := []Key{k1, k2}
			if i%2 == 1 {
				keys = []Key{k2, k1}
			}
			if err := c.SetKeys(keys...); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var workers sync.WaitGroup
	for g := range 4 {
		workers.Go(func() {
			for i := range 200 {
				p := []byte{byte(g), byte(i)}
				for _, m := range modes {
					v, err := m.encode(c, "n", p, time.Minute)
					if err != nil {
						t.Error(err)
						return
					}
					if got, err := m.decode(c, "n", v); err != nil || !bytes.Equal(got, p) {
						t.Errorf("%s: %x, %v", m.name, got, err)
						return
					}
				}
			}
		})
	}
	workers.Wait()
	stop.Store(true)
	<-swapped
}
