// Command scale measures authkit's session store at scale: how the cost of
// a session load and the memory per session grow from a thousand to a
// million logged-in sessions, on store.Memory and on Redis, and what the
// per-user session index costs at its cap. It writes a Markdown section.
//
//	go run ./cmd/scale -md /tmp/scale.md                  # starts its own redis-server
//	go run ./cmd/scale -redis 127.0.0.1:6379 -md out.md   # an existing server, under a private prefix
//	go run ./cmd/scale -redis none                        # memory store only
//	go run ./cmd/scale -floor                             # memory store at 1k and 1M, benchmark lines
//
// Sessions are created through session.Manager.Login behind its
// Middleware (one session per user, each with its user's index record), in
// process, by a few goroutines. Memory per session is the live heap delta
// (runtime.MemStats.HeapAlloc after GC) for store.Memory, and INFO memory's
// used_memory delta for Redis, divided by the number of sessions.
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authkit/authkit/bench/internal/redisproc"
	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/store/redisstore"
)

// userAgent is a current desktop Chrome's, stored with each session's
// index entry.
const userAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

const samples = 10000 // sessions kept (as requests) to measure loads

func main() {
	sizesFlag := flag.String("sizes", "1000,100000,1000000", "session counts, comma-separated")
	capsFlag := flag.String("caps", "20,100,1000", "per-user index caps (MaxPerSubject) to measure")
	redisAddr := flag.String("redis", "", `Redis address; empty starts a private redis-server, "none" skips Redis`)
	workers := flag.Int("workers", 16, "goroutines creating sessions")
	mdPath := flag.String("md", "", "write the Markdown section here (default stdout)")
	floor := flag.Bool("floor", false, "instead of the scale table: memory store Get and session load at each of -sizes (default 1000,1000000), interleaved rounds, in the Go benchmark format")
	floorRounds := flag.Int("rounds", 5, "with -floor: measurement rounds")
	floorTime := flag.Duration("benchtime", 500*time.Millisecond, "with -floor: length of each measurement")
	testing.Init() // -test.benchtime sets testing.Benchmark's length
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("scale: ")
	ctx := context.Background()

	if *floor {
		sizes := []int{1000, 1000000}
		if sizesSet() {
			sizes = parseInts(*sizesFlag)
		}
		out := io.Writer(os.Stdout)
		if *mdPath != "" {
			log.Fatal("-floor writes benchmark lines to stdout; -md does not apply")
		}
		runFloor(ctx, out, sizes, *floorRounds, *workers, *floorTime)
		return
	}

	sizes := parseInts(*sizesFlag)
	caps := parseInts(*capsFlag)

	var out strings.Builder
	r := &runner{ctx: ctx, workers: *workers, out: &out}

	var rc *redis.Client
	var where string
	switch *redisAddr {
	case "none":
	case "":
		srv, err := redisproc.Start(ctx)
		if err != nil {
			log.Fatal(err)
		}
		defer srv.Stop()
		rc = redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true, PoolSize: 4 * *workers})
		where = "a private redis-server (" + serverVersion(ctx, srv.Addr) + ") started for this run on " + srv.Addr
	default:
		rc = redis.NewClient(&redis.Options{Addr: *redisAddr, ContextTimeoutEnabled: true, PoolSize: 4 * *workers})
		where = "the Redis server at " + *redisAddr + " (" + serverVersion(ctx, *redisAddr) + "), under a private key prefix removed afterwards"
	}
	if rc != nil {
		defer rc.Close()
	}

	fmt.Fprintf(&out, "Sessions created with `Manager.Login` behind the Middleware, one per user (so each has its own index record), %d goroutines, User-Agent of %d bytes. ", *workers, len(userAgent))
	fmt.Fprintf(&out, "*Load* is `Manager.Authenticate` on a request carrying a random one of %d sampled session cookies (cookie parse, SHA-256, store Get, decode); *store Get* is `Store.Get` of a random sampled session key. Times are medians of 5 one-second runs of `testing.Benchmark`. ", samples)
	fmt.Fprintf(&out, "Memory per session is the live-heap delta after GC (store.Memory) or INFO `used_memory` delta (Redis), divided by the count, and covers the session record and its user's index record; at 1k it also carries fixed costs (the store's own table growth, allocator pages), so compare the per-session figures from 100k up.")
	if rc != nil {
		fmt.Fprintf(&out, " Redis: %s.", where)
	}
	out.WriteString("\n\n")
	out.WriteString("| store | sessions | create (sessions/s) | memory per session | load | load allocs | store Get |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, n := range sizes {
		r.scaleRow("memory", n, nil)
	}
	if rc != nil {
		for _, n := range sizes {
			r.scaleRow("redis", n, rc)
		}
	}
	out.WriteString("\n")
	r.growth()

	out.WriteString("\n#### Per-user session index at its cap\n\n")
	fmt.Fprintf(&out, "One user holding `MaxPerSubject` sessions (filled by that many Logins with the same %d-byte User-Agent). *Login at cap* is one Login behind the Middleware (one httptest request) that adds a session and logs out the oldest; *list* is `Manager.Sessions` (the index, then every listed session's record, one store Get each); *index record* is the size of the user's index record (the store accepts values up to %d bytes).\n\n", len(userAgent), store.MaxValueSize)
	out.WriteString("| store | cap | login at cap | list (Sessions) | index record |\n|---|---:|---:|---:|---:|\n")
	for _, c := range caps {
		r.capRow("memory", c, nil)
	}
	if rc != nil {
		for _, c := range caps {
			r.capRow("redis", c, rc)
		}
	}

	if *mdPath == "" {
		fmt.Print(out.String())
		return
	}
	if err := os.WriteFile(*mdPath, []byte(out.String()), 0o644); err != nil {
		log.Fatal(err)
	}
}

