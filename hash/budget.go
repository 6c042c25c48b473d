package hash

import (
	"container/list"
	"context"
	"fmt"
	"sync"
)

// budget is a weighted semaphore measured in KiB of memory. Waiters are served
// strictly in arrival order, so a large request at the head of the queue is
// not starved by a stream of small ones behind it. A waiter whose context ends
// leaves the queue.
type budget struct {
	size     int64 // KiB
	maxQueue int   // 0: unbounded

	mu      sync.Mutex
	cur     int64     // KiB in use
	waiters list.List // of *waiter, oldest first
	peak    int64     // highest cur seen, for tests and monitoring
}

type waiter struct {
	n     int64
	ready chan struct{} // closed when the waiter holds its weight
}

func newBudget(size int64, maxQueue int) *budget {
	return &budget{size: size, maxQueue: maxQueue}
}

// acquire takes n KiB from the budget, waiting in line until they are free or
// ctx ends. A request larger than the whole budget fails at once with
// ErrCostLimit; a full queue fails at once with ErrBusy.
func (b *budget) acquire(ctx context.Context, n int64) error {
	if n > b.size {
		return fmt.Errorf("%w: needs %d KiB of memory, more than the whole budget of %d KiB", ErrCostLimit, n, b.size)
	}
	if n < 1 {
		n = 1
	}
	b.mu.Lock()
	if b.size-b.cur >= n && b.waiters.Len() == 0 {
		b.take(n)
		b.mu.Unlock()
		return nil
	}
	if b.maxQueue > 0 && b.waiters.Len() >= b.maxQueue {
		b.mu.Unlock()
		return ErrBusy
	}
	if err := ctx.Err(); err != nil {
		b.mu.Unlock()
		return fmt.Errorf("hash: waiting for the memory budget: %w", err)
	}
	w := &waiter{n: n, ready: make(chan struct{})}
	elem := b.waiters.PushBack(w)
	b.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		b.mu.Lock()
		select {
		case <-w.ready:
			// Granted while the context was ending: hand the weight back.
			b.cur -= n
			b.notifyLocked()
		default:
			front := b.waiters.Front() == elem
			b.waiters.Remove(elem)
			// If this waiter was blocking the head of the line, the next
			// ones may fit now.
			if front {
				b.notifyLocked()
			}
		}
		b.mu.Unlock()
		return fmt.Errorf("hash: waiting for the memory budget: %w", ctx.Err())
	}
}

// release returns n KiB taken by acquire.
func (b *budget) release(n int64) {
	if n < 1 {
		n = 1
	}
	b.mu.Lock()
	b.cur -= n
	if b.cur < 0 {
		b.mu.Unlock()
		panic("hash: budget released more than acquired")
	}
	b.notifyLocked()
	b.mu.Unlock()
}

func (b *budget) take(n int64) {
	b.cur += n
	if b.cur > b.peak {
		b.peak = b.cur
	}
}

// notifyLocked grants waiters from the head of the queue while they fit. It
// stops at the first one that does not fit, so nobody overtakes it.
func (b *budget) notifyLocked() {
	for {
		front := b.waiters.Front()
		if front == nil {
			return
		}
		w := front.Value.(*waiter)
		if b.size-b.cur < w.n {
			return
		}
		b.take(w.n)
		b.waiters.Remove(front)
		close(w.ready)
	}
}

// queued reports how many callers are waiting (for tests).
func (b *budget) queued() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.waiters.Len()
}

// inUse reports the KiB currently held (for tests).
func (b *budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cur
}
