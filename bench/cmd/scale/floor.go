package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store"
)

// The -floor mode: how much a session load and a store Get cost at a
// million sessions against a thousand, on store.Memory, measured so that
// only the store's size differs.
//
// Both stores are built first (sessions created with Manager.Login behind
// the Middleware, as in the scale table) and kept; then every round
// measures each size in turn, so the sizes are interleaved in time. Each
// measurement visits every session of its store once per pass, in a random
// order fixed in setup, so the store's memory is read cold as a server
// with that many active users reads it. What the caller hands in (the
// cookie or key) is packed into one contiguous string in visiting order,
// so reading it is a sequential scan that stays in cache at every size —
// as a request's cookie, just parsed off the network, is. (A benchmark
// that picks its inputs from a large table of separately allocated
// strings measures its own cache misses as well as the store's.)
//
// The floor of a Get is op=map-get: the same keys and values in one plain
// Go map, looked up in the same order and the value copied out (a Store
// hands out a copy), with no shard, lock, expiry check or key check. At a
// million entries its cost is the memory system's: the map's group, the
// key's bytes and the value's are cold, so its ratio of 1M over 1k is what
// any in-memory store in Go pays on the machine.
//
// Output is in the Go benchmark format, one line per size, operation and
// round, for benchstat:
//
//	BenchmarkMemoryScale/op=map-get/entries=1k  ...  ns/op  B/op  allocs/op
//	BenchmarkMemoryScale/op=store-get/entries=1k  ...
//	BenchmarkMemoryScale/op=session-load/entries=1M ...

// floorStore is one size's store and its packed inputs.
type floorStore struct {
	n       int
	st      *store.Memory
	m       *session.Manager
	keys    packed // store keys of the session records
	cookies packed // Cookie header values, "__Host-session=<id>"
	// bare holds the same keys and values in one plain Go map: the floor
	// of a Get, a lookup and a copy of the value (a Store hands out a copy)
	// with no shard, lock, expiry check or key check.
	bare map[string][]byte
}

// packed is a list of equal-length strings in one allocation.
type packed struct {
	s    string
	size int
}

func (p packed) len() int        { return len(p.s) / p.size }
func (p packed) at(i int) string { return p.s[i*p.size : (i+1)*p.size] }

// pack shuffles items (all of one length) and packs them.
func pack(items []string) packed {
	if len(items) == 0 {
		log.Fatal("floor: nothing to pack")
	}
	size := len(items[0])
	mrand.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
	var b strings.Builder
	b.Grow(size * len(items))
	for _, it := range items {
		if len(it) != size {
			log.Fatalf("floor: items of different lengths (%d and %d)", size, len(it))
		}
		b.WriteString(it)
	}
	return packed{s: b.String(), size: size}
}

func buildFloorStore(ctx context.Context, n, workers int) *floorStore {
	log.Printf("floor: creating %d sessions", n)
	st := store.NewMemory(store.MemoryConfig{})
	m := session.New(st, session.Config{IdleTimeout: 30 * time.Minute, Lifetime: 24 * time.Hour})
	h := loginHandler(m)
	cookies := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || failed.Load() != nil {
					return
				}
				v, err := login(h, "user-"+strconv.Itoa(i))
				if err != nil {
					failed.Store(err)
					return
				}
				cookies[i] = session.DefaultCookieName + "=" + v
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		log.Fatal(err)
	}
	var keys []string
	bare := make(map[string][]byte, n)
	for k, v := range st.All() {
		if strings.HasPrefix(k, "sess:") {
			keys = append(keys, k)
			bare[strings.Clone(k)] = bytes.Clone(v)
		}
	}
	if len(keys) != n {
		log.Fatalf("floor: %d session records for %d logins", len(keys), n)
	}
	f := &floorStore{n: n, st: st, m: m, keys: pack(keys), cookies: pack(cookies), bare: bare}
	// Check every input once: each key is present, each cookie loads.
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	for i := range n {
		v, err := st.Get(ctx, f.keys.at(i))
		if err != nil {
			log.Fatalf("floor: key %d: %v", i, err)
		}
		if !bytes.Equal(f.bare[f.keys.at(i)], v) {
			log.Fatalf("floor: key %d: the bare map holds another value", i)
		}
		req.Header["Cookie"] = []string{f.cookies.at(i)}
		if _, err := m.Authenticate(req); err != nil {
			log.Fatalf("floor: cookie %d: %v", i, err)
		}
	}
	runtime.GC()
	return f
}

