package faultproxy

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/authkit/authkit/store"
)

// LostReply is a write whose reply is lost, as the network store tests
// play it: client A's write reaches the server and is applied, a proxy
// withholds the reply, client B (on its own connection) sees the write and
// makes a second one, then A's connection drops. Whatever A's client
// library, driver or store does next, B's write must stand: a write must
// never be sent again after its reply was lost.
type LostReply struct {
	Name   string
	Setup  func(ctx context.Context, b store.Store, k string) error // B prepares the key (optional)
	Write  func(ctx context.Context, a store.Store, k, v string) error
	Seen   func(ctx context.Context, b store.Store, k, v string) bool // B sees A's write applied
	Second func(ctx context.Context, b store.Store, k, v string) (bool, error)
	Want   string // what the key must hold at the end ("" absent)
}

func inAMinute() time.Time { return time.Now().Add(time.Minute) }

// Holds reports whether s holds v under k, or, for an empty v, nothing.
func Holds(ctx context.Context, s store.Store, k, v string) bool {
	got, err := s.Get(ctx, k)
	if v == "" {
		return errors.Is(err, store.ErrNotFound)
	}
	return err == nil && string(got) == v
}

// absent is Seen for the writes that remove the key.
func absent(ctx context.Context, b store.Store, k, _ string) bool { return Holds(ctx, b, k, "") }

func setOld(ctx context.Context, b store.Store, k string) error {
	return b.Set(ctx, k, []byte("old"), inAMinute())
}

// LostReplies are the scenarios, one per kind of write.
var LostReplies = []LostReply{
	{
		Name: "Set",
		Write: func(ctx context.Context, a store.Store, k, v string) error {
			return a.Set(ctx, k, []byte(v), inAMinute())
		},
		Seen: Holds,
		Second: func(ctx context.Context, b store.Store, k, v string) (bool, error) {
			return b.CompareAndSwap(ctx, k, []byte(v), []byte("new"), inAMinute())
		},
		Want: "new",
	},
	{
		Name:  "Delete",
		Setup: setOld,
		Write: func(ctx context.Context, a store.Store, k, _ string) error { return a.Delete(ctx, k) },
		Seen:  absent,
		Second: func(ctx context.Context, b store.Store, k, _ string) (bool, error) {
			return b.CompareAndSwap(ctx, k, nil, []byte("new"), inAMinute())
		},
		Want: "new",
	},
	{
		Name:  "SetExpired",
		Setup: setOld,
		Write: func(ctx context.Context, a store.Store, k, v string) error {
			return a.Set(ctx, k, []byte(v), time.Now().Add(-time.Second))
		},
		Seen: absent,
		Second: func(ctx context.Context, b store.Store, k, _ string) (bool, error) {
			return b.CompareAndSwap(ctx, k, nil, []byte("new"), inAMinute())
		},
		Want: "new",
	},
	{
		Name: "CompareAndSwapIfAbsent",
		Write: func(ctx context.Context, a store.Store, k, v string) error {
			_, err := a.CompareAndSwap(ctx, k, nil, []byte(v), inAMinute())
			return err
		},
		Seen: Holds,
		Second: func(ctx context.Context, b store.Store, k, v string) (bool, error) {
			return b.CompareAndSwap(ctx, k, []byte(v), nil, inAMinute())
		},
		Want: "",
	},
	{
		Name:  "CompareAndSwap",
		Setup: setOld,
		Write: func(ctx context.Context, a store.Store, k, v string) error {
			_, err := a.CompareAndSwap(ctx, k, []byte("old"), []byte(v), inAMinute())
			return err
		},
		Seen: Holds,
		Second: func(ctx context.Context, b store.Store, k, v string) (bool, error) {
			return b.CompareAndSwap(ctx, k, []byte(v), []byte("old"), inAMinute())
		},
		Want: "old",
	},
}

// Run plays lr on key k, whose Setup the caller has already run and whose
// connections it has warmed up, so that A's write is the only request that
// hold can catch: hold arms the proxies to withhold the reply to the next
// request carrying the key and returns a channel closed when one does;
// drop then drops A's connections.
func (lr LostReply) Run(ctx context.Context, t testing.TB, a, b store.Store, k string, hold func() <-chan struct{}, drop func()) {
	t.Helper()
	v := "a-" + rand.Text()
	held := hold()
	done := make(chan error, 1)
	go func() { done <- lr.Write(ctx, a, k, v) }()
	select {
	case <-held:
	case err := <-done:
		t.Fatalf("A's write returned %v before a proxy held its reply", err)
	case <-ctx.Done():
		t.Fatal("no proxy saw A's write")
	}
	for !lr.Seen(ctx, b, k, v) {
		if ctx.Err() != nil {
			t.Fatal("B never saw A's write applied")
		}
		time.Sleep(time.Millisecond)
	}
	if ok, err := lr.Second(ctx, b, k, v); err != nil || !ok {
		t.Fatalf("B's write = %v, %v, want true", ok, err)
	}
	drop()
	errA := <-done
	if !Holds(ctx, b, k, lr.Want) {
		got, err := b.Get(ctx, k)
		t.Fatalf("after A's connection dropped: Get = %q, %v; want %q: A's write was applied again after B's (A's write returned %v)", got, err, lr.Want, errA)
	}
	if errA == nil {
		t.Errorf("A's write returned nil though its reply was lost")
	}
}
