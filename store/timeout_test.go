package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/store/storetest"
)

func TestWithTimeoutConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		m := store.NewMemory(store.MemoryConfig{})
		t.Cleanup(func() { m.Close() })
		return store.WithTimeout(m, time.Second)
	})
}

// stalled blocks every call until its context ends, like a paused server.
type stalled struct{}

func (stalled) Get(ctx context.Context, _ string) ([]byte, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (stalled) Set(ctx context.Context, _ string, _ []byte, _ time.Time) error {
	<-ctx.Done()
	return ctx.Err()
}
func (stalled) Delete(ctx context.Context, _ string) error {
	<-ctx.Done()
	return ctx.Err()
}
func (stalled) CompareAndSwap(ctx context.Context, _ string, _, _ []byte, _ time.Time) (bool, error) {
	<-ctx.Done()
	return false, ctx.Err()
}

func TestWithTimeoutBoundsEveryMethod(t *testing.T) {
	s := store.WithTimeout(store.WithTimeout(stalled{}, time.Hour), 20*time.Millisecond)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	calls := map[string]func() error{
		"Get":    func() error { _, err := s.Get(ctx, "k"); return err },
		"Set":    func() error { return s.Set(ctx, "k", []byte("v"), exp) },
		"Delete": func() error { return s.Delete(ctx, "k") },
		"CompareAndSwap": func() error {
			_, err := s.CompareAndSwap(ctx, "k", nil, []byte("v"), exp)
			return err
		},
	}
	for name, call := range calls {
		// Without the bound these calls would block forever (the test
		// binary's own timeout would end them); with it they return the
		// deadline error.
		if err := call(); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: err = %v, want context.DeadlineExceeded", name, err)
		}
	}
}

func TestWithTimeoutPanicsOnNonPositive(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	store.WithTimeout(store.NewMemory(store.MemoryConfig{}), 0)
}
