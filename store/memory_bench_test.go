package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/authkit/authkit/store"
)

// benchSizes are the store sizes the Memory benchmarks run at.
var benchSizes = []struct {
	name string
	n    int
}{
	{"1k", 1_000},
	{"1M", 1_000_000},
}

// benchValue is the size of a small session record.
var benchValue = make([]byte, 64)

type prefilled struct {
	once sync.Once
	m    *store.Memory
	keys []string
}

// benchStores holds one prefilled store per size, built on first use and
// shared by every benchmark: filling a million entries once is enough.
var benchStores [2]prefilled

func benchStore(b *testing.B, size int) (*store.Memory, []string) {
	p := &benchStores[size]
	p.once.Do(func() {
		n := benchSizes[size].n
		p.m = store.NewMemory(store.MemoryConfig{SweepInterval: -1})
		p.keys = make([]string, n)
		exp := time.Now().Add(24 * time.Hour)
		for i := range p.keys {
			p.keys[i] = fmt.Sprintf("sess:%016x", uint64(i)*0x9e3779b97f4a7c15)
			if err := p.m.Set(context.Background(), p.keys[i], benchValue, exp); err != nil {
				panic(err)
			}
		}
	})
	return p.m, p.keys
}

// benchMemory runs op over the sizes and 1 and 2 goroutines. Each goroutine
// walks the keys in a scattered order (a stride coprime with the size), so
// the 1M store is read across far more memory than the CPU caches hold.
// ns/op is wall time per operation across all goroutines.
func benchMemory(b *testing.B, op func(m *store.Memory, key string) error) {
	for si, size := range benchSizes {
		b.Run("entries="+size.name, func(b *testing.B) {
			m, keys := benchStore(b, si)
			for _, g := range []int{1, 2} {
				b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) {
					b.ReportAllocs()
					n := uint64(len(keys))
					b.ResetTimer()
					var wg sync.WaitGroup
					for w := range g {
						ops := b.N / g
						if w == 0 {
							ops += b.N % g
						}
						wg.Go(func() {
							idx := uint64(w) * n / uint64(g)
							for range ops {
								idx = (idx + 2654435761) % n
								if err := op(m, keys[idx]); err != nil {
									b.Error(err)
									return
								}
							}
						})
					}
					wg.Wait()
				})
			}
		})
	}
}

func BenchmarkMemoryGet(b *testing.B) {
	ctx := context.Background()
	benchMemory(b, func(m *store.Memory, key string) error {
		_, err := m.Get(ctx, key)
		return err
	})
}

func BenchmarkMemorySet(b *testing.B) {
	ctx := context.Background()
	exp := time.Now().Add(24 * time.Hour)
	benchMemory(b, func(m *store.Memory, key string) error {
		return m.Set(ctx, key, benchValue, exp)
	})
}

func BenchmarkMemoryCompareAndSwap(b *testing.B) {
	ctx := context.Background()
	exp := time.Now().Add(24 * time.Hour)
	benchMemory(b, func(m *store.Memory, key string) error {
		ok, err := m.CompareAndSwap(ctx, key, benchValue, benchValue, exp)
		if err == nil && !ok {
			err = fmt.Errorf("CompareAndSwap(%s) did not swap", key)
		}
		return err
	})
}
