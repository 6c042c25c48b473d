// Command loadfault puts authkit servers under concurrent load on loopback
// and pauses their Redis in the middle: the load and fault run of
// docs/BENCHMARKS.md. It writes a Markdown section and exits with status 1
// if any check fails.
//
//	go run ./cmd/loadfault -md /tmp/load.md            # the in-process server
//	go run ./cmd/loadfault -demo .. -md /tmp/load.md   # and the demo, built from the module at ..
//
// The in-process server is built from the authkit packages with the demo's
// shape: GET /api/me behind the session Middleware and
// Guard.Require(sessions, tokens, jwts), all three on one redisstore.Store
// wrapped so that every store operation has a deadline (-store-deadline).
// With -demo, examples/demo is also built and run as a subprocess with
// -store redis://… (its store deadline set by go-redis timeouts in the
// URL). Each server gets a redis-server of its own on a free port (never a
// shared one, since it gets SIGSTOP).
//
// For each server: requests per second on /api/me with each credential
// kind against a bare route; then a mixed load during which Redis is
// stopped with SIGSTOP for -pause and resumed, with checks that every
// request during the pause got a 503 with Retry-After (not a 401, not a
// panic) within its deadline, that the server recovered fully, that every
// credential acknowledged still works, and (in process) that no goroutine
// leaked.
package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/bench/internal/redisproc"
	"github.com/authkit/authkit/jwt"
	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/store/redisstore"
	"github.com/authkit/authkit/token"
)

var (
	workers       = flag.Int("workers", 32, "concurrent load-generating goroutines")
	phase         = flag.Duration("duration", 2*time.Second, "length of each throughput measurement")
	rounds        = flag.Int("rounds", 3, "throughput measurements per kind, interleaved; the median is reported")
	pause         = flag.Duration("pause", 2*time.Second, "how long Redis is stopped")
	storeDeadline = flag.Duration("store-deadline", 300*time.Millisecond, "deadline of every store operation")
	reqDeadline   = flag.Duration("request-deadline", 2*time.Second, "client deadline of every request")
	mdPath        = flag.String("md", "", "write the Markdown section here (default stdout)")
	demoDefaults  = flag.Bool("demo-default-timeouts", false, "run the demo with -store-timeout 0: no store deadline, go-redis's default timeouts and retries")
)

// panicLog counts the lines of the server's error log that report a
// panic.
type panicLog struct {
	mu     sync.Mutex
	panics int
	lines  []string
}

func (p *panicLog) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if bytes.Contains(b, []byte("panic")) {
		p.panics++
	}
	if len(p.lines) < 20 {
		p.lines = append(p.lines, strings.TrimSpace(string(b)))
	}
	return len(b), nil
}

type app struct {
	srv      *http.Server
	url      string
	sessions *session.Manager
	tokens   *token.Manager
	issuer   *jwt.Issuer
	errLog   *panicLog
	seq      atomic.Int64
}

func newApp(st store.Store) (*app, error) {
	quiet := slog.New(slog.DiscardHandler)
	a := &app{errLog: &panicLog{}}
	a.sessions = session.New(st, session.Config{Logger: quiet})
	a.tokens = token.New(st, token.Config{Logger: quiet})
	key, err := jwt.GenerateKey(jwt.HS256)
	if err != nil {
		return nil, err
	}
	ks, err := jwt.NewKeySet(key)
	if err != nil {
		return nil, err
	}
	a.issuer = jwt.NewIssuer(ks, jwt.IssuerConfig{Issuer: "https://bench.example", Audience: []string{"bench"}, Lifetime: time.Hour})
	jwts := jwt.NewVerifier(ks, jwt.Config{Issuer: "https://bench.example", Audience: "bench", Store: st})
	guard := &authkit.Guard{Realm: "authkit-bench", Logger: quiet, RetryAfter: time.Second}

	me := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := authkit.IdentityFrom(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"subject": id.Subject, "method": id.Method})
	})
	mux := http.NewServeMux()
	mux.Handle("GET /bare", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"subject": "", "method": ""})
	}))
	mux.Handle("GET /api/me", a.sessions.Middleware(guard.Require(a.sessions, a.tokens, jwts)(me)))
	mux.Handle("POST /api/login", a.sessions.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.sessions.Login(r.Context(), r.URL.Query().Get("user")); err != nil {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})))
	mux.Handle("POST /api/token", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _, err := a.tokens.Issue(r.Context(), r.URL.Query().Get("user"), token.IssueOptions{})
		if err != nil {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, string(tok))
	}))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          log.New(a.errLog, "", 0),
	}
	a.url = "http://" + ln.Addr().String()
	go func() { _ = a.srv.Serve(ln) }()
	return a, nil
}

