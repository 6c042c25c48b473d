package store_test

import (
	"bytes"
	"context"
	"errors"
	"github.com/authkit/authkit/internal/clocktest"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/store/storetest"
)

func TestMemoryConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		m := store.NewMemory(store.MemoryConfig{})
		t.Cleanup(func() { m.Close() })
		return m
	})
}

// TestMemoryConformanceSweeping runs the suite with a cap and a sweep every
// millisecond, so the sweep races every operation.
func TestMemoryConformanceSweeping(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		m := store.NewMemory(store.MemoryConfig{SweepInterval: time.Millisecond, MaxEntries: 10000})
		t.Cleanup(func() { m.Close() })
		return m
	})
}

// clock is an injectable, settable time source.
// clock is the tests' fake clock.
type clock = clocktest.Clock

func newClock() *clock { return clocktest.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) }

// newMemory returns a Memory with no background sweep on clk, closed at the
// end of the test.
func newMemory(t *testing.T, maxEntries int, clk *clock) *store.Memory {
	m := store.NewMemory(store.MemoryConfig{SweepInterval: -1, MaxEntries: maxEntries, Now: clk.Now})
	t.Cleanup(func() { m.Close() })
	return m
}

func TestMemoryCapacity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newClock()
	m := newMemory(t, 3, clk)
	later := clk.Now().Add(time.Hour)
	v := []byte("v")

	for _, k := range []string{"a", "b", "c"} {
		if err := m.Set(ctx, k, v, later); err != nil {
			t.Fatalf("Set(%q) below the cap = %v", k, err)
		}
	}
	if err := m.Set(ctx, "d", v, later); !errors.Is(err, store.ErrFull) {
		t.Errorf("Set of a new key at the cap = %v, want ErrFull", err)
	}
	if _, err := m.Get(ctx, "d"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(refused key) = %v, want ErrNotFound", err)
	}
	if ok, err := m.CompareAndSwap(ctx, "d", nil, v, later); !errors.Is(err, store.ErrFull) || ok {
		t.Errorf("CompareAndSwap(if absent) of a new key at the cap = %v, %v, want false, ErrFull", ok, err)
	}
	// Existing keys can still be replaced, swapped and deleted at the cap.
	if err := m.Set(ctx, "a", []byte("v2"), later); err != nil {
		t.Errorf("Set replacing a key at the cap = %v", err)
	}
	if ok, err := m.CompareAndSwap(ctx, "b", v, []byte("v3"), later); err != nil || !ok {
		t.Errorf("CompareAndSwap replacing a key at the cap = %v, %v", ok, err)
	}
	// A write that leaves a new key absent is no addition.
	if err := m.Set(ctx, "d", v, clk.Now()); err != nil {
		t.Errorf("Set(new key, past expiry) at the cap = %v, want nil", err)
	}
	if ok, err := m.CompareAndSwap(ctx, "d", nil, v, clk.Now().Add(-time.Second)); err != nil || !ok {
		t.Errorf("CompareAndSwap(new key, past expiry) at the cap = %v, %v, want true, nil", ok, err)
	}
	if n := m.Len(); n != 3 {
		t.Errorf("Len = %d, want 3", n)
	}
	// Deleting makes room.
	if ok, err := m.CompareAndSwap(ctx, "c", v, nil, time.Time{}); err != nil || !ok {
		t.Errorf("CompareAndSwap-delete = %v, %v", ok, err)
	}
	if err := m.Set(ctx, "d", v, later); err != nil {
		t.Errorf("Set after a delete freed room = %v", err)
	}
	if err := m.Delete(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	if ok, err := m.CompareAndSwap(ctx, "d", nil, v, later); err != nil || !ok {
		t.Errorf("CompareAndSwap(if absent) after a delete freed room = %v, %v", ok, err)
	}

	// Expired entries count until removed; rewriting an expired key reuses
	// its slot, and a sweep frees the others.
	clk.Add(2 * time.Hour)
	later = clk.Now().Add(time.Hour)
	if n := m.Len(); n != 3 {
		t.Errorf("Len with 3 expired entries = %d, want 3", n)
	}
	if err := m.Set(ctx, "a", v, later); err != nil {
		t.Errorf("Set over an expired key at the cap = %v", err)
	}
	m.Sweep()
	if n := m.Len(); n != 1 {
		t.Errorf("Len after Sweep = %d, want 1", n)
	}
	for _, k := range []string{"x", "y"} {
		if err := m.Set(ctx, k, v, later); err != nil {
			t.Errorf("Set(%q) after Sweep freed room = %v", k, err)
		}
	}
	if err := m.Set(ctx, "z", v, later); !errors.Is(err, store.ErrFull) {
		t.Errorf("Set past the cap again = %v, want ErrFull", err)
	}
}

