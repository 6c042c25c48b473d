package hash

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitFor polls cond; it fails the test after a generous deadline. It only
// waits for something to happen, never asserts how long it took.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

func acquireAsync(b *budget, ctx context.Context, n int64) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- b.acquire(ctx, n) }()
	return ch
}

func TestBudgetFIFO(t *testing.T) {
	ctx := context.Background()
	b := newBudget(10, 0)
	if err := b.acquire(ctx, 6); err != nil {
		t.Fatal(err)
	}
	big := acquireAsync(b, ctx, 10)
	waitFor(t, "the big request to queue", func() bool { return b.queued() == 1 })
	small := acquireAsync(b, ctx, 2)
	waitFor(t, "the small request to queue", func() bool { return b.queued() == 2 })
	// 4 KiB are free, but the small request must not overtake the big one.
	if got := b.inUse(); got != 6 {
		t.Fatalf("in use %d, want 6: the small request overtook the big one", got)
	}
	b.release(6)
	if err := <-big; err != nil {
		t.Fatal(err)
	}
	if got, q := b.inUse(), b.queued(); got != 10 || q != 1 {
		t.Fatalf("in use %d, queued %d; want 10, 1", got, q)
	}
	b.release(10)
	if err := <-small; err != nil {
		t.Fatal(err)
	}
	b.release(2)
	if got := b.inUse(); got != 0 {
		t.Fatalf("in use %d after all releases", got)
	}
}

func TestBudgetCancel(t *testing.T) {
	ctx := context.Background()
	b := newBudget(10, 0)
	if err := b.acquire(ctx, 6); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	big := acquireAsync(b, cctx, 10)
	waitFor(t, "the big request to queue", func() bool { return b.queued() == 1 })
	small := acquireAsync(b, ctx, 2)
	waitFor(t, "the small request to queue", func() bool { return b.queued() == 2 })

	cancel()
	if err := <-big; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled acquire: %v, want context.Canceled", err)
	}
	// The cancelled head left the queue, so the small request fits now.
	if err := <-small; err != nil {
		t.Fatal(err)
	}
	if got, q := b.inUse(), b.queued(); got != 8 || q != 0 {
		t.Fatalf("in use %d, queued %d; want 8, 0", got, q)
	}
}

func TestBudgetLimits(t *testing.T) {
	ctx := context.Background()
	b := newBudget(10, 1)
	if err := b.acquire(ctx, 11); !errors.Is(err, ErrCostLimit) {
		t.Fatalf("acquire above the budget: %v, want ErrCostLimit", err)
	}
	if err := b.acquire(ctx, 10); err != nil {
		t.Fatal(err)
	}
	waiting := acquireAsync(b, ctx, 1)
	waitFor(t, "a request to queue", func() bool { return b.queued() == 1 })
	if err := b.acquire(ctx, 1); !errors.Is(err, ErrBusy) {
		t.Fatalf("acquire with a full queue: %v, want ErrBusy", err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	b2 := newBudget(10, 0)
	_ = b2.acquire(ctx, 10)
	if err := b2.acquire(done, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("acquire with a done context: %v", err)
	}
	if b2.queued() != 0 {
		t.Fatal("a done context was left in the queue")
	}
	b.release(10)
	if err := <-waiting; err != nil {
		t.Fatal(err)
	}
}

// TestBudgetStress has many goroutines take random weights; the budget must
// never be exceeded and every request must finish.
func TestBudgetStress(t *testing.T) {
	b := newBudget(100, 0)
	var inUse, peak atomic.Int64
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			var cancel context.CancelFunc = func() {}
			if i%5 == 0 {
				ctx, cancel = context.WithTimeout(ctx, time.Duration(i)*time.Microsecond)
			}
			defer cancel()
			n := int64(i%7*15 + 1)
			if err := b.acquire(ctx, n); err != nil {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Error(err)
				}
				return
			}
			cur := inUse.Add(n)
			for {
				p := peak.Load()
				if cur <= p || peak.CompareAndSwap(p, cur) {
					break
				}
			}
			runtime.Gosched()
			inUse.Add(-n)
			b.release(n)
		}()
	}
	wg.Wait()
	if p := peak.Load(); p > 100 {
		t.Errorf("peak %d KiB above the budget of 100", p)
	}
	if b.inUse() != 0 || b.queued() != 0 {
		t.Errorf("in use %d, queued %d after all requests", b.inUse(), b.queued())
	}
}