// credential is something a client sends to /api/me.
type credential struct {
	kind, subject string
	cookie        string // session cookie value
	bearer        string // opaque token or JWT
}

type client struct {
	hc   *http.Client
	url  string
	bare string // path of the bare route
}

func newClient(url, bare string, conns int) *client {
	tr := &http.Transport{
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     30 * time.Second,
	}
	return &client{hc: &http.Client{Transport: tr}, url: url, bare: bare}
}

type result struct {
	kind       string
	start, end time.Time
	status     int
	retryAfter bool
	err        error
	cred       *credential // a credential acknowledged by a create request
}

// do sends one request of kind with the client deadline.
func (c *client) do(kind string, cred *credential, user string) result {
	ctx, cancel := context.WithTimeout(context.Background(), *reqDeadline)
	defer cancel()
	var req *http.Request
	switch kind {
	case "bare":
		req, _ = http.NewRequestWithContext(ctx, http.MethodGet, c.url+c.bare, nil)
	case "login":
		req, _ = http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/api/login?user="+user, nil)
	case "issue":
		req, _ = http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/api/token?user="+user, nil)
	default:
		req, _ = http.NewRequestWithContext(ctx, http.MethodGet, c.url+"/api/me", nil)
		if cred.cookie != "" {
			req.AddCookie(&http.Cookie{Name: session.DefaultCookieName, Value: cred.cookie})
		} else {
			req.Header.Set("Authorization", "Bearer "+cred.bearer)
		}
	}
	r := result{kind: kind, start: time.Now()}
	resp, err := c.hc.Do(req)
	if err != nil {
		r.end, r.err = time.Now(), err
		return r
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	r.end, r.status, r.err = time.Now(), resp.StatusCode, err
	r.retryAfter = resp.Header.Get("Retry-After") != ""
	if r.status == http.StatusOK && err == nil {
		switch kind {
		case "login":
			for _, ck := range resp.Cookies() {
				if ck.Name == session.DefaultCookieName {
					r.cred = &credential{kind: "session", subject: user, cookie: ck.Value}
				}
			}
			if r.cred == nil {
				r.err = errors.New("login answered 200 without a session cookie")
			}
		case "issue":
			r.cred = &credential{kind: "token", subject: user, bearer: string(body)}
		case "session", "token", "jwt":
			var got struct{ Subject, Method string }
			if json.Unmarshal(body, &got) != nil || got.Subject != cred.subject || got.Method != cred.kind {
				r.err = fmt.Errorf("/api/me answered %q for a %s of %s", body, cred.kind, cred.subject)
			}
		}
	}
	return r
}

func (a *app) newUser(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, a.seq.Add(1))
}

// makeCredentials creates n credentials of each kind through the server.
func (a *app) makeCredentials(c *client, n int) (map[string][]*credential, error) {
	out := map[string][]*credential{}
	for range n {
		r := c.do("login", nil, a.newUser("s"))
		if r.cred == nil {
			return nil, fmt.Errorf("login: %d %v", r.status, r.err)
		}
		out["session"] = append(out["session"], r.cred)
		r = c.do("issue", nil, a.newUser("t"))
		if r.cred == nil {
			return nil, fmt.Errorf("issue: %d %v", r.status, r.err)
		}
		out["token"] = append(out["token"], r.cred)
		sub := a.newUser("j")
		is, err := a.issuer.Issue(jwt.Grant{Subject: sub})
		if err != nil {
			return nil, err
		}
		out["jwt"] = append(out["jwt"], &credential{kind: "jwt", subject: sub, bearer: is.Token})
	}
	return out, nil
}

