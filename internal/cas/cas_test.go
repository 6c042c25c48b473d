package cas_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/authkit/authkit/internal/cas"
	"github.com/authkit/authkit/store"
)

func TestUpdateConcurrentIncrements(t *testing.T) {
	st := store.NewMemory(store.MemoryConfig{})
	defer st.Close()
	ctx := context.Background()
	const workers, each = 16, 25
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				err := cas.Update(ctx, st, "n", cas.Policy{Attempts: 1000}, func(cur []byte) ([]byte, time.Time, error) {
					n := 0
					if cur != nil {
						n, _ = strconv.Atoi(string(cur))
					}
					return []byte(strconv.Itoa(n + 1)), time.Now().Add(time.Hour), nil
				})
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	v, err := st.Get(ctx, "n")
	if err != nil || string(v) != strconv.Itoa(workers*each) {
		t.Fatalf("counter = %q, %v; want %d", v, err, workers*each)
	}
}

// conflicting always loses the CompareAndSwap.
type conflicting struct{ store.Store }

func (conflicting) CompareAndSwap(context.Context, string, []byte, []byte, time.Time) (bool, error) {
	return false, nil
}

func TestUpdateGivesUp(t *testing.T) {
	st := store.NewMemory(store.MemoryConfig{})
	defer st.Close()
	calls := 0
	err := cas.Update(context.Background(), conflicting{st}, "k", cas.Policy{Attempts: 3, BaseDelay: time.Microsecond}, func([]byte) ([]byte, time.Time, error) {
		calls++
		return []byte("x"), time.Now().Add(time.Hour), nil
	})
	if !errors.Is(err, cas.ErrConflict) || calls != 3 {
		t.Fatalf("err = %v after %d calls; want ErrConflict after 3", err, calls)
	}
}

func TestUpdateNoChangeAndAbort(t *testing.T) {
	st := store.NewMemory(store.MemoryConfig{})
	defer st.Close()
	ctx := context.Background()
	if err := st.Set(ctx, "k", []byte("v"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := cas.Update(ctx, st, "k", cas.Policy{}, func([]byte) ([]byte, time.Time, error) {
		return nil, time.Time{}, cas.ErrNoChange
	}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := cas.Update(ctx, st, "k", cas.Policy{}, func([]byte) ([]byte, time.Time, error) {
		return nil, time.Time{}, boom
	}); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if v, _ := st.Get(ctx, "k"); string(v) != "v" {
		t.Fatalf("value changed to %q", v)
	}
	// Returning nil deletes.
	if err := cas.Update(ctx, st, "k", cas.Policy{}, func([]byte) ([]byte, time.Time, error) {
		return nil, time.Time{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after delete: %v", err)
	}
}

func TestUpdateCancelled(t *testing.T) {
	st := store.NewMemory(store.MemoryConfig{})
	defer st.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := cas.Update(ctx, conflicting{st}, "k", cas.Policy{}, func([]byte) ([]byte, time.Time, error) {
		return []byte("x"), time.Now().Add(time.Hour), nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestDoReturnsTheWinningAttemptsResult(t *testing.T) {
	st := store.NewMemory(store.MemoryConfig{})
	defer st.Close()
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	if err := st.Set(ctx, "k", []byte("1"), exp); err != nil {
		t.Fatal(err)
	}
	attempts := 0
	got, err := cas.Do(ctx, st, "k", cas.Policy{}, func(cur []byte) ([]byte, time.Time, string, error) {
		attempts++
		if attempts == 1 {
			// Another writer wins between this attempt's read and its swap.
			if err := st.Set(ctx, "k", []byte("2"), exp); err != nil {
				t.Fatal(err)
			}
		}
		return append(append([]byte(nil), cur...), '+'), exp, "saw " + string(cur), nil
	})
	if err != nil || got != "saw 2" || attempts != 2 {
		t.Fatalf("Do = %q, %v after %d attempts; want the second attempt's result", got, err, attempts)
	}
	if v, _ := st.Get(ctx, "k"); string(v) != "2+" {
		t.Fatalf("stored %q", v)
	}

	// ErrNoChange and fn's own errors come back with fn's result.
	errRefused := errors.New("refused")
	for _, want := range []error{nil, errRefused} {
		r, err := cas.Do(ctx, st, "k", cas.Policy{}, func(cur []byte) ([]byte, time.Time, int, error) {
			if want == nil {
				return nil, time.Time{}, len(cur), cas.ErrNoChange
			}
			return nil, time.Time{}, len(cur), want
		})
		if !errors.Is(err, want) || r != 2 {
			t.Fatalf("Do = %d, %v; want 2, %v", r, err, want)
		}
	}
}