// TestMemoryCapacityReclaimsExpired fills a capped store with entries that
// then expire. A new key gets in when its shard holds expired entries (the
// write drops them); refused keys get ErrFull and get in after a Sweep; the
// count never passes the cap.
func TestMemoryCapacityReclaimsExpired(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newClock()
	const max = 1000
	m := newMemory(t, max, clk)
	for i := range max {
		if err := m.Set(ctx, "old-"+strconv.Itoa(i), []byte("v"), clk.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	clk.Add(time.Hour)
	var refused []string
	for i := range max {
		k := "new-" + strconv.Itoa(i)
		switch err := m.Set(ctx, k, []byte("v"), clk.Now().Add(time.Minute)); {
		case errors.Is(err, store.ErrFull):
			refused = append(refused, k)
		case err != nil:
			t.Fatalf("Set(%s) = %v", k, err)
		}
		if n := m.Len(); n > max {
			t.Fatalf("Len = %d after Set(%s), past the cap %d", n, k, max)
		}
	}
	// With 1000 expired entries over 64 shards, the first new key's shard
	// surely held some.
	if len(refused) == max {
		t.Fatal("no new key got in over expired entries without a Sweep")
	}
	m.Sweep()
	for _, k := range refused {
		if err := m.Set(ctx, k, []byte("v"), clk.Now().Add(time.Minute)); err != nil {
			t.Errorf("Set(%s) after Sweep = %v", k, err)
		}
	}
	if n := m.Len(); n != max {
		t.Errorf("Len = %d, want %d", n, max)
	}
	if err := m.Set(ctx, "one-more", []byte("v"), clk.Now().Add(time.Minute)); !errors.Is(err, store.ErrFull) {
		t.Errorf("Set past a cap of live entries = %v, want ErrFull", err)
	}
}

func TestMemoryConcurrentCap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const max, workers, perWorker = 100, 8, 50
	m := store.NewMemory(store.MemoryConfig{MaxEntries: max})
	t.Cleanup(func() { m.Close() })
	later := time.Now().Add(time.Hour)
	var mu sync.Mutex
	stored := 0
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				err := m.Set(ctx, "w"+strconv.Itoa(w)+"-"+strconv.Itoa(i), []byte("v"), later)
				switch {
				case err == nil:
					mu.Lock()
					stored++
					mu.Unlock()
				case !errors.Is(err, store.ErrFull):
					t.Errorf("Set = %v", err)
				}
			}
		})
	}
	wg.Wait()
	if stored != max || m.Len() != max {
		t.Errorf("%d Sets succeeded and Len = %d, want both %d", stored, m.Len(), max)
	}
	n := 0
	for range m.All() {
		n++
	}
	if n != max {
		t.Errorf("All yielded %d entries, want %d", n, max)
	}
}

func TestMemoryNegativeMaxEntriesPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewMemoryWithConfig(MaxEntries: -1) did not panic")
		}
	}()
	store.NewMemory(store.MemoryConfig{MaxEntries: -1})
}

