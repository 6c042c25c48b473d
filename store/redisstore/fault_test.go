package redisstore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/store/internal/faultproxy"
	"github.com/authkit/authkit/store/redisstore"
	"github.com/authkit/authkit/store/storetest"
)

// server is a redis-server process a test starts on a free port of its own,
// so that it can pause, kill and restart it without touching the shared
// Redis.
type server struct {
	t    *testing.T
	port int
	dir  string
	args []string
	cmd  *exec.Cmd
}

// startServer starts a redis-server with extra arguments. It runs only when
// services are available (AUTHKIT_REDIS_ADDR set) and skips without
// redis-server on PATH. The process is killed when the test ends; its
// directory is a t.TempDir.
func startServer(t *testing.T, extra ...string) *server {
	t.Helper()
	storetest.Env(t, "AUTHKIT_REDIS_ADDR")
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server is not on PATH: skipping the tests that start their own Redis")
	}
	s := &server{t: t, port: freePort(t), dir: t.TempDir()}
	s.args = append([]string{
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no",
		"--dir", s.dir, "--logfile", filepath.Join(s.dir, "redis.log"),
	}, extra...)
	s.start()
	t.Cleanup(s.stop)
	return s
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (s *server) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// start runs the server and waits until it answers PING.
func (s *server) start() {
	s.t.Helper()
	s.cmd = exec.Command("redis-server", s.args...)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("starting redis-server: %v", err)
	}
	waitPing(s.t, s.addr())
}

func waitPing(t *testing.T, addr string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis at %s did not answer PING: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills the server (waking it first if it is paused) and reaps it.
func (s *server) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT)
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

func (s *server) signal(sig os.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("signal %v: %v", sig, err)
	}
}

// faultClient is a client whose own timeouts are far longer than the tests'
// deadlines: an operation that fails in time proves the context was obeyed.
func faultClient(t *testing.T, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{
		Addr:                  addr,
		ContextTimeoutEnabled: true,
		DialTimeout:           10 * time.Second,
		ReadTimeout:           10 * time.Second,
		WriteTimeout:          10 * time.Second,
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// op is one Store call, made with ctx.
type op struct {
	name string
	f    func(ctx context.Context, s store.Store) error
}

var ops = []op{
	{"Get", func(ctx context.Context, s store.Store) error {
		_, err := s.Get(ctx, "k")
		return err
	}},
	{"Set", func(ctx context.Context, s store.Store) error {
		return s.Set(ctx, "k2", []byte("v2"), time.Now().Add(time.Minute))
	}},
	{"Delete", func(ctx context.Context, s store.Store) error {
		return s.Delete(ctx, "other")
	}},
	{"CompareAndSwapIfAbsent", func(ctx context.Context, s store.Store) error {
		_, err := s.CompareAndSwap(ctx, "fresh", nil, []byte("v"), time.Now().Add(time.Minute))
		return err
	}},
	{"CompareAndSwap", func(ctx context.Context, s store.Store) error {
		_, err := s.CompareAndSwap(ctx, "k", []byte("v"), []byte("v3"), time.Now().Add(time.Minute))
		return err
	}},
}

const faultDeadline = 300 * time.Millisecond

// checkFailing runs every op with a short deadline, in parallel, and
// requires each to fail with a wrapped error, not ErrNotFound, before its
// deadline has long passed.
func checkFailing(t *testing.T, s store.Store, wantDeadline bool) {
	t.Helper()
	t.Run("failing", func(t *testing.T) {
		for _, o := range ops {
			t.Run(o.name, func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithTimeout(context.Background(), faultDeadline)
				defer cancel()
				start := time.Now()
				err := o.f(ctx, s)
				elapsed := time.Since(start)
				switch {
				case err == nil:
					t.Fatalf("%s = nil, want an error", o.name)
				case errors.Is(err, store.ErrNotFound):
					t.Errorf("%s = %v, which matches ErrNotFound", o.name, err)
				case !strings.HasPrefix(err.Error(), "redisstore: "):
					t.Errorf("%s = %q, want a wrapped error", o.name, err)
				case wantDeadline && !errors.Is(err, context.DeadlineExceeded):
					t.Errorf("%s = %v, want an error matching context.DeadlineExceeded", o.name, err)
				}
				// The client's own timeouts are 10 s: failing within a
				// second shows the context deadline was what ended it.
				if elapsed > faultDeadline+time.Second {
					t.Errorf("%s failed after %v, long past its %v deadline", o.name, elapsed, faultDeadline)
				}
				t.Logf("%s: %v after %v", o.name, err, elapsed.Round(time.Millisecond))
			})
		}
	})
}

// checkWorking requires every op to succeed again, then a full round trip.
func checkWorking(t *testing.T, s store.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Set(ctx, "k", []byte("v"), time.Now().Add(time.Minute)); err != nil {
		t.Fatalf("Set after recovery = %v", err)
	}
	for _, o := range ops {
		if err := o.f(ctx, s); err != nil {
			t.Errorf("%s after recovery = %v", o.name, err)
		}
	}
	if got, err := s.Get(ctx, "k"); err != nil || string(got) != "v3" {
		t.Errorf("Get after recovery = %q, %v, want %q", got, err, "v3")
	}
}

// TestFaultPaused pauses the server with SIGSTOP: every operation fails with
// a wrapped error matching context.DeadlineExceeded once its deadline
// passes, and all work again after SIGCONT with the same client.
func TestFaultPaused(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	s, err := redisstore.New(faultClient(t, srv.addr()), redisstore.Config{Prefix: "p:"})
	if err != nil {
		t.Fatal(err)
	}
	checkWorking(t, s)

	srv.signal(syscall.SIGSTOP)
	checkFailing(t, s, true)
	srv.signal(syscall.SIGCONT)
	checkWorking(t, s)
}

// TestFaultRestart kills the server: operations fail with wrapped errors;
// after a restart on the same port they work again with the same client.
func TestFaultRestart(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	s, err := redisstore.New(faultClient(t, srv.addr()), redisstore.Config{Prefix: "r:"})
	if err != nil {
		t.Fatal(err)
	}
	checkWorking(t, s)

	srv.stop()
	checkFailing(t, s, false)
	srv.start()
	checkWorking(t, s)
}

// commandCalls returns how many times the server ran cmd.
func commandCalls(t *testing.T, c *redis.Client, cmd string) int {
	t.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "cmdstat_"+cmd+":calls=")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
		if err != nil {
			t.Fatalf("parsing %q: %v", sc.Text(), err)
		}
		return n
	}
	return 0
}

