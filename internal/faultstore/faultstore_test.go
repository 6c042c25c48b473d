package faultstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authkit/authkit/internal/faultstore"
	"github.com/authkit/authkit/store"
)

func TestRules(t *testing.T) {
	ctx := context.Background()
	mem := store.NewMemory(store.MemoryConfig{})
	defer mem.Close()
	fs := faultstore.New(mem)
	exp := time.Now().Add(time.Hour)

	// The second Set on "a:" runs another write in between, the third fails
	// without applying, the fourth applies and reports an error.
	var between bool
	fs.On(faultstore.Rule{Op: faultstore.OpSet, KeyPrefix: "a:", Nth: 2, Before: func(ctx context.Context, c faultstore.Call) {
		between = true
		if err := fs.Set(ctx, "b:1", []byte("in between"), exp); err != nil {
			t.Error(err)
		}
	}})
	fs.On(faultstore.Rule{Op: faultstore.OpSet, KeyPrefix: "a:", Nth: 3, Fail: true})
	lost := errors.New("connection reset")
	fs.On(faultstore.Rule{Op: faultstore.OpSet, KeyPrefix: "a:", Nth: 4, Fail: true, Applied: true, Err: lost})

	for i, want := range []error{nil, nil, faultstore.ErrInjected, lost, nil} {
		v := []byte{byte('0' + i)}
		if err := fs.Set(ctx, "a:1", v, exp); !errors.Is(err, want) {
			t.Fatalf("Set %d: %v, want %v", i+1, err, want)
		}
		got, _ := mem.Get(ctx, "a:1")
		applied := want != faultstore.ErrInjected
		if applied != (string(got) == string(v)) {
			t.Fatalf("Set %d: store holds %q, applied=%v", i+1, got, applied)
		}
	}
	if !between {
		t.Fatal("Before hook did not run")
	}
	if n := fs.Count(faultstore.OpSet, "a:"); n != 5 {
		t.Fatalf("Count = %d, want 5", n)
	}
	calls := fs.Calls()
	if calls[1].Key != "a:1" || calls[2].Key != "b:1" || calls[2].Seq != 3 {
		t.Fatalf("call log out of order: %+v", calls[:3])
	}
}

func TestCASFailureReportsFalse(t *testing.T) {
	ctx := context.Background()
	mem := store.NewMemory(store.MemoryConfig{})
	defer mem.Close()
	fs := faultstore.New(mem)
	fs.On(faultstore.Rule{Op: faultstore.OpCAS, Fail: true, Applied: true})
	ok, err := fs.CompareAndSwap(ctx, "k", nil, []byte("v"), time.Now().Add(time.Hour))
	if ok || !errors.Is(err, faultstore.ErrInjected) {
		t.Fatalf("CAS = %v, %v", ok, err)
	}
	if v, _ := mem.Get(ctx, "k"); string(v) != "v" {
		t.Fatalf("applied CAS not in the store: %q", v)
	}
	fs.Reset()
	if _, err := fs.Get(ctx, "k"); err != nil {
		t.Fatal(err)
	}
}
