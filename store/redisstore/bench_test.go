package redisstore_test

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authkit/authkit/store/redisstore"
)

// benchValue is the size of a typical session record.
var benchValue = bytes.Repeat([]byte("s"), 256)

// benchTargets runs f once per configured server: "single" on
// AUTHKIT_REDIS_ADDR and "cluster" on AUTHKIT_REDIS_CLUSTER_ADDRS. f gets
// the raw client, a Store on it and the Redis key of the Store's key "k",
// which holds benchValue.
func benchTargets(b *testing.B, f func(b *testing.B, c redis.UniversalClient, s *redisstore.Store, rawKey string)) {
	targets := []struct {
		name, env string
		client    func(testing.TB) redis.UniversalClient
	}{
		{"single", "AUTHKIT_REDIS_ADDR", func(t testing.TB) redis.UniversalClient { return newClient(t) }},
		{"cluster", "AUTHKIT_REDIS_CLUSTER_ADDRS", func(t testing.TB) redis.UniversalClient { return newClusterClient(t) }},
	}
	for _, tg := range targets {
		b.Run(tg.name, func(b *testing.B) {
			if os.Getenv(tg.env) == "" {
				b.Skipf("%s is not set", tg.env)
			}
			c := tg.client(b)
			s, prefix := newStore(b, c)
			if err := s.Set(context.Background(), "k", benchValue, time.Now().Add(time.Hour)); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { c.Del(context.Background(), prefix+"k") })
			b.ReportAllocs()
			f(b, c, s, prefix+"k")
		})
	}
}

// BenchmarkRawGet is the baseline for BenchmarkGet: go-redis's own GET of the
// same key, as an application without authkit would read it.
func BenchmarkRawGet(b *testing.B) {
	ctx := context.Background()
	benchTargets(b, func(b *testing.B, c redis.UniversalClient, _ *redisstore.Store, rawKey string) {
		for b.Loop() {
			if _, err := c.Get(ctx, rawKey).Bytes(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	benchTargets(b, func(b *testing.B, _ redis.UniversalClient, s *redisstore.Store, _ string) {
		for b.Loop() {
			if _, err := s.Get(ctx, "k"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkGetVsRawGet interleaves a raw GET and a Store Get of the same key
// in one loop, alternating which goes first, so both see the same machine
// load; it reports each one's mean time and their ratio.
func BenchmarkGetVsRawGet(b *testing.B) {
	ctx := context.Background()
	benchTargets(b, func(b *testing.B, c redis.UniversalClient, s *redisstore.Store, rawKey string) {
		var raw, wrapped time.Duration
		rawGet := func() {
			t0 := time.Now()
			if _, err := c.Get(ctx, rawKey).Bytes(); err != nil {
				b.Fatal(err)
			}
			raw += time.Since(t0)
		}
		storeGet := func() {
			t0 := time.Now()
			if _, err := s.Get(ctx, "k"); err != nil {
				b.Fatal(err)
			}
			wrapped += time.Since(t0)
		}
		n := 0
		for b.Loop() {
			if n%2 == 0 {
				rawGet()
				storeGet()
			} else {
				storeGet()
				rawGet()
			}
			n++
		}
		b.ReportMetric(float64(raw.Nanoseconds())/float64(n), "raw-ns/get")
		b.ReportMetric(float64(wrapped.Nanoseconds())/float64(n), "store-ns/get")
		b.ReportMetric(float64(wrapped)/float64(raw), "ratio")
	})
}

func BenchmarkSet(b *testing.B) {
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	benchTargets(b, func(b *testing.B, _ redis.UniversalClient, s *redisstore.Store, _ string) {
		for b.Loop() {
			if err := s.Set(ctx, "k", benchValue, exp); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCompareAndSwap swaps the value back and forth between two
// versions: every call runs the script and succeeds.
func BenchmarkCompareAndSwap(b *testing.B) {
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	other := bytes.Repeat([]byte("t"), len(benchValue))
	benchTargets(b, func(b *testing.B, _ redis.UniversalClient, s *redisstore.Store, _ string) {
		cur, next := benchValue, other
		for b.Loop() {
			ok, err := s.CompareAndSwap(ctx, "k", cur, next, exp)
			if err != nil || !ok {
				b.Fatalf("CompareAndSwap = %v, %v", ok, err)
			}
			cur, next = next, cur
		}
	})
}