// TestScriptCacheFlushed checks the EVALSHA path: one EVALSHA per swap while
// the server caches the script, and an EVAL fallback after SCRIPT FLUSH.
func TestScriptCacheFlushed(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	c := faultClient(t, srv.addr())
	s, err := redisstore.New(c, redisstore.Config{Prefix: "script:"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	exp := time.Now().Add(time.Minute)
	swap := func(old, new string) {
		t.Helper()
		if ok, err := s.CompareAndSwap(ctx, "k", []byte(old), []byte(new), exp); err != nil || !ok {
			t.Fatalf("CompareAndSwap(%q, %q) = %v, %v", old, new, ok, err)
		}
	}
	swap("", "a") // SET NX: no script
	if n := commandCalls(t, c, "evalsha") + commandCalls(t, c, "eval"); n != 0 {
		t.Errorf("CompareAndSwap if absent ran %d scripts, want 0", n)
	}
	swap("a", "b") // EVALSHA fails with NOSCRIPT, EVAL loads it
	if n := commandCalls(t, c, "eval"); n != 1 {
		t.Errorf("EVAL calls after the first swap = %d, want 1", n)
	}
	evalsha := commandCalls(t, c, "evalsha")
	for range 3 {
		swap("b", "c")
		swap("c", "b")
	}
	if n := commandCalls(t, c, "eval"); n != 1 {
		t.Errorf("EVAL calls with the script cached = %d, want still 1", n)
	}
	if n := commandCalls(t, c, "evalsha") - evalsha; n != 6 {
		t.Errorf("EVALSHA calls for 6 swaps = %d, want 6 (one round trip each)", n)
	}
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	swap("b", "d")
	if n := commandCalls(t, c, "eval"); n != 2 {
		t.Errorf("EVAL calls after SCRIPT FLUSH = %d, want 2", n)
	}
	if got, err := s.Get(ctx, "k"); err != nil || string(got) != "d" {
		t.Errorf("Get = %q, %v, want %q", got, err, "d")
	}
}

// startSentinel starts a Sentinel watching primary as "authkit".
func startSentinel(t *testing.T, primary *server) *server {
	t.Helper()
	s := &server{t: t, port: freePort(t), dir: t.TempDir()}
	conf := filepath.Join(s.dir, "sentinel.conf")
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\nsentinel monitor authkit 127.0.0.1 %d 1\n",
		s.port, s.dir, filepath.Join(s.dir, "sentinel.log"), primary.port)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	s.args = []string{conf, "--sentinel"}
	s.start()
	t.Cleanup(s.stop)
	return s
}

// TestSentinel runs a primary, a replica and a Sentinel of its own: the
// conformance suite passes through a failover client, Verify accepts it,
// and Verify refuses a ReplicaOnly failover client and a plain client on
// the replica.
func TestSentinel(t *testing.T) {
	t.Parallel()
	primary := startServer(t)
	replica := startServer(t, "--replicaof", "127.0.0.1", strconv.Itoa(primary.port))
	sentinel := startSentinel(t, primary)
	ctx := context.Background()

	failover := func(replicaOnly bool) *redis.Client {
		c := redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:            "authkit",
			SentinelAddrs:         []string{sentinel.addr()},
			ReplicaOnly:           replicaOnly,
			ContextTimeoutEnabled: true,
		})
		t.Cleanup(func() { c.Close() })
		return c
	}

	t.Run("LostReply", func(t *testing.T) {
		ps := newProxies(t)
		a := redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:            "authkit",
			SentinelAddrs:         []string{sentinel.addr()},
			ContextTimeoutEnabled: true,
			ReadTimeout:           10 * time.Second,
			Dialer:                ps.dial,
		})
		t.Cleanup(func() { a.Close() })
		sa, err := redisstore.New(a, redisstore.Config{Prefix: "lost:"})
		if err != nil {
			t.Fatal(err)
		}
		sb, err := redisstore.New(failover(false), redisstore.Config{Prefix: "lost:"})
		if err != nil {
			t.Fatal(err)
		}
		for i, lr := range faultproxy.LostReplies {
			t.Run(lr.Name, func(t *testing.T) {
				runLostReply(t, ps, sa, sb, lr, "k"+strconv.Itoa(i), "lost:")
			})
		}
	})

	t.Run("Conformance", func(t *testing.T) {
		c := failover(false)
		storetest.Run(t, func(t *testing.T) store.Store {
			s, _ := newStore(t, c)
			return s
		})
	})

	t.Run("Verify", func(t *testing.T) {
		s, err := redisstore.New(failover(false), redisstore.Config{Prefix: "sentinel:"})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Verify(ctx); err != nil {
			t.Errorf("Verify(failover client) = %v", err)
		}
	})

	t.Run("ReplicaRefused", func(t *testing.T) {
		plain := faultClient(t, replica.addr())
		s, err := redisstore.New(plain, redisstore.Config{Prefix: "sentinel:"})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Verify(ctx); !errors.Is(err, redisstore.ErrReplicaReads) {
			t.Errorf("Verify(plain client on a replica) = %v, want ErrReplicaReads", err)
		}

		// ReplicaOnly needs the Sentinel to know a healthy replica.
		sc := redis.NewSentinelClient(&redis.Options{Addr: sentinel.addr()})
		defer sc.Close()
		deadline := time.Now().Add(10 * time.Second)
		for {
			rs, err := sc.Replicas(ctx, "authkit").Result()
			if err == nil && len(rs) > 0 && !strings.Contains(rs[0]["flags"], "down") && !strings.Contains(rs[0]["flags"], "disconnected") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the Sentinel did not discover the replica: %v, %v", rs, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		s, err = redisstore.New(failover(true), redisstore.Config{Prefix: "sentinel:"})
		if err != nil {
			t.Fatalf("New(ReplicaOnly failover client) = %v; its options do not show ReplicaOnly, so New should accept it", err)
		}
		if err := s.Verify(ctx); !errors.Is(err, redisstore.ErrReplicaReads) {
			t.Errorf("Verify(ReplicaOnly failover client) = %v, want ErrReplicaReads", err)
		}
	})
}
