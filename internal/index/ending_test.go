package index

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/authkit/authkit/internal/faultstore"
)

// A revocation takes members in one swap; those it could not finish stay
// Ending, unlisted, and are handed back by every later update until
// finished; an Ending member cannot be added back.
func TestTakeFinish(t *testing.T) {
	x, c := newIndex(t, 10)
	ctx := context.Background()
	add := func(id string) {
		t.Helper()
		c.Add(time.Millisecond)
		if _, err := x.Add(ctx, "alice", Member{ID: id, Created: c.Now(), Expires: c.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	add("a")
	add("b")
	add("c")
	taken, err := x.Take(ctx, "alice", func(m Member) bool { return m.ID != "b" })
	if err != nil || !slices.Equal(ids(taken), []string{"a", "c"}) {
		t.Fatalf("Take = %v, %v", ids(taken), err)
	}
	if live, _ := x.List(ctx, "alice"); !slices.Equal(ids(live), []string{"b"}) {
		t.Fatalf("List after Take = %v", ids(live))
	}
	// Only "a" was ended; "c" stays Ending.
	if err := x.Finish(ctx, "alice", "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Add(ctx, "alice", Member{ID: "c", Created: c.Now(), Expires: c.Now().Add(time.Hour)}); !errors.Is(err, ErrEnding) {
		t.Fatalf("Add of an Ending member: %v, want ErrEnding", err)
	}
	add("d")
	ending, err := x.Update(ctx, "alice", func(live []Member) ([]Member, error) { return live, nil })
	if err != nil || !slices.Equal(ids(ending), []string{"c"}) {
		t.Fatalf("a later update hands back %v, %v; want c", ids(ending), err)
	}
	// A retried revocation takes the rest and returns c again.
	taken, err = x.Take(ctx, "alice", nil)
	if err != nil || !slices.Equal(ids(sorted(taken)), []string{"b", "c", "d"}) {
		t.Fatalf("second Take = %v, %v", ids(taken), err)
	}
	if err := x.Finish(ctx, "alice", "b", "c", "d"); err != nil {
		t.Fatal(err)
	}
	if live, ending, err := x.Get(ctx, "alice"); err != nil || len(live)+len(ending) != 0 {
		t.Fatalf("after Finish: %v %v %v", ids(live), ids(ending), err)
	}
	// An Ending member is pruned at its expiry like any other.
	add("e")
	if _, err := x.Take(ctx, "alice", nil); err != nil {
		t.Fatal(err)
	}
	c.Add(2 * time.Hour)
	if _, ending, _ := x.Get(ctx, "alice"); len(ending) != 0 {
		t.Fatalf("expired Ending member kept: %v", ids(ending))
	}
}

func sorted(ms []Member) []Member {
	ms = slices.Clone(ms)
	slices.SortFunc(ms, func(a, b Member) int { return cmpString(a.ID, b.ID) })
	return ms
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// A Take that races an Add, forced in both orders: the member added before
// the Take's swap is taken; the one added after it is not.
func TestTakeIsTheOrderingPoint(t *testing.T) {
	x, c := newIndex(t, 10)
	ctx := context.Background()
	fs := faultstore.New(x.Store)
	x.Store = fs
	m := func(id string) Member { return Member{ID: id, Created: c.Now(), Expires: c.Now().Add(time.Hour)} }

	if _, err := x.Add(ctx, "u", m("first")); err != nil {
		t.Fatal(err)
	}
	// The Add's swap lands between the Take's read and its swap: the Take
	// loses its swap, reads again and takes the new member.
	fs.On(faultstore.Rule{Op: faultstore.OpCAS, Nth: 1, Before: func(ctx context.Context, _ faultstore.Call) {
		fs.Reset()
		if _, err := x.Add(ctx, "u", m("early")); err != nil {
			t.Error(err)
		}
	}})
	taken, err := x.Take(ctx, "u", nil)
	if err != nil || !slices.Equal(ids(sorted(taken)), []string{"early", "first"}) {
		t.Fatalf("Take = %v, %v; want the member added before its swap", ids(taken), err)
	}
	if _, err := x.Add(ctx, "u", m("late")); err != nil {
		t.Fatal(err)
	}
	if live, _ := x.List(ctx, "u"); !slices.Equal(ids(live), []string{"late"}) {
		t.Fatalf("List = %v; a member added after Take stays live", ids(live))
	}
}

// Version 1 records (no flags) still decode, and a record with no Ending
// member is still written as version 1.
func TestVersions(t *testing.T) {
	ms := []Member{{ID: "a", Created: time.UnixMilli(1), Expires: time.UnixMilli(2)}}
	if b := Encode(ms); b[0] != recordV1 {
		t.Fatalf("record without Ending members written as version %d", b[0])
	}
	ms[0].Ending = true
	b := Encode(ms)
	if b[0] != recordV2 {
		t.Fatalf("record with an Ending member written as version %d", b[0])
	}
	got, err := Decode(b)
	if err != nil || len(got) != 1 || !got[0].Ending {
		t.Fatalf("Decode = %+v, %v", got, err)
	}
	b[len(b)-1] = 0x80 // an unknown flag
	if _, err := Decode(b); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("unknown flag accepted: %v", err)
	}
}