// storeGet is the loop of op=store-get.
func (f *floorStore) storeGet(ctx context.Context) func(b *testing.B) {
	return func(b *testing.B) {
		i, n := 0, f.keys.len()
		for b.Loop() {
			if _, err := f.st.Get(ctx, f.keys.at(i)); err != nil {
				b.Fatal(err)
			}
			if i++; i == n {
				i = 0
			}
		}
	}
}

// mapGet is the loop of op=map-get: the same keys, in the same order,
// looked up in the bare map, and the value copied out as Store.Get does.
func (f *floorStore) mapGet() func(b *testing.B) {
	return func(b *testing.B) {
		i, n := 0, f.keys.len()
		for b.Loop() {
			v, ok := f.bare[f.keys.at(i)]
			if !ok {
				b.Fatal("key missing from the bare map")
			}
			sinkBytes = bytes.Clone(v)
			if i++; i == n {
				i = 0
			}
		}
	}
}

// sinkBytes keeps mapGet's copies from being optimized away.
var sinkBytes []byte

// sessionLoad is the loop of op=session-load: Manager.Authenticate on one
// request whose Cookie header is replaced before each call.
func (f *floorStore) sessionLoad() func(b *testing.B) {
	return func(b *testing.B) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		hdr := []string{""}
		req.Header["Cookie"] = hdr
		i, n := 0, f.cookies.len()
		for b.Loop() {
			hdr[0] = f.cookies.at(i)
			if _, err := f.m.Authenticate(req); err != nil {
				b.Fatal(err)
			}
			if i++; i == n {
				i = 0
			}
		}
	}
}

// runFloor builds a store per size, then writes rounds of interleaved
// measurements to out in the Go benchmark format.
func runFloor(ctx context.Context, out io.Writer, sizes []int, rounds, workers int, benchtime time.Duration) {
	if err := flag.Set("test.benchtime", benchtime.String()); err != nil {
		log.Fatal(err)
	}
	stores := make([]*floorStore, len(sizes))
	for i, n := range sizes {
		stores[i] = buildFloorStore(ctx, n, workers)
	}
	defer func() {
		for _, f := range stores {
			f.st.Close()
		}
	}()
	fmt.Fprintf(out, "goos: %s\ngoarch: %s\npkg: github.com/authkit/authkit/bench/cmd/scale\n", runtime.GOOS, runtime.GOARCH)
	for r := range rounds {
		log.Printf("floor: round %d of %d", r+1, rounds)
		for _, f := range stores {
			for _, op := range []struct {
				name string
				fn   func(*testing.B)
			}{{"map-get", f.mapGet()}, {"store-get", f.storeGet(ctx)}, {"session-load", f.sessionLoad()}} {
				res := benchFor(op.fn)
				fmt.Fprintf(out, "BenchmarkMemoryScale/op=%s/entries=%s-%d\t%d\t%.1f ns/op\t%d B/op\t%d allocs/op\n",
					op.name, count(f.n), runtime.GOMAXPROCS(0), res.N, float64(res.T.Nanoseconds())/float64(res.N), res.AllocedBytesPerOp(), res.AllocsPerOp())
			}
		}
	}
}

// benchFor runs f with testing.Benchmark for about -test.benchtime
// (set by runFloor).
func benchFor(f func(*testing.B)) testing.BenchmarkResult {
	return testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		f(b)
	})
}
