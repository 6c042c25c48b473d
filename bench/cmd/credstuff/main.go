// Command credstuff simulates credential stuffing and a targeted attack
// against authkit's password sign-in (login.Password on throttle.Throttle)
// and reports what the throttle lets through, in simulated time.
//
//	go run ./cmd/credstuff                               # memory store
//	go run ./cmd/credstuff -redis 127.0.0.1:6379 -md out.md
//
// Everything runs in process: the "network" is direct calls to SignIn with
// forged client addresses; the only sockets are to the Redis named with
// -redis (loopback). Loops are bounded by the attempt counts below.
//
// Scenarios, on the default throttle configuration:
//
//   - stuffing: 10,000 attempts over one simulated hour on 1,000 accounts
//     from 200 addresses; 1 % of them carry the account's real password;
//   - targeted: 50 addresses each guess one account's password every 10 s for
//     two simulated hours, while its owner signs in every 5 minutes from a
//     known device (and, for comparison, from a new browser).
//
// It reports guesses checked per account per hour, the owner's success rate,
// store operations per attempt, and the latency of a sign-in with the
// throttle next to the same check without it (real Argon2id, real store).
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"log"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authkit/authkit/hash"
	"github.com/authkit/authkit/login"
	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/store/redisstore"
	"github.com/authkit/authkit/throttle"
)

