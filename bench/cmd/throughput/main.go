// Command throughput measures what authkit's middleware costs next to HTTP
// itself: requests per second and latency of authkit.Require(sessions,
// tokens, jwts) on a store.Memory, against a bare handler, under the same
// concurrent load in the same process.
//
//	go run ./cmd/throughput                        # 64 clients, 3 rounds of 2 s per route
//	go run ./cmd/throughput -clients 16 -rounds 5
//	go run ./cmd/throughput -routes session -cpuprofile session.cpu
//
// The server listens on loopback; its routes are
//
//	GET /bare     the handler alone
//	GET /api/me   authkit.Require(sessions, tokens, jwts)(the same handler)
//
// and the handler writes the same small JSON answer on both. The session
// Manager, the token Manager and the JWT Verifier (HS256, revocation on,
// so every verification reads the store) share one store.Memory.
// Credentials are made before the load: 64 of each kind, spread over the
// clients. Each client is a goroutine sending one request at a time over
// its own keep-alive connection with Go's net/http client, as fast as
// answers come, for -duration per route after a 0.5 s warm-up, one route
// at a time, the routes interleaved (bare, session, token, jwt, bare, …)
// for -rounds rounds. The load generator runs in the same process and
// shares the cores: the figures are what one machine does serving and
// loading at once, the same for every route.
//
// Output is in the Go benchmark format, one line per route and round, for
// benchstat: requests per second, and the median and 99th percentile of the
// request latency seen by the clients:
//
//	BenchmarkThroughput/route=bare  N  ns/op  req/s  p50-ns  p99-ns
//	BenchmarkThroughput/route=session ...
//
// Every response is checked (status 200 and the expected answer); any
// failure makes the command exit with status 1.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/jwt"
	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/token"
)

var (
	clients  = flag.Int("clients", 64, "concurrent clients, each with its own connection")
	duration = flag.Duration("duration", 2*time.Second, "length of each measurement")
	warmup   = flag.Duration("warmup", 500*time.Millisecond, "load before each measurement, not counted")
	rounds   = flag.Int("rounds", 3, "measurements per route, interleaved")
	perKind  = flag.Int("credentials", 64, "credentials of each kind")
	only     = flag.String("routes", "bare,session,token,jwt", "routes to measure, in this order each round")
	cpuProf  = flag.String("cpuprofile", "", "write a CPU profile of the measurements (server and clients) to this file")
)

// credential is what one request sends, and the answer it must get back.
type credential struct {
	cookie, bearer string
	want           []byte
}

// answerOf is the handler's answer for an identity.
func answerOf(subject, method string) []byte {
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(map[string]string{"subject": subject, "method": method})
	return b.Bytes()
}