type row struct {
	kind       string
	n          int
	perSession float64
	load, get  float64 // ns/op
	loadAllocs int64
	createRate float64
}

type runner struct {
	ctx     context.Context
	workers int
	out     *strings.Builder
	rows    []row
}

// sizesSet reports whether -sizes was given on the command line.
func sizesSet() bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "sizes" })
	return set
}

func parseInts(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			log.Fatalf("bad number %q", f)
		}
		out = append(out, n)
	}
	return out
}

func serverVersion(ctx context.Context, addr string) string {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return "version unknown"
	}
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "redis_version:"); ok {
			return "Redis " + v
		}
	}
	return "version unknown"
}

// newStore returns the store of one measurement and a function that
// removes what it holds.
func (r *runner) newStore(kind string, rc *redis.Client) (store.Store, func()) {
	if kind == "memory" {
		m := store.NewMemory(store.MemoryConfig{})
		return m, func() { m.Close() }
	}
	prefix := "authkit-scale:" + rand.Text() + ":"
	st, err := redisstore.New(rc, redisstore.Config{Prefix: prefix})
	if err != nil {
		log.Fatal(err)
	}
	return st, func() {
		if err := redisproc.DeletePrefix(r.ctx, rc, prefix); err != nil {
			log.Fatalf("cleaning up %s: %v", prefix, err)
		}
	}
}