// TestConcurrentArgon2Budget runs 32 concurrent Argon2id verifications at
// m=64 MiB with a budget of two such hashes, counts the hash functions
// running at once, and checks the peak never exceeds the budget. The hook
// pauses inside each computation so that, were the budget bypassed, many
// would overlap; the control subtest shows that they do.
func TestConcurrentArgon2Budget(t *testing.T) {
	const (
		m       = 64 * 1024 // KiB
		callers = 32
	)
	run := func(t *testing.T, h *Hasher, encoded string) (peakRunning int, peakKiB int64) {
		var mu sync.Mutex
		running, kibInUse := 0, int64(0)
		h.onCompute = func(kib int64) func() {
			mu.Lock()
			running++
			kibInUse += kib
			peakRunning = max(peakRunning, running)
			peakKiB = max(peakKiB, kibInUse)
			mu.Unlock()
			time.Sleep(5 * time.Millisecond) // widen the window for overlap
			return func() {
				mu.Lock()
				running--
				kibInUse -= kib
				mu.Unlock()
			}
		}
		var wg sync.WaitGroup
		for range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := h.Verify(context.Background(), "hunter2", encoded); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		h.onCompute = nil
		return peakRunning, peakKiB
	}

	t.Run("budget of two", func(t *testing.T) {
		if testing.Short() {
			t.Skip("32 Argon2 hashes of 64 MiB")
		}
		h := New(Config{Scheme: Argon2id{Memory: m, Time: 1}, MemoryBudget: 2 * m})
		encoded, err := h.Hash(context.Background(), "hunter2")
		if err != nil {
			t.Fatal(err)
		}
		peak, peakKiB := run(t, h, encoded)
		t.Logf("peak: %d Argon2 hashes of 64 MiB at once, %d KiB of a %d KiB budget", peak, peakKiB, 2*m)
		if peak > 2 || peakKiB > 2*m {
			t.Errorf("peak %d hashes, %d KiB: the budget of %d KiB was exceeded", peak, peakKiB, 2*m)
		}
		if peak < 2 {
			t.Errorf("peak %d: the budget allows 2 at once and 32 were waiting", peak)
		}
		if h.budget.peak > 2*m {
			t.Errorf("budget recorded %d KiB in use", h.budget.peak)
		}
	})

	// Control: the same load with a budget large enough for everyone (at a
	// small m, to spare memory) overlaps far beyond two, so the assertion
	// above would catch a bypassed budget.
	t.Run("control without a binding budget", func(t *testing.T) {
		const small = 256
		h := newTestHasher(t, Config{Scheme: Argon2id{Memory: small, Time: 1}, MemoryBudget: callers * small})
		encoded, err := h.Hash(context.Background(), "hunter2")
		if err != nil {
			t.Fatal(err)
		}
		peak, _ := run(t, h, encoded)
		t.Logf("control peak: %d hashes at once", peak)
		if peak <= 2 {
			t.Errorf("control peak %d: the instrumentation does not see overlapping hashes", peak)
		}
	})
}

// TestVerifyCancelledWhileQueued fills the budget with a hash that is held
// inside its computation, then checks a second call leaves the queue when
// its context is cancelled.
func TestVerifyCancelledWhileQueued(t *testing.T) {
	h := newTestHasher(t, Config{MemoryBudget: 64}) // one 64 KiB hash at a time
	encoded, err := h.Hash(context.Background(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	entered := make(chan struct{})
	hold := make(chan struct{})
	var once sync.Once
	h.onCompute = func(int64) func() {
		once.Do(func() {
			close(entered)
			<-hold
		})
		return func() {}
	}
	first := make(chan error, 1)
	go func() {
		_, err := h.Verify(context.Background(), "pw", encoded)
		first <- err
	}()
	<-entered

	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan error, 1)
	go func() {
		_, err := h.Verify(ctx, "pw", encoded)
		second <- err
	}()
	waitFor(t, "the second call to queue", func() bool { return h.budget.queued() == 1 })
	cancel()
	if err := <-second; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Verify: %v, want context.Canceled", err)
	}
	if q := h.budget.queued(); q != 0 {
		t.Errorf("%d waiters left in the queue", q)
	}
	close(hold)
	if err := <-first; err != nil {
		t.Errorf("first Verify: %v", err)
	}
	if got := h.budget.inUse(); got != 0 {
		t.Errorf("%d KiB still in use", got)
	}
}
