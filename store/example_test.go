package store_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/authkit/authkit/store"
)

func ExampleMemory() {
	ctx := context.Background()
	m := store.NewMemory(store.MemoryConfig{})
	defer m.Close()

	if err := m.Set(ctx, "greeting", []byte("hello"), time.Now().Add(time.Hour)); err != nil {
		fmt.Println(err)
		return
	}
	v, err := m.Get(ctx, "greeting")
	fmt.Println(string(v), err)

	_, err = m.Get(ctx, "missing")
	fmt.Println(errors.Is(err, store.ErrNotFound))

	// An expiry at or before now leaves the key absent.
	_ = m.Set(ctx, "greeting", []byte("bye"), time.Now())
	_, err = m.Get(ctx, "greeting")
	fmt.Println(errors.Is(err, store.ErrNotFound))
	// Output:
	// hello <nil>
	// true
	// true
}

// CompareAndSwap makes read-modify-write safe under concurrency: retry until
// the value read is still the value replaced.
func ExampleMemory_CompareAndSwap() {
	ctx := context.Background()
	m := store.NewMemory(store.MemoryConfig{})
	defer m.Close()

	increment := func(key string) (int, error) {
		for {
			var old []byte // empty: "only if absent"
			n := 0
			cur, err := m.Get(ctx, key)
			switch {
			case errors.Is(err, store.ErrNotFound):
			case err != nil:
				return 0, err
			default:
				if n, err = strconv.Atoi(string(cur)); err != nil {
					return 0, err
				}
				old = cur
			}
			next := []byte(strconv.Itoa(n + 1))
			ok, err := m.CompareAndSwap(ctx, key, old, next, time.Now().Add(time.Hour))
			if err != nil {
				return 0, err
			}
			if ok {
				return n + 1, nil
			}
			// Someone else changed the value first: read it again.
		}
	}
	for range 3 {
		n, err := increment("logins")
		fmt.Println(n, err)
	}

	// A one-time claim: only the first CompareAndSwap-if-absent wins.
	first, _ := m.CompareAndSwap(ctx, "claim", nil, []byte("alice"), time.Now().Add(time.Hour))
	second, _ := m.CompareAndSwap(ctx, "claim", nil, []byte("bob"), time.Now().Add(time.Hour))
	fmt.Println(first, second)
	// Output:
	// 1 <nil>
	// 2 <nil>
	// 3 <nil>
	// true false
}

// A capped store refuses new keys instead of evicting anyone's session.
func ExampleNewMemoryWithConfig() {
	ctx := context.Background()
	m := store.NewMemory(store.MemoryConfig{
		MaxEntries:    2,
		SweepInterval: 10 * time.Second,
	})

	defer m.Close()

	later := time.Now().Add(time.Hour)
	fmt.Println(m.Set(ctx, "a", []byte("1"), later))
	fmt.Println(m.Set(ctx, "b", []byte("2"), later))
	fmt.Println(errors.Is(m.Set(ctx, "c", []byte("3"), later), store.ErrFull))
	fmt.Println(m.Set(ctx, "a", []byte("replaced"), later)) // existing keys still change
	fmt.Println(m.Len())
	// Output:
	// <nil>
	// <nil>
	// true
	// <nil>
	// 2
}

// Bound every store call, so a stalled server becomes a prompt error (and a
// 503 from authkit.Guard) rather than requests that hang.
func ExampleWithTimeout() {
	var shared store.Store = store.NewMemory(store.MemoryConfig{}) // in production: a redisstore or sqlstore
	st := store.WithTimeout(shared, 500*time.Millisecond)
	err := st.Set(context.Background(), "greeting", []byte("hello"), time.Now().Add(time.Minute))
	v, _ := st.Get(context.Background(), "greeting")
	fmt.Println(string(v), err)
	// Output: hello <nil>
}