// load runs workers until stop is closed; each picks its next request
// with pick.
func load(c *client, stop <-chan struct{}, pick func(worker, i int) (string, *credential, string)) []result {
	var mu sync.Mutex
	var all []result
	var wg sync.WaitGroup
	for w := range *workers {
		wg.Go(func() {
			var mine []result
			for i := 0; ; i++ {
				select {
				case <-stop:
					mu.Lock()
					all = append(all, mine...)
					mu.Unlock()
					return
				default:
				}
				kind, cred, user := pick(w, i)
				mine = append(mine, c.do(kind, cred, user))
			}
		})
	}
	wg.Wait()
	return all
}

type stats struct {
	n             int
	rps           float64
	p50, p99, max time.Duration
	codes         map[int]int
	errs          int
}

func summarize(rs []result, window time.Duration) stats {
	s := stats{n: len(rs), codes: map[int]int{}}
	var lat []time.Duration
	for _, r := range rs {
		if r.err != nil {
			s.errs++
		} else {
			s.codes[r.status]++
		}
		lat = append(lat, r.end.Sub(r.start))
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		s.p50, s.p99, s.max = lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1]
	}
	if window > 0 {
		s.rps = float64(len(rs)) / window.Seconds()
	}
	return s
}

func codes(m map[int]int) string {
	var ks []int
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	var parts []string
	for _, k := range ks {
		parts = append(parts, fmt.Sprintf("%d×%d", m[k], k))
	}
	return strings.Join(parts, ", ")
}

type report struct {
	strings.Builder
	failed bool
}

func (r *report) check(ok bool, format string, args ...any) {
	mark := "pass"
	if !ok {
		mark, r.failed = "**FAIL**", true
	}
	fmt.Fprintf(r, "- %s — %s\n", mark, fmt.Sprintf(format, args...))
}