func loginHandler(m *session.Manager) http.Handler {
	return m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := m.Login(r.Context(), r.URL.Query().Get("u")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
}

// login runs one Login for user and returns the session cookie's value.
func login(h http.Handler, user string) (string, error) {
	req := httptest.NewRequest(http.MethodGet, "/login?u="+user, nil)
	req.Header.Set("User-Agent", userAgent)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return "", fmt.Errorf("login %s: %d %s", user, rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	sc := rec.Header().Get("Set-Cookie")
	v, ok := strings.CutPrefix(sc, session.DefaultCookieName+"=")
	if !ok {
		return "", fmt.Errorf("login %s: Set-Cookie %q", user, sc)
	}
	v, _, _ = strings.Cut(v, ";")
	return strings.Clone(v), nil
}

func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func (r *runner) scaleRow(kind string, n int, rc *redis.Client) {
	log.Printf("%s: %d sessions", kind, n)
	st, cleanup := r.newStore(kind, rc)
	m := session.New(st, session.Config{IdleTimeout: 30 * time.Minute, Lifetime: 24 * time.Hour})
	h := loginHandler(m)

	stride := max(1, n/samples)
	cookies := make([]string, 0, n/stride+1)
	var mu sync.Mutex

	var before uint64
	var usedBefore int64
	if rc == nil {
		before = liveHeap()
	} else {
		var err error
		if usedBefore, err = redisproc.UsedMemory(r.ctx, rc); err != nil {
			log.Fatal(err)
		}
	}

	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	for range r.workers {
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
				if i%stride == 0 {
					mu.Lock()
					cookies = append(cookies, v)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		log.Fatal(err)
	}
	createRate := float64(n) / time.Since(start).Seconds()

	var perSession float64
	if rc == nil {
		after := liveHeap()
		// The sampled cookies are held by this function, not the store.
		held := uint64(cap(cookies))*16 + uint64(len(cookies))*48
		perSession = (float64(after) - float64(before) - float64(held)) / float64(n)
	} else {
		usedAfter, err := redisproc.UsedMemory(r.ctx, rc)
		if err != nil {
			log.Fatal(err)
		}
		perSession = float64(usedAfter-usedBefore) / float64(n)
	}

	reqs := make([]*http.Request, len(cookies))
	for i, v := range cookies {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.AddCookie(&http.Cookie{Name: session.DefaultCookieName, Value: v})
		reqs[i] = req
	}
	keys := sessionKeys(r.ctx, st, rc, len(cookies))
	loadNS, loadAllocs := medianBench(func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := m.Authenticate(reqs[mrand.IntN(len(reqs))]); err != nil {
				b.Fatal(err)
			}
		}
	})
	getNS, _ := medianBench(func(b *testing.B) {
		for b.Loop() {
			if _, err := st.Get(r.ctx, keys[mrand.IntN(len(keys))]); err != nil {
				b.Fatal(err)
			}
		}
	})
	r.rows = append(r.rows, row{kind: kind, n: n, perSession: perSession, load: loadNS, get: getNS, loadAllocs: loadAllocs, createRate: createRate})
	fmt.Fprintf(r.out, "| %s | %s | %s | %s | %s | %d | %s |\n", kind, count(n), count(int(createRate)), bytesStr(perSession), dur(loadNS), loadAllocs, dur(getNS))

	cookies, reqs, keys = nil, nil, nil
	cleanup()
	if rc != nil {
		used, _ := redisproc.UsedMemory(r.ctx, rc)
		log.Printf("redis used_memory after cleanup: %d (before: %d)", used, usedBefore)
	}
}

// sessionKeys returns up to k store keys of session records.
func sessionKeys(ctx context.Context, st store.Store, rc *redis.Client, k int) []string {
	var keys []string
	switch s := st.(type) {
	case *store.Memory:
		for key := range s.All() {
			if strings.HasPrefix(key, "sess:") {
				keys = append(keys, key)
			}
		}
		mrand.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		if len(keys) > k {
			keys = keys[:k]
		}
	default:
		// redisstore adds its prefix; find it from a scan of session keys.
		iter := rc.Scan(ctx, 0, "authkit-scale:*:sess:*", 1000).Iterator()
		for iter.Next(ctx) && len(keys) < k {
			full := iter.Val()
			i := strings.Index(full, ":sess:")
			keys = append(keys, full[i+1:])
		}
	}
	if len(keys) == 0 {
		log.Fatal("no session keys found")
	}
	return keys
}

func (r *runner) growth() {
	r.out.WriteString("Growth from the smallest to the largest count: ")
	var parts []string
	for _, kind := range []string{"memory", "redis"} {
		var first, last *row
		for i := range r.rows {
			if r.rows[i].kind != kind {
				continue
			}
			if first == nil {
				first = &r.rows[i]
			}
			last = &r.rows[i]
		}
		if first == nil || first == last {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s — %s× the sessions: memory per session %.2f×, load %.2f×, store Get %.2f×",
			kind, count(last.n/first.n), last.perSession/first.perSession, last.load/first.load, last.get/first.get))
	}
	r.out.WriteString(strings.Join(parts, "; ") + ".\n")
}