func TestMemorySweep(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newClock()
	m := newMemory(t, 0, clk)
	for _, k := range []string{"short-1", "short-2"} {
		if err := m.Set(ctx, k, []byte("v"), clk.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Set(ctx, "long", []byte("v"), clk.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Minute) // "at or before now" is expired
	if n := m.Len(); n != 3 {
		t.Errorf("Len before Sweep = %d, want 3 (expired entries count until swept)", n)
	}
	m.Sweep()
	if n := m.Len(); n != 1 {
		t.Errorf("Len after Sweep = %d, want 1", n)
	}
	if _, err := m.Get(ctx, "long"); err != nil {
		t.Errorf("Get(long) after Sweep = %v", err)
	}
}

// TestMemoryBackgroundSweep runs the background sweep on a synctest bubble's
// clock: after one interval the expired entries are gone without any call.
func TestMemoryBackgroundSweep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		m := store.NewMemory(store.MemoryConfig{SweepInterval: time.Minute})
		defer m.Close()
		if err := m.Set(ctx, "short", []byte("v"), time.Now().Add(30*time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := m.Set(ctx, "long", []byte("v"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(59 * time.Second)
		synctest.Wait()
		if n := m.Len(); n != 2 {
			t.Errorf("Len before the first sweep = %d, want 2", n)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if n := m.Len(); n != 1 {
			t.Errorf("Len after the first sweep = %d, want 1", n)
		}
	})
}

// sweepers counts the goroutines running a Memory's sweep loop.
func sweepers() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return bytes.Count(buf, []byte("store.(*Memory).sweepLoop"))
}

// waitSweepers waits until exactly want sweep loops run. A loop that Close
// has stopped may still be unwinding for a moment after Close returns.
func waitSweepers(t *testing.T, want int, when string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		n := sweepers()
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sweep goroutines %s, want %d", n, when, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestMemoryCloseStopsSweep is not parallel: it counts goroutines, and every
// other test closes its stores.
func TestMemoryCloseStopsSweep(t *testing.T) {
	waitSweepers(t, 0, "before the test (a store left open?)")
	m := store.NewMemory(store.MemoryConfig{SweepInterval: time.Millisecond})
	waitSweepers(t, 1, "after NewMemory")
	time.Sleep(5 * time.Millisecond) // let it sweep a few times
	if err := m.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	waitSweepers(t, 0, "after Close")
	if err := m.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	// The store stays usable, with expiry still enforced on read.
	ctx := context.Background()
	if err := m.Set(ctx, "k", []byte("v"), time.Now().Add(time.Hour)); err != nil {
		t.Errorf("Set after Close = %v", err)
	}
	if _, err := m.Get(ctx, "k"); err != nil {
		t.Errorf("Get after Close = %v", err)
	}
	if err := m.Set(ctx, "gone", []byte("v"), time.Now().Add(time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	if _, err := m.Get(ctx, "gone"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(expired) after Close = %v, want ErrNotFound", err)
	}

	// A disabled sweep starts no goroutine at all.
	d := store.NewMemory(store.MemoryConfig{SweepInterval: -1})
	if n := sweepers(); n != 0 {
		t.Errorf("%d sweep goroutines with the sweep disabled, want 0", n)
	}
	d.Close()
}

func TestMemoryAll(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newClock()
	m := newMemory(t, 0, clk)
	want := map[string]string{"a": "1", "b": "2", "c": "3"}
	for k, v := range want {
		if err := m.Set(ctx, k, []byte(v), clk.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Set(ctx, "expiring", []byte("x"), clk.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Minute)
	got := map[string]string{}
	for k, v := range m.All() {
		got[k] = string(v)
		copy(v, "X") // the yielded value is a copy
	}
	if len(got) != len(want) {
		t.Errorf("All = %v, want %v (live entries only)", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("All[%q] = %q, want %q", k, got[k], v)
		}
		if b, err := m.Get(ctx, k); err != nil || string(b) != v {
			t.Errorf("Get(%q) after writing to All's value = %q, %v, want %q", k, b, err, v)
		}
	}
	n := 0
	for range m.All() {
		n++
		break
	}
	if n != 1 {
		t.Errorf("breaking out of All ran %d iterations", n)
	}
}

// TestMemoryNow checks that every method measures expiry on the injected
// clock, not the wall clock.
func TestMemoryNow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clocktest.New(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
	m := newMemory(t, 0, clk)
	// Long past by the wall clock, in the future by the store's.
	exp := time.Date(2000, 1, 1, 0, 1, 0, 0, time.UTC)
	if err := m.Set(ctx, "k", []byte("v"), exp); err != nil {
		t.Fatal(err)
	}
	if ok, err := m.CompareAndSwap(ctx, "c", nil, []byte("v"), exp); err != nil || !ok {
		t.Fatalf("CompareAndSwap = %v, %v", ok, err)
	}
	if _, err := m.Get(ctx, "k"); err != nil {
		t.Errorf("Get before the injected clock reaches expiry = %v", err)
	}
	clk.Add(59 * time.Second)
	if _, err := m.Get(ctx, "k"); err != nil {
		t.Errorf("Get 1s before expiry = %v", err)
	}
	clk.Add(time.Second) // now == expiry: absent
	if _, err := m.Get(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get at expiry = %v, want ErrNotFound", err)
	}
	if ok, err := m.CompareAndSwap(ctx, "c", []byte("v"), []byte("w"), exp.Add(time.Hour)); err != nil || ok {
		t.Errorf("CompareAndSwap(old matching an expired value) = %v, %v, want false", ok, err)
	}
	if ok, err := m.CompareAndSwap(ctx, "c", nil, []byte("w"), exp.Add(time.Hour)); err != nil || !ok {
		t.Errorf("CompareAndSwap(if absent) on an expired key = %v, %v, want true", ok, err)
	}
	n := 0
	for range m.All() {
		n++
	}
	if n != 1 {
		t.Errorf("All yields %d entries, want 1 (the swapped one)", n)
	}
	// An expiry at the injected now is absent at once.
	if err := m.Set(ctx, "now", []byte("v"), clk.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Get(ctx, "now"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(expiring at now) = %v, want ErrNotFound", err)
	}
}
