package index

import (
	"context"
	"errors"
	"fmt"
	"github.com/authkit/authkit/internal/clocktest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authkit/authkit/store"
)

// clock is the tests' fake clock.
type clock = clocktest.Clock

func newIndex(t *testing.T, max int) (*Index, *clock) {
	c := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	st := store.NewMemory(store.MemoryConfig{Now: c.Now})
	t.Cleanup(func() { st.Close() })
	return &Index{Store: st, Prefix: "idx:", Max: max, Now: c.Now}, c
}

func ids(ms []Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func TestAddListRemove(t *testing.T) {
	x, c := newIndex(t, 3)
	ctx := context.Background()
	for i := range 3 {
		c.Add(time.Second)
		if ev, err := x.Add(ctx, "alice", Member{ID: fmt.Sprint("m", i), Created: c.Now(), Expires: c.Now().Add(time.Hour), Data: []byte{byte(i)}}); err != nil || ev != nil {
			t.Fatalf("Add: %v, evicted %v", err, ev)
		}
	}
	got, err := x.List(ctx, "alice")
	if err != nil || !slices.Equal(ids(got), []string{"m0", "m1", "m2"}) || got[2].Data[0] != 2 {
		t.Fatalf("List = %v, %v", got, err)
	}
	// Past the cap, the oldest member is evicted and returned.
	c.Add(time.Second)
	ev, err := x.Add(ctx, "alice", Member{ID: "m3", Created: c.Now(), Expires: c.Now().Add(time.Hour)})
	if err != nil || !slices.Equal(ids(ev), []string{"m0"}) || !ev[0].Ending {
		t.Fatalf("evicted %v, %v; want m0, Ending", ids(ev), err)
	}
	// It stays, Ending and unlisted, until its caller finishes it.
	if live, ending, _ := x.Get(ctx, "alice"); len(live) != 3 || !slices.Equal(ids(ending), []string{"m0"}) {
		t.Fatalf("after eviction: live %v, ending %v", ids(live), ids(ending))
	}
	if err := x.Finish(ctx, "alice", "m0"); err != nil {
		t.Fatal(err)
	}
	if err := x.Remove(ctx, "alice", "m2", "absent"); err != nil {
		t.Fatal(err)
	}
	got, _ = x.List(ctx, "alice")
	if !slices.Equal(ids(got), []string{"m1", "m3"}) {
		t.Fatalf("after Remove: %v", ids(got))
	}
	removed, err := x.RemoveAll(ctx, "alice", "m3")
	if err != nil || !slices.Equal(ids(removed), []string{"m1"}) {
		t.Fatalf("RemoveAll removed %v, %v", ids(removed), err)
	}
	removed, err = x.RemoveAll(ctx, "alice", "")
	if err != nil || !slices.Equal(ids(removed), []string{"m3"}) {
		t.Fatalf("RemoveAll removed %v, %v", ids(removed), err)
	}
	if _, err := x.Store.Get(ctx, x.Key("alice")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("empty index record still stored: %v", err)
	}
	// Other subjects are separate.
	if got, _ := x.List(ctx, "bob"); len(got) != 0 {
		t.Fatalf("bob has %v", got)
	}
}

func TestPrunedOnUpdate(t *testing.T) {
	x, c := newIndex(t, 10)
	ctx := context.Background()
	for i := range 5 {
		if _, err := x.Add(ctx, "u", Member{ID: fmt.Sprint("short", i), Created: c.Now(), Expires: c.Now().Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	c.Add(2 * time.Minute)
	if _, err := x.Add(ctx, "u", Member{ID: "long", Created: c.Now(), Expires: c.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	raw, err := x.Store.Get(ctx, x.Key("u"))
	if err != nil {
		t.Fatal(err)
	}
	stored, err := Decode(raw)
	if err != nil || !slices.Equal(ids(stored), []string{"long"}) {
		t.Fatalf("stored record holds %v, %v; expired members not pruned", ids(stored), err)
	}
}

func TestConcurrentAdds(t *testing.T) {
	x, c := newIndex(t, 100)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			if _, err := x.Add(ctx, "u", Member{ID: fmt.Sprint("m", i), Created: c.Now(), Expires: c.Now().Add(time.Hour)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, err := x.List(ctx, "u")
	if err != nil || len(got) != 50 {
		t.Fatalf("%d members after 50 concurrent adds, %v", len(got), err)
	}
}

func TestDecodeRejects(t *testing.T) {
	good := Encode([]Member{{ID: "a", Created: time.UnixMilli(1), Expires: time.UnixMilli(2), Data: []byte("d")}})
	cases := map[string][]byte{
		"version":    append([]byte{9}, good[1:]...),
		"truncated":  good[:len(good)-1],
		"trailing":   append(slices.Clone(good), 0),
		"huge count": {1, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"empty id":   {1, 1, 0, 0, 0, 0, 0},
		"id too long": func() []byte {
			b := []byte{1, 1, 0x80, 0x02}
			return append(b, make([]byte, 300)...)
		}(),
	}
	for name, b := range cases {
		if _, err := Decode(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode([]Member{{ID: "a", Created: time.UnixMilli(1), Expires: time.UnixMilli(2), Data: []byte("d")}}))
	f.Add(Encode(nil))
	f.Add([]byte{1, 200, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, err := Decode(b)
		if err != nil {
			return
		}
		// Whatever decodes survives a round trip unchanged. (Bytes may differ:
		// a version 2 record without Ending members is written as version 1.)
		again, err := Decode(Encode(ms))
		if err != nil || len(again) != len(ms) {
			t.Fatalf("round trip: %v, %d members, want %d", err, len(again), len(ms))
		}
		for i := range ms {
			a, b := ms[i], again[i]
			if a.ID != b.ID || !a.Created.Equal(b.Created) || !a.Expires.Equal(b.Expires) || string(a.Data) != string(b.Data) || a.Ending != b.Ending {
				t.Fatalf("member %d changed in a round trip: %+v → %+v", i, a, b)
			}
		}
	})
}

func TestFullRecordFitsInAStoreValue(t *testing.T) {
	ms := make([]Member, MaxMembers)
	for i := range ms {
		ms[i] = Member{
			ID:      strings.Repeat("k", MaxIDLen),
			Created: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC),
			Expires: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC),
			Data:    make([]byte, MaxDataLen),
		}
	}
	full := slices.Clone(ms)
	for range MaxEnding {
		full = append(full, Member{ID: ms[0].ID, Created: ms[0].Created, Expires: ms[0].Expires, Data: ms[0].Data, Ending: true})
	}
	if n := len(Encode(full)); n > store.MaxValueSize {
		t.Fatalf("a full index record is %d bytes, over store.MaxValueSize (%d)", n, store.MaxValueSize)
	}
	// And an Add at the cap writes it: start from a full record of live
	// members and add one more, which evicts the oldest.
	x, c := newIndex(t, MaxMembers)
	ctx := context.Background()
	for i := range ms {
		ms[i].ID = fmt.Sprintf("%0*d", MaxIDLen, i)
		ms[i].Created = c.Now().Add(time.Duration(i) * time.Millisecond)
		ms[i].Expires = c.Now().Add(time.Hour)
	}
	if err := x.Store.Set(ctx, x.Key("u"), Encode(ms), c.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	c.Add(time.Second)
	evicted, err := x.Add(ctx, "u", Member{ID: strings.Repeat("n", MaxIDLen), Created: c.Now(), Expires: c.Now().Add(time.Hour), Data: make([]byte, MaxDataLen)})
	if err != nil || len(evicted) != 1 || evicted[0].ID != ms[0].ID {
		t.Fatalf("Add at the cap: evicted %d, %v; want the oldest evicted", len(evicted), err)
	}
	if got, _ := x.List(ctx, "u"); len(got) != MaxMembers {
		t.Fatalf("%d members at the cap, want %d", len(got), MaxMembers)
	}
}