func main() {
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("throughput: ")
	if *clients < 1 || *rounds < 1 || *perKind < 1 {
		log.Fatal("-clients, -rounds and -credentials must be positive")
	}
	st := store.NewMemory(store.MemoryConfig{})
	defer st.Close()
	srv, url, creds, err := start(st)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	routes := strings.Split(*only, ",")
	for _, r := range routes {
		if _, ok := creds[r]; !ok {
			log.Fatalf("-routes: no route %q (bare, session, token, jwt)", r)
		}
	}
	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("goos: %s\ngoarch: %s\npkg: github.com/authkit/authkit/bench/cmd/throughput\n", runtime.GOOS, runtime.GOARCH)
	failed := false
	for r := range *rounds {
		log.Printf("round %d of %d", r+1, *rounds)
		for _, route := range routes {
			res := measure(url, route, creds[route])
			if res.bad > 0 {
				log.Printf("%s: %d of %d requests failed: %s", route, res.bad, res.n, res.firstErr)
				failed = true
			}
			fmt.Printf("BenchmarkThroughput/route=%s-%d\t%d\t%.1f ns/op\t%.1f req/s\t%d p50-ns\t%d p99-ns\n",
				route, runtime.GOMAXPROCS(0), res.n, float64(res.window.Nanoseconds())/float64(max(res.n, 1)),
				float64(res.n)/res.window.Seconds(), res.p50.Nanoseconds(), res.p99.Nanoseconds())
		}
	}
	if failed {
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// start builds the server on st, listens on loopback and makes the
// credentials.
func start(st store.Store) (*http.Server, string, map[string][]credential, error) {
	quiet := slog.New(slog.DiscardHandler)
	sessions := session.New(st, session.Config{Logger: quiet})
	tokens := token.New(st, token.Config{Logger: quiet})
	key, err := jwt.GenerateKey(jwt.HS256)
	if err != nil {
		return nil, "", nil, err
	}
	ks, err := jwt.NewKeySet(key)
	if err != nil {
		return nil, "", nil, err
	}
	issuer := jwt.NewIssuer(ks, jwt.IssuerConfig{Issuer: "https://bench.example", Audience: []string{"bench"}, Lifetime: time.Hour})
	jwts := jwt.NewVerifier(ks, jwt.Config{Issuer: "https://bench.example", Audience: "bench", Store: st, Logger: quiet})

	answer := func(w http.ResponseWriter, subject, method string) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"subject": subject, "method": method})
	}
	bare := answerOf("", "")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /bare", func(w http.ResponseWriter, r *http.Request) { answer(w, "", "") })
	mux.Handle("GET /api/me", authkit.Require(sessions, tokens, jwts)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := authkit.IdentityFrom(r.Context())
		answer(w, id.Subject, id.Method)
	})))

	ctx := context.Background()
	creds := map[string][]credential{"bare": {{want: bare}}}
	login := sessions.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := sessions.Login(r.Context(), r.URL.Query().Get("u")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}))
	for i := range *perKind {
		sub := fmt.Sprintf("session-user-%d", i)
		rec := httptest.NewRecorder()
		login.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "https://bench.example/login?u="+sub, nil))
		var cookie string
		for _, c := range rec.Result().Cookies() {
			if c.Name == session.DefaultCookieName {
				cookie = c.Value
			}
		}
		if rec.Code != http.StatusOK || cookie == "" {
			return nil, "", nil, fmt.Errorf("login: %d %s", rec.Code, rec.Body.String())
		}
		creds["session"] = append(creds["session"], credential{cookie: cookie, want: answerOf(sub, authkit.MethodSession)})

		sub = fmt.Sprintf("token-user-%d", i)
		tok, _, err := tokens.Issue(ctx, sub, token.IssueOptions{})
		if err != nil {
			return nil, "", nil, err
		}
		creds["token"] = append(creds["token"], credential{bearer: string(tok), want: answerOf(sub, authkit.MethodToken)})

		sub = fmt.Sprintf("jwt-user-%d", i)
		is, err := issuer.Issue(jwt.Grant{Subject: sub})
		if err != nil {
			return nil, "", nil, err
		}
		creds["jwt"] = append(creds["jwt"], credential{bearer: is.Token, want: answerOf(sub, authkit.MethodJWT)})
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", nil, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(ln) }()
	return srv, "http://" + ln.Addr().String(), creds, nil
}

// result is one measurement of one route.
type result struct {
	n, bad   int
	window   time.Duration
	p50, p99 time.Duration
	firstErr string
}

// measure loads route with every client for the warm-up, then for
// -duration, and summarizes the second part.
func measure(url, route string, creds []credential) result {
	tr := &http.Transport{MaxIdleConnsPerHost: *clients, MaxConnsPerHost: *clients, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	path := "/api/me"
	if route == "bare" {
		path = "/bare"
	}
	var counting atomic.Bool
	var stop atomic.Bool
	lat := make([][]time.Duration, *clients)
	var mu sync.Mutex
	var res result
	var wg sync.WaitGroup
	for c := range *clients {
		wg.Go(func() {
			mine := make([]time.Duration, 0, 1<<14)
			for i := c; !stop.Load(); i++ {
				cred := creds[i%len(creds)]
				t0 := time.Now()
				err := send(hc, url+path, cred)
				d := time.Since(t0)
				if !counting.Load() {
					continue
				}
				mine = append(mine, d)
				if err != nil {
					mu.Lock()
					if res.bad == 0 {
						res.firstErr = err.Error()
					}
					res.bad++
					mu.Unlock()
				}
			}
			lat[c] = mine
		})
	}
	time.Sleep(*warmup)
	counting.Store(true)
	t0 := time.Now()
	time.Sleep(*duration)
	stop.Store(true)
	res.window = time.Since(t0)
	wg.Wait()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	res.n = len(all)
	if res.n > 0 {
		slices.Sort(all)
		res.p50, res.p99 = all[res.n/2], all[res.n*99/100]
	}
	return res
}

// send makes one request and checks the answer.
func send(hc *http.Client, url string, cred credential) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if cred.cookie != "" {
		req.AddCookie(&http.Cookie{Name: session.DefaultCookieName, Value: cred.cookie})
	}
	if cred.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+cred.bearer)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	if !bytes.Equal(body, cred.want) {
		return fmt.Errorf("answer %q, want %q", bytes.TrimSpace(body), bytes.TrimSpace(cred.want))
	}
	return nil
}