func main() {
	redisAddr := flag.String("redis", "", "Redis address (loopback); empty uses the memory store")
	md := flag.String("md", "", "write the Markdown section to this file")
	latencyN := flag.Int("latency", 40, "sign-ins per side in the latency comparison")
	flag.Parse()
	log.SetFlags(0)

	backend := "memory"
	var base store.Store
	clk := &clock{t: time.Now()}
	if *redisAddr != "" {
		backend = "Redis " + *redisAddr
		base = openRedis(*redisAddr)
	} else {
		m := store.NewMemory(store.MemoryConfig{Now: clk.Now})
		defer m.Close()
		base = m
	}
	st := &counting{Store: base}

	var b strings.Builder
	fmt.Fprintf(&b, "## Sign-in throttling: credential stuffing simulation\n\n")
	fmt.Fprintf(&b, "`go run ./cmd/credstuff%s` on the %s store, default `throttle.Config` "+
		"(pair: 5 free failures, account: 10, address: 20; back-off from 1–2 s doubling to 15 min; "+
		"global: 1000 failures/min). Simulated time; every attempt goes through `login.Password.SignIn`.\n\n",
		map[bool]string{true: " -redis " + *redisAddr, false: ""}[*redisAddr != ""], backend)

	stuffing(&b, st, clk)
	targeted(&b, st, clk)
	latency(&b, base, *latencyN)

	out := b.String()
	fmt.Print(out)
	if *md != "" {
		if err := os.WriteFile(*md, []byte(out), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// counting counts store operations.
type counting struct {
	store.Store
	ops atomic.Int64
}

func (c *counting) Get(ctx context.Context, k string) ([]byte, error) {
	c.ops.Add(1)
	return c.Store.Get(ctx, k)
}
func (c *counting) Set(ctx context.Context, k string, v []byte, e time.Time) error {
	c.ops.Add(1)
	return c.Store.Set(ctx, k, v, e)
}
func (c *counting) Delete(ctx context.Context, k string) error {
	c.ops.Add(1)
	return c.Store.Delete(ctx, k)
}
func (c *counting) CompareAndSwap(ctx context.Context, k string, o, n []byte, e time.Time) (bool, error) {
	c.ops.Add(1)
	return c.Store.CompareAndSwap(ctx, k, o, n, e)
}

func openRedis(addr string) store.Store {
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	if err := c.Ping(context.Background()).Err(); err != nil {
		log.Fatalf("redis %s: %v", addr, err)
	}
	prefix := "authkit-credstuff:" + rand.Text() + ":"
	st, err := redisstore.New(c, redisstore.Config{Prefix: prefix})
	if err != nil {
		log.Fatal(err)
	}
	// Leave nothing behind.
	cleanups = append(cleanups, func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		c.Close()
	})
	return st
}

var cleanups []func()

// directory is the simulated user base.
type directory struct {
	mu    sync.Mutex
	users map[string][2]string
}

func (d *directory) LookupPassword(_ context.Context, name string) (string, string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.users[name]
	if !ok {
		return "", "", login.ErrUnknownUser
	}
	return u[0], u[1], nil
}

func (d *directory) UpdatePasswordHash(context.Context, string, string) error { return nil }

var fast = hash.New(hash.Config{Scheme: hash.Argon2id{Memory: 64, Time: 1}, InsecureWeakParameters: true})

func newDirectory(n int, h *hash.Hasher) (*directory, []string) {
	d := &directory{users: map[string][2]string{}}
	pws := make([]string, n)
	for i := range n {
		pws[i] = fmt.Sprintf("password of user %d %s", i, rand.Text()[:6])
		enc, err := h.Hash(context.Background(), pws[i])
		if err != nil {
			log.Fatal(err)
		}
		d.users[fmt.Sprintf("user%04d", i)] = [2]string{fmt.Sprintf("u%d", i), enc}
	}
	return d, pws
}

type browser struct {
	ip      string
	cookies []*http.Cookie
}

func (b *browser) signIn(p *login.Password, name, pw string) error {
	r := httptest.NewRequest("POST", "https://example.com/login", nil)
	r.RemoteAddr = b.ip + ":40000"
	for _, c := range b.cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	_, err := p.SignIn(w, r, name, pw)
	if cs := w.Result().Cookies(); len(cs) > 0 {
		b.cookies = cs
	}
	return err
}

func classify(err error) string {
	switch {
	case err == nil:
		return "ok"
	case err == login.ErrInvalidCredentials:
		return "wrong"
	case strings.HasPrefix(err.Error(), "throttle: too many"):
		return "refused"
	}
	log.Fatalf("unexpected error: %v", err)
	return ""
}

func stuffing(b *strings.Builder, st *counting, clk *clock) {
	th := throttle.New(st, throttle.Config{Now: clk.Now, Prefix: "thr-stuff:"})
	dir, pws := newDirectory(1000, fast)
	p := login.NewPassword(st, dir, login.PasswordConfig{Hasher: fast, Throttle: th, Now: clk.Now, Logger: slog.New(slog.DiscardHandler)})
	const attempts, accounts, addrs = 10000, 1000, 200
	step := time.Hour / attempts
	counts := map[string]int{}
	hits, hitsOK := 0, 0
	perAccount := make([]int, accounts)
	rng := mrand.New(mrand.NewPCG(1, 2))
	st.ops.Store(0)
	for range attempts {
		i := rng.IntN(accounts)
		ip := fmt.Sprintf("198.18.%d.%d", rng.IntN(addrs)/100, rng.IntN(addrs)%100+1)
		pw := "leaked-elsewhere-" + rand.Text()[:8]
		hit := rng.IntN(100) == 0
		if hit {
			pw = pws[i]
			hits++
		}
		c := classify((&browser{ip: ip}).signIn(p, fmt.Sprintf("user%04d", i), pw))
		counts[c]++
		if c != "refused" {
			perAccount[i]++
		}
		if hit && c == "ok" {
			hitsOK++
		}
		clk.Add(step)
	}
	ops := st.ops.Load()
	fmt.Fprintf(b, "### Credential stuffing: 10,000 attempts, 1,000 accounts, 200 addresses, 1 hour\n\n")
	fmt.Fprintf(b, "| outcome | attempts |\n|---|---|\n")
	fmt.Fprintf(b, "| password checked, wrong | %d |\n| password checked, right (attacker signed in) | %d of %d hits |\n| refused by the throttle, nothing checked | %d |\n\n",
		counts["wrong"], hitsOK, hits, counts["refused"])
	fmt.Fprintf(b, "- Store operations per attempt: %.2f (%d operations).\n", float64(ops)/attempts, ops)
	fmt.Fprintf(b, "- Guesses checked per account in the hour: max %d, median %d. (With ~10 attempts per account the per-account limits are never reached; "+
		"the address counters do the work: 50 attempts per address against 20 free failures.)\n\n", slices.Max(perAccount), median(perAccount))
}

func targeted(b *strings.Builder, st *counting, clk *clock) {
	th := throttle.New(st, throttle.Config{Now: clk.Now, Prefix: "thr-target:"})
	dir, pws := newDirectory(1, fast)
	p := login.NewPassword(st, dir, login.PasswordConfig{Hasher: fast, Throttle: th, Now: clk.Now, Logger: slog.New(slog.DiscardHandler)})
	owner := &browser{ip: "203.0.113.10"}
	if err := owner.signIn(p, "user0000", pws[0]); err != nil {
		log.Fatal(err)
	}
	bots := make([]*browser, 50)
	for i := range bots {
		bots[i] = &browser{ip: fmt.Sprintf("198.19.%d.%d", i/100, i%100+1)}
	}
	type hour struct{ checked, refused, ownerOK, ownerTries, newOK, newTries int }
	var hours [2]hour
	st.ops.Store(0)
	attempts := 0
	for s := 0; s < 2*3600; s += 10 {
		h := &hours[s/3600]
		for _, bot := range bots {
			attempts++
			if classify(bot.signIn(p, "user0000", "guess-"+rand.Text()[:8])) == "refused" {
				h.refused++
			} else {
				h.checked++
			}
		}
		if s%300 == 0 {
			h.ownerTries++
			if owner.signIn(p, "user0000", pws[0]) == nil {
				h.ownerOK++
			}
			h.newTries++
			if (&browser{ip: "203.0.113.11"}).signIn(p, "user0000", pws[0]) == nil {
				h.newOK++
			}
		}
		clk.Add(10 * time.Second)
	}
	ops := st.ops.Load()
	fmt.Fprintf(b, "### Targeted: one account, 50 addresses, a guess from each every 10 s, 2 hours\n\n")
	fmt.Fprintf(b, "| hour | attacker guesses checked | refused | owner, known device | owner, new browser |\n|---|---|---|---|---|\n")
	for i, h := range hours {
		fmt.Fprintf(b, "| %d | %d | %d | %d of %d (%.0f %%) | %d of %d |\n", i+1, h.checked, h.refused, h.ownerOK, h.ownerTries,
			100*float64(h.ownerOK)/float64(h.ownerTries), h.newOK, h.newTries)
	}
	fmt.Fprintf(b, "\n- Store operations per attempt (mostly refusals: three reads each): %.2f.\n", float64(ops)/float64(attempts+4*24))
	fmt.Fprintf(b, "- The owner's new browser succeeds only when its attempt lands after a back-off wait ends and before the next bot guess; its known device always does.\n\n")
}

// latency compares a sign-in through login.Password (throttle included)
// with the same lookup and Argon2id verify without the throttle, on the
// real store and real clock, interleaved.
func latency(b *strings.Builder, st store.Store, n int) {
	h := hash.New(hash.Config{})
	dir, pws := newDirectory(1, h)
	th := throttle.New(st, throttle.Config{Prefix: "thr-lat:"})
	p := login.NewPassword(st, dir, login.PasswordConfig{Hasher: h, Throttle: th, Logger: slog.New(slog.DiscardHandler)})
	enc := dir.users["user0000"][1]
	var with, without, refused []time.Duration
	ctx := context.Background()
	for i := range n {
		br := &browser{ip: fmt.Sprintf("192.0.2.%d", i%200+1)}
		t0 := time.Now()
		if err := br.signIn(p, "user0000", pws[0]); err != nil {
			log.Fatal(err)
		}
		with = append(with, time.Since(t0))
		t0 = time.Now()
		if _, _, err := dir.LookupPassword(ctx, "user0000"); err != nil {
			log.Fatal(err)
		}
		if _, err := h.Verify(ctx, pws[0], enc); err != nil {
			log.Fatal(err)
		}
		without = append(without, time.Since(t0))
	}
	// Refusals: a pair in back-off.
	bot := &browser{ip: "192.0.2.250"}
	for range 6 {
		bot.signIn(p, "user0000", "wrong")
	}
	for range n {
		t0 := time.Now()
		if classify(bot.signIn(p, "user0000", "wrong")) != "refused" {
			log.Fatal("expected a refusal")
		}
		refused = append(refused, time.Since(t0))
	}
	var alone []time.Duration
	for i := range 20 * n {
		a := throttle.Attempt{Account: "user0000", Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(i%200 + 1)})}
		t0 := time.Now()
		tk, err := th.Begin(ctx, a)
		if err != nil {
			log.Fatal(err)
		}
		if err := tk.Success(ctx); err != nil {
			log.Fatal(err)
		}
		alone = append(alone, time.Since(t0))
	}
	mw, mo, mr := medianD(with), medianD(without), medianD(refused)
	fmt.Fprintf(b, "### Latency, real Argon2id (m=19 MiB, t=2), %d sign-ins each, interleaved, medians\n\n", n)
	fmt.Fprintf(b, "| | median |\n|---|---|\n| lookup + verify, no throttle | %v |\n| `SignIn` (throttle: 3 reads + 3 swaps, settle) | %v |\n| difference (Argon2id's variance on a shared machine dominates it) | %v |\n| the throttle alone: `Begin` + `Success`, %d runs | %v |\n| refused by the throttle (no hash) | %v |\n\n",
		mo.Round(time.Microsecond), mw.Round(time.Microsecond), (mw - mo).Round(time.Microsecond), 20*n, medianD(alone).Round(time.Microsecond), mr.Round(time.Microsecond))
	for _, f := range cleanups {
		f()
	}
}

func median(v []int) int {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func medianD(v []time.Duration) time.Duration {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