func (r *runner) capRow(kind string, capN int, rc *redis.Client) {
	log.Printf("%s: index at cap %d", kind, capN)
	st, cleanup := r.newStore(kind, rc)
	defer cleanup()
	m := session.New(st, session.Config{IdleTimeout: 30 * time.Minute, Lifetime: 24 * time.Hour, MaxPerSubject: capN})
	h := loginHandler(m)
	const user = "heavy-user"
	for i := 0; i < capN; i++ {
		if _, err := login(h, user); err != nil {
			fmt.Fprintf(r.out, "| %s | %s | fails while filling (at %d sessions): %s | | |\n", kind, count(capN), i, oneLine(err))
			return
		}
	}
	loginNS, loginErr := timeOp(func() error { _, err := login(h, user); return err })
	listNS, listErr := timeOp(func() error {
		l, err := m.Sessions(r.ctx, user)
		if err == nil && len(l) != capN {
			return fmt.Errorf("listed %d sessions, want %d", len(l), capN)
		}
		return err
	})
	size := indexSize(r.ctx, st, rc)
	fmt.Fprintf(r.out, "| %s | %s | %s | %s | %s |\n", kind, count(capN), resultStr(loginNS, loginErr), resultStr(listNS, listErr), bytesStr(float64(size)))
}

// indexSize returns the length of the (only) index record.
func indexSize(ctx context.Context, st store.Store, rc *redis.Client) int {
	if s, ok := st.(*store.Memory); ok {
		for k, v := range s.All() {
			if strings.HasPrefix(k, "sidx:") {
				return len(v)
			}
		}
		return 0
	}
	keys, err := rc.Keys(ctx, "authkit-scale:*:sidx:*").Result()
	if err != nil || len(keys) != 1 {
		return 0
	}
	n, _ := rc.StrLen(ctx, keys[0]).Result()
	return int(n)
}

// timeOp runs op for about two seconds (at least 3 times, at most 1000)
// and returns the median duration in ns.
func timeOp(op func() error) (float64, error) {
	var ds []float64
	deadline := time.Now().Add(2 * time.Second)
	for len(ds) < 3 || (len(ds) < 1000 && time.Now().Before(deadline)) {
		t := time.Now()
		if err := op(); err != nil {
			return 0, err
		}
		ds = append(ds, float64(time.Since(t)))
	}
	slices.Sort(ds)
	return ds[len(ds)/2], nil
}

// medianBench runs f five times with testing.Benchmark and returns the
// median ns/op and allocations per op.
func medianBench(f func(b *testing.B)) (float64, int64) {
	var ns []float64
	var allocs []int64
	for range 5 {
		res := testing.Benchmark(func(b *testing.B) {
			b.ReportAllocs()
			f(b)
		})
		if res.N == 0 {
			log.Fatal("benchmark failed")
		}
		ns = append(ns, float64(res.T.Nanoseconds())/float64(res.N))
		allocs = append(allocs, res.AllocsPerOp())
	}
	slices.Sort(ns)
	slices.Sort(allocs)
	return ns[2], allocs[2]
}

func resultStr(ns float64, err error) string {
	if err != nil {
		return "fails: " + oneLine(err)
	}
	return dur(ns)
}

func oneLine(err error) string {
	return strings.ReplaceAll(strings.ReplaceAll(err.Error(), "\n", " "), "|", "/")
}

func dur(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.2f s", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.2f µs", ns/1e3)
	default:
		return fmt.Sprintf("%.0f ns", ns)
	}
}

func bytesStr(b float64) string {
	switch {
	case math.Abs(b) >= 1<<20:
		return fmt.Sprintf("%.2f MiB", b/(1<<20))
	case math.Abs(b) >= 10<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	default:
		return fmt.Sprintf("%.0f B", b)
	}
}

func count(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	default:
		return strconv.Itoa(n)
	}
}