func settleGoroutines(target int) int {
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= target || time.Now().After(deadline) {
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// target is a server under test.
type target struct {
	name     string
	describe string // Markdown
	url      string
	bare     string // path of the route that stands for "no authentication"
	creds    map[string][]*credential
	creates  bool // the server has /api/login and /api/token for the mixed load
	pause    func() error
	resume   func() error
	panics   func() int
	leaks    bool // the server runs in this process: goroutines can be counted
	newUser  func(prefix string) string
}

func main() {
	demoRoot := flag.String("demo", "", "also run the demo (examples/demo of the authkit module rooted here) as a subprocess")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("loadfault: ")
	ctx := context.Background()

	var rep report
	fmt.Fprintf(&rep, "Load: %d goroutines of Go's net/http client over loopback keep-alive connections, a %v client deadline per request. Each server uses a redis-server of its own, started on a free port for this run (never a shared one: it gets SIGSTOP).\n\n", *workers, *reqDeadline)

	if err := runInProcess(ctx, &rep); err != nil {
		log.Fatal(err)
	}
	if *demoRoot != "" {
		if err := runDemo(ctx, &rep, *demoRoot); err != nil {
			fmt.Fprintf(&rep, "\n**The demo could not be run: %s**\n", oneLine(err))
			rep.failed = true
		}
	}

	if *mdPath == "" {
		fmt.Print(rep.String())
	} else if err := os.WriteFile(*mdPath, []byte(rep.String()), 0o644); err != nil {
		log.Fatal(err)
	}
	if rep.failed {
		log.Print("some checks failed")
		os.Exit(1)
	}
}

func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", " ")
}

// runInProcess builds the load target from the authkit packages in this
// process, on a private Redis, and exercises it.
func runInProcess(ctx context.Context, rep *report) error {
	srv, err := redisproc.Start(ctx)
	if err != nil {
		return err
	}
	defer srv.Stop()
	rc := redis.NewClient(&redis.Options{
		Addr:                  srv.Addr,
		ContextTimeoutEnabled: true,
		DialTimeout:           *storeDeadline,
		ReadTimeout:           *storeDeadline,
		WriteTimeout:          *storeDeadline,
		PoolSize:              2 * *workers,
	})
	defer rc.Close()
	rs, err := redisstore.New(rc, redisstore.Config{Prefix: "authkit-load:"})
	if err != nil {
		return err
	}
	if err := rs.Verify(ctx); err != nil {
		return err
	}
	a, err := newApp(store.WithTimeout(rs, *storeDeadline))
	if err != nil {
		return err
	}
	defer a.srv.Shutdown(ctx)
	c := newClient(a.url, "/bare", *workers)
	creds, err := a.makeCredentials(c, 64)
	if err != nil {
		return err
	}
	t := &target{
		name: "in-process server",
		describe: fmt.Sprintf("### In-process server\n\nBuilt from the authkit packages with the demo's shape: `GET /api/me` behind the session Middleware and `Guard.Require(sessions, tokens, jwts)` (JWT HS256 with revocation on, so every JWT verification reads the store too), plus `POST /api/login` (session Login) and `POST /api/token` (token Issue) for the mixed load, and `GET /bare`, the same JSON answer without authentication. One `redisstore.Store` (%s) for all three, every store operation bounded by a %v deadline with `store.WithTimeout`. The load generator runs in the same process (they share the cores); goroutines are counted before and after.\n\n",
			serverVersion(ctx, rc), *storeDeadline),
		url: a.url, bare: "/bare", creds: creds, creates: true,
		pause: srv.Pause, resume: srv.Resume, leaks: true,
		newUser: a.newUser,
		panics: func() int {
			a.errLog.mu.Lock()
			defer a.errLog.mu.Unlock()
			return a.errLog.panics
		},
	}
	exercise(t, c, rep)
	_ = a.srv.Shutdown(ctx)
	return redisproc.DeletePrefix(ctx, rc, "authkit-load:")
}

// exercise measures throughput per credential kind, then runs the mixed
// load with Redis paused, and writes both to rep.
func exercise(t *target, c *client, rep *report) {
	rep.WriteString(t.describe)
	c.hc.CloseIdleConnections()
	time.Sleep(200 * time.Millisecond)
	baseline := runtime.NumGoroutine()

	// Part 1: throughput per credential kind, interleaved rounds.
	kinds := []string{"bare", "session", "token", "jwt"}
	fmt.Fprintf(rep, "**Throughput**: each kind alone for %v, %d rounds interleaved (bare, session, token, jwt, bare, …), each after a 0.5 s warm-up; the round with the median requests/s is shown.\n\n", *phase, *rounds)
	rep.WriteString("| route | credential | requests/s | vs bare | p50 | p99 | responses |\n|---|---|---:|---:|---:|---:|---|\n")
	runs := map[string][]stats{}
	for range *rounds {
		for _, kind := range kinds {
			pick := func(w, i int) (string, *credential, string) {
				if kind == "bare" {
					return "bare", nil, ""
				}
				l := t.creds[kind]
				return kind, l[(w*7+i)%len(l)], ""
			}
			stop := make(chan struct{})
			time.AfterFunc(500*time.Millisecond, func() { close(stop) })
			load(c, stop, pick)
			stop = make(chan struct{})
			t0 := time.Now()
			time.AfterFunc(*phase, func() { close(stop) })
			res := load(c, stop, pick)
			runs[kind] = append(runs[kind], summarize(res, time.Since(t0)))
		}
	}
	var bareRPS float64
	for _, kind := range kinds {
		l := runs[kind]
		slices.SortFunc(l, func(x, y stats) int { return cmp.Compare(x.rps, y.rps) })
		s := l[len(l)/2]
		if kind == "bare" {
			bareRPS = s.rps
		}
		route := "/api/me"
		if kind == "bare" {
			route = t.bare
		}
		fmt.Fprintf(rep, "| %s | %s | %.0f | %.2f× | %v | %v | %s |\n", route, kind, s.rps, s.rps/bareRPS,
			s.p50.Round(time.Microsecond), s.p99.Round(time.Microsecond), codes(s.codes)+errSuffix(s.errs))
	}
	rep.WriteString("\n")

	// Part 2: mixed load with Redis paused.
	mix := []string{"session", "token", "jwt", "session", "token", "jwt", "session", "token", "jwt", "bare"}
	if t.creates {
		mix = append(mix, "login", "issue")
	}
	pick := func(w, i int) (string, *credential, string) {
		kind := mix[(w+i)%len(mix)]
		switch kind {
		case "login":
			return kind, nil, t.newUser("ls")
		case "issue":
			return kind, nil, t.newUser("lt")
		case "bare":
			return kind, nil, ""
		}
		l := t.creds[kind]
		return kind, l[(w*7+i)%len(l)], ""
	}
	const before, after = 3 * time.Second, 4 * time.Second
	stop := make(chan struct{})
	t0 := time.Now()
	var pausedAt, resumedAt time.Time
	var sigErr error
	go func() {
		time.Sleep(before)
		pausedAt = time.Now()
		if err := t.pause(); err != nil {
			sigErr = err
		}
		time.Sleep(*pause)
		if err := t.resume(); err != nil {
			sigErr = errors.Join(sigErr, err)
		}
		resumedAt = time.Now()
		time.Sleep(after)
		close(stop)
	}()
	res := load(c, stop, pick)
	total := time.Since(t0)
	if sigErr != nil {
		rep.check(false, "pausing Redis: %v", sigErr)
		return
	}

	what := "reads of /api/me with each credential kind and bare requests"
	if t.creates {
		what = "reads of /api/me with each credential kind, logins, token issues and bare requests"
	}
	fmt.Fprintf(rep, "**Fault run**: a mixed load (%s) for %v; Redis stopped with SIGSTOP %v after the start and resumed with SIGCONT %v later.\n\n", what, total.Round(100*time.Millisecond), before, *pause)
	var inPause, afterRecovery, acked []result
	var transport, unauthorized int
	lastBad := time.Time{}
	firstOK := map[string]time.Time{}
	for _, r := range res {
		if r.err != nil {
			transport++
		}
		if r.status == http.StatusUnauthorized || r.status == http.StatusForbidden {
			unauthorized++
		}
		if r.cred != nil {
			acked = append(acked, r)
		}
		auth := r.kind != "bare"
		if r.start.After(pausedAt) && r.end.Before(resumedAt) {
			inPause = append(inPause, r)
		}
		if auth && r.start.After(resumedAt) {
			if r.status != http.StatusOK || r.err != nil {
				if r.end.After(lastBad) {
					lastBad = r.end
				}
			} else if f, ok := firstOK[r.kind]; !ok || r.end.Before(f) {
				firstOK[r.kind] = r.end
			}
		}
		if auth && r.start.After(resumedAt.Add(time.Second)) {
			afterRecovery = append(afterRecovery, r)
		}
	}
	panics := t.panics()

	pauseAuth, pauseBare := split(inPause)
	sa, sb := summarize(pauseAuth, 0), summarize(pauseBare, 0)
	all503 := sa.n > 0 && sa.codes[http.StatusServiceUnavailable] == sa.n
	retryAfter, reads := true, 0
	for _, r := range pauseAuth {
		if r.kind == "session" || r.kind == "token" || r.kind == "jwt" {
			retryAfter = retryAfter && r.retryAfter
			reads++
		}
	}
	s := summarize(res, total)
	fmt.Fprintf(rep, "%d requests (%.0f/s): %s%s.\n\n", s.n, s.rps, codes(s.codes), errSuffix(s.errs))
	detail := "all /api/me reads, with Retry-After from the Guard"
	if t.creates {
		detail = fmt.Sprintf("%d of them /api/me reads, all with Retry-After from the Guard; the rest logins and token issues, whose handlers answer 503 themselves", reads)
	}
	rep.check(all503 && retryAfter && reads > 0, "every request needing the store that was sent and answered during the pause got 503: %d of %d (%s%s; %s)", sa.codes[http.StatusServiceUnavailable], sa.n, codes(sa.codes), errSuffix(sa.errs), detail)
	rep.check(sa.n > 0 && sa.max < *reqDeadline, "within the deadline: pause responses p50 %v, p99 %v, max %v (client deadline %v)", sa.p50.Round(time.Millisecond), sa.p99.Round(time.Millisecond), sa.max.Round(time.Millisecond), *reqDeadline)
	rep.check(sb.n > 0 && sb.codes[http.StatusOK] == sb.n, "the bare route kept answering 200 during the pause: %d of %d, p50 %v", sb.codes[http.StatusOK], sb.n, sb.p50.Round(time.Millisecond))
	rep.check(unauthorized == 0, "no 401 or 403 anywhere in the run: %d", unauthorized)
	rep.check(panics == 0 && transport == 0, "no panic (server log: %d panics) and no failed or timed-out request (%d)", panics, transport)
	sr := summarize(afterRecovery, 0)
	rep.check(sr.n > 0 && sr.codes[http.StatusOK] == sr.n && sr.errs == 0, "full recovery: every authenticated request started 1 s or more after the resume got 200: %d of %d", sr.codes[http.StatusOK], sr.n)
	var recov []string
	for _, k := range []string{"session", "token", "jwt", "login", "issue"} {
		if f, ok := firstOK[k]; ok {
			recov = append(recov, fmt.Sprintf("%s %v", k, f.Sub(resumedAt).Round(time.Millisecond)))
		}
	}
	last := "none"
	if !lastBad.IsZero() {
		last = lastBad.Sub(resumedAt).Round(time.Millisecond).String() + " after the resume"
	}
	fmt.Fprintf(rep, "  - first 200 after the resume, by kind: %s; last non-200 response to an authenticated request started after the resume: %s.\n", strings.Join(recov, ", "), last)

	// Every credential acknowledged, before the run or during it, must work.
	var check []*credential
	made := 0
	for _, k := range []string{"session", "token", "jwt"} {
		check = append(check, t.creds[k]...)
		made += len(t.creds[k])
	}
	for _, r := range acked {
		check = append(check, r.cred)
	}
	var broken []string
	for _, cr := range check {
		if r := c.do(cr.kind, cr, ""); r.status != http.StatusOK || r.err != nil {
			broken = append(broken, fmt.Sprintf("%s of %s: %d %v", cr.kind, cr.subject, r.status, r.err))
		}
	}
	if t.creates {
		ackedBefore := 0
		for _, r := range acked {
			if r.end.Before(pausedAt) {
				ackedBefore++
			}
		}
		rep.check(len(broken) == 0, "every credential acknowledged still works after the pause: %d checked (%d made before the run, %d logins and token issues answered 200 during it, %d of them before the pause); broken: %d %s", len(check), made, len(acked), ackedBefore, len(broken), firstFew(broken))
	} else {
		rep.check(len(broken) == 0, "every credential acknowledged before the pause still works after it: %d checked; broken: %d %s", len(check), len(broken), firstFew(broken))
	}

	c.hc.CloseIdleConnections()
	if t.leaks {
		n := settleGoroutines(baseline)
		rep.check(n <= baseline, "no goroutine leak: %d goroutines before the load, %d after it (idle client connections closed; waited up to 5 s)", baseline, n)
		if n > baseline {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			log.Printf("goroutines after the run:\n%s", buf)
		}
	}
	rep.WriteString("\n")
}

func split(rs []result) (auth, bare []result) {
	for _, r := range rs {
		if r.kind == "bare" {
			bare = append(bare, r)
		} else {
			auth = append(auth, r)
		}
	}
	return
}

func errSuffix(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(", %d transport errors", n)
}

func firstFew(s []string) string {
	if len(s) > 3 {
		s = s[:3]
	}
	return strings.Join(s, "; ")
}

func serverVersion(ctx context.Context, c *redis.Client) string {
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return "Redis"
	}
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "redis_version:"); ok {
			return "Redis " + v
		}
	}
	return "Redis"
}
