package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/authkit/authkit/store"
)

// ---- Race ----

// parallel runs f(0..n-1) in n goroutines released together and waits.
func parallel(n int, f func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			f(i)
		}()
	}
	close(start)
	wg.Wait()
}

func testRaceCounter(c *checker) {
	const workers, increments = 8, 25
	const key = "counter"
	var succeeded atomic.Int64
	parallel(workers, func(w int) {
		done := 0
		for attempt := 0; done < increments; attempt++ {
			if attempt == 1000*increments {
				c.errorf("CompareAndSwap", "made no progress", "worker %d: only %d increments after %d attempts", w, done, attempt)
				return
			}
			var old []byte
			n := 0
			cur, err := c.s.Get(c.ctx, key)
			switch {
			case errors.Is(err, store.ErrNotFound):
			case err != nil:
				c.errorf("Get", "failed", "worker %d: Get = %v", w, err)
				return
			default:
				if n, err = strconv.Atoi(string(cur)); err != nil {
					c.errorf("Get", "returned the wrong value", "worker %d: the counter holds %s", w, show(cur))
					return
				}
				old = cur
			}
			ok, err := c.s.CompareAndSwap(c.ctx, key, old, []byte(strconv.Itoa(n+1)), later())
			if err != nil {
				c.errorf("CompareAndSwap", "failed", "worker %d: CompareAndSwap(%s, %d) = %v", w, show(old), n+1, err)
				return
			}
			if ok {
				done++
				succeeded.Add(1)
			}
		}
	})
	got, err := c.s.Get(c.ctx, key)
	if err != nil {
		c.fatalf("Get", "failed", "Get(counter) = %v", err)
	}
	n, _ := strconv.Atoi(string(got))
	if s := succeeded.Load(); int64(n) != s {
		c.errorf("CompareAndSwap", "lost an update", "counter = %s after %d successful CompareAndSwap increments: %d lost", show(got), s, s-int64(n))
	}
}

func testRaceOneWinner(c *checker) {
	const racers, rounds = 64, 3
	for r := range rounds {
		key := "once-" + strconv.Itoa(r)
		var winners atomic.Int64
		var winner atomic.Int64
		parallel(racers, func(i int) {
			ok, err := c.s.CompareAndSwap(c.ctx, key, nil, []byte("racer-"+strconv.Itoa(i)), later())
			if err != nil {
				c.errorf("CompareAndSwap", "failed", "racer %d: CompareAndSwap(if absent) = %v", i, err)
				return
			}
			if ok {
				winners.Add(1)
				winner.Store(int64(i))
			}
		})
		if n := winners.Load(); n != 1 {
			c.errorf("CompareAndSwap", "not atomic", "round %d: %d of %d concurrent CompareAndSwap-if-absent calls succeeded, want exactly 1", r, n, racers)
			continue
		}
		c.has(key, []byte("racer-"+strconv.FormatInt(winner.Load(), 10)))
	}
}

func testRaceDeleteOneWinner(c *checker) {
	const racers, rounds = 16, 3
	for r := range rounds {
		key := "del-" + strconv.Itoa(r)
		c.set(key, v1, later())
		var winners atomic.Int64
		parallel(racers, func(i int) {
			ok, err := c.s.CompareAndSwap(c.ctx, key, v1, nil, later())
			if err != nil {
				c.errorf("CompareAndSwap", "failed", "racer %d: CompareAndSwap(delete) = %v", i, err)
				return
			}
			if ok {
				winners.Add(1)
			}
		})
		if n := winners.Load(); n != 1 {
			c.errorf("CompareAndSwap", "not atomic", "round %d: %d of %d concurrent CompareAndSwap-deletes succeeded, want exactly 1", r, n, racers)
		}
		c.absent(key)
	}
}

func testRaceSameKey(c *checker) {
	const writers, readers, iterations, size = 4, 4, 25, 4096
	const key = "shared"
	values := make([][]byte, writers)
	for w := range values {
		values[w] = bytes.Repeat([]byte{'a' + byte(w)}, size)
	}
	c.set(key, values[0], later())
	parallel(writers+readers, func(i int) {
		for range iterations {
			if i < writers {
				if err := c.s.Set(c.ctx, key, values[i], later()); err != nil {
					c.errorf("Set", "failed", "writer %d: Set = %v", i, err)
					return
				}
				continue
			}
			got, err := c.s.Get(c.ctx, key)
			if err != nil {
				c.errorf("Get", "failed", "reader %d: Get = %v", i, err)
				return
			}
			if len(got) != size || !bytes.Equal(got, bytes.Repeat(got[:1], size)) || got[0] < 'a' || got[0] >= 'a'+writers {
				c.errorf("Get", "returned a torn value", "reader %d: Get = %s, a value no writer wrote", i, show(got))
				return
			}
		}
	})
}

func testRaceDistinctKeys(c *checker) {
	const workers, iterations = 8, 20
	parallel(workers, func(w int) {
		key := "worker-" + strconv.Itoa(w)
		for i := range iterations {
			a := []byte(fmt.Sprintf("%d-%d-a", w, i))
			b := []byte(fmt.Sprintf("%d-%d-b", w, i))
			if err := c.s.Set(c.ctx, key, a, later()); err != nil {
				c.errorf("Set", "failed", "worker %d: Set = %v", w, err)
				return
			}
			if got, err := c.s.Get(c.ctx, key); err != nil || !bytes.Equal(got, a) {
				c.errorf("Get", "returned the wrong value", "worker %d: Get after Set = %s, %v; want %s", w, show(got), err, show(a))
				return
			}
			if ok, err := c.s.CompareAndSwap(c.ctx, key, a, b, later()); err != nil || !ok {
				c.errorf("CompareAndSwap", "reported the wrong outcome", "worker %d: CompareAndSwap = %v, %v; want true", w, ok, err)
				return
			}
			if got, err := c.s.Get(c.ctx, key); err != nil || !bytes.Equal(got, b) {
				c.errorf("Get", "returned the wrong value", "worker %d: Get after CompareAndSwap = %s, %v; want %s", w, show(got), err, show(b))
				return
			}
			if err := c.s.Delete(c.ctx, key); err != nil {
				c.errorf("Delete", "failed", "worker %d: Delete = %v", w, err)
				return
			}
			if got, err := c.s.Get(c.ctx, key); !errors.Is(err, store.ErrNotFound) {
				c.errorf("Get", "want ErrNotFound", "worker %d: Get after Delete = %s, %v; want ErrNotFound", w, show(got), err)
				return
			}
		}
	})
}
