package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"math/rand/v2"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/store/internal/faultproxy"
	"github.com/authkit/authkit/store/storetest"
)

// proxied opens b's database through a faultproxy in front of its server.
func proxied(t *testing.T, b backend) (*sql.DB, *faultproxy.Proxy) {
	t.Helper()
	var driver, dsn, host string
	switch b.dialect {
	case PostgreSQL:
		driver, dsn = "pgx", os.Getenv(envPostgres)
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		host = u.Host
	case MySQL:
		driver, dsn = "mysql", backendDSN(b)
		m := regexp.MustCompile(`tcp\(([^)]*)\)`).FindStringSubmatch(dsn)
		if m == nil {
			t.Skipf("%s names no tcp(host:port) address", envMySQL)
		}
		host = m[1]
	default:
		t.Fatalf("no server behind %s", b.name)
	}
	p, err := faultproxy.New(host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	var through string
	if b.dialect == PostgreSQL {
		u, _ := url.Parse(dsn)
		u.Host = p.Addr()
		through = u.String()
	} else {
		through = regexp.MustCompile(`tcp\([^)]*\)`).ReplaceAllLiteralString(dsn, "tcp("+p.Addr()+")")
	}
	db, err := sql.Open(driver, through)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, p
}

// backendDSN returns the DSN of a MySQL backend, with its parameters.
func backendDSN(b backend) string {
	my := os.Getenv(envMySQL)
	switch b.name {
	case "mysql-foundrows":
		return withParam(my, "clientFoundRows=true")
	case "mysql-interpolate":
		return withParam(my, "interpolateParams=true")
	}
	return my
}

// networked runs f for each backend on a database server.
func networked(t *testing.T, f func(t *testing.T, b backend)) {
	forEachBackend(t, func(t *testing.T, b backend) {
		if b.dialect == SQLite {
			t.Skip("SQLite is in the process: no network between it and the store")
		}
		f(t, b)
	})
}

// lostReply is a write whose reply is lost: A's statement reaches the
// database and commits, the proxy holds its reply, B's write completes
// meanwhile, then A's connection drops. Neither database/sql nor the
// driver nor the store may send A's statement again: B's write must stand.
type lostReply struct {
	name   string
	setup  func(ctx context.Context, b store.Store, k string) error
	write  func(ctx context.Context, a store.Store, k, v string) error
	seen   func(ctx context.Context, b store.Store, k, v string) bool
	second func(ctx context.Context, b store.Store, k, v string) (bool, error)
	want   string // "" absent
}

func inAnHour() time.Time { return time.Now().Add(time.Hour) }

func holds(ctx context.Context, s store.Store, k, v string) bool {
	got, err := s.Get(ctx, k)
	if v == "" {
		return errors.Is(err, store.ErrNotFound)
	}
	return err == nil && string(got) == v
}

var lostReplies = []lostReply{
	{
		name: "Set",
		write: func(ctx context.Context, a store.Store, k, v string) error {
			return a.Set(ctx, k, []byte(v), inAnHour())
		},
		seen: holds,
		second: func(ctx context.Context, b store.Store, k, v string) (bool, error) {
			return b.CompareAndSwap(ctx, k, []byte(v), []byte("new"), inAnHour())
		},
		want: "new",
	},
	{
		name: "Delete",
		setup: func(ctx context.Context, b store.Store, k string) error {
			return b.Set(ctx, k, []byte("old"), inAnHour())
		},
		write: func(ctx context.Context, a store.Store, k, _ string) error { return a.Delete(ctx, k) },
		seen:  func(ctx context.Context, b store.Store, k, _ string) bool { return holds(ctx, b, k, "") },
		second: func(ctx context.Context, b store.Store, k, _ string) (bool, error) {
			return b.CompareAndSwap(ctx, k, nil, []byte("new"), inAnHour())
		},
		want: "new",
	},
	{
		name: "CompareAndSwapIfAbsent",
		write: func(ctx context.Context, a store.Store, k, v string) error {
			_, err := a.CompareAndSwap(ctx, k, nil, []byte(v), inAnHour())
			return err
		},
		seen: holds,
		second: func(ctx context.Context, b store.Store, k, v string) (bool, error) {
			return b.CompareAndSwap(ctx, k, []byte(v), nil, inAnHour())
		},
		want: "",
	},
	{
		name: "CompareAndSwap",
		setup: func(ctx context.Context, b store.Store, k string) error {
			return b.Set(ctx, k, []byte("old"), inAnHour())
		},
		write: func(ctx context.Context, a store.Store, k, v string) error {
			_, err := a.CompareAndSwap(ctx, k, []byte("old"), []byte(v), inAnHour())
			return err
		},
		seen: holds,
		second: func(ctx context.Context, b store.Store, k, v string) (bool, error) {
			return b.CompareAndSwap(ctx, k, []byte(v), []byte("old"), inAnHour())
		},
		want: "old",
	},
}

// TestLostReply runs each lost-reply scenario on PostgreSQL and MariaDB
// (each DSN shape), A's database reaching the server through a proxy that
// holds A's reply and then drops its connection.
func TestLostReply(t *testing.T) {
	networked(t, func(t *testing.T, b backend) {
		dbA, p := proxied(t, b)
		bs := newTestStore(t, b, Config{})
		as := New(dbA, Config{Dialect: b.dialect, Table: bs.Table(), CleanupInterval: -1})
		for _, lr := range lostReplies {
			t.Run(lr.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				k := "lost-" + storetest.UniqueID()
				if lr.setup != nil {
					if err := lr.setup(ctx, bs, k); err != nil {
						t.Fatalf("setup: %v", err)
					}
				}
				// A verifies the table and connects before the proxy is
				// armed; then only A's write carries the key through it.
				if _, err := as.Get(ctx, "warm-up"); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("Get through the proxy = %v", err)
				}
				v := "a-" + storetest.UniqueID()
				held := p.HoldAfter([]byte(k))
				done := make(chan error, 1)
				go func() { done <- lr.write(ctx, as, k, v) }()
				select {
				case <-held:
				case err := <-done:
					t.Fatalf("A's write returned %v before the proxy held its reply", err)
				case <-ctx.Done():
					t.Fatal("the proxy never saw A's write")
				}
				for !lr.seen(ctx, bs, k, v) {
					if ctx.Err() != nil {
						t.Fatal("B never saw A's write applied")
					}
					time.Sleep(time.Millisecond)
				}
				if ok, err := lr.second(ctx, bs, k, v); err != nil || !ok {
					t.Fatalf("B's write = %v, %v, want true", ok, err)
				}
				p.Drop()
				errA := <-done
				if !holds(ctx, bs, k, lr.want) {
					got, err := bs.Get(ctx, k)
					t.Fatalf("after A's connection dropped: Get = %q, %v; want %q: A's write was applied again (A's write returned %v)", got, err, lr.want, errA)
				}
				if errA == nil {
					t.Errorf("A's write returned nil though its reply was lost")
				}
			})
		}
	})
}

// TestLinearizableKilledConnections checks histories of 8 clients on 4
// stores, each on a database of its own through a proxy, on PostgreSQL and
// MariaDB (each DSN shape). Every 5 to 20 ms a connection waiting for a
// reply is dropped.
func TestLinearizableKilledConnections(t *testing.T) {
	rounds := 1
	if v := os.Getenv("AUTHKIT_LINEARIZABILITY_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("AUTHKIT_LINEARIZABILITY_ROUNDS=%q is not a positive number", v)
		}
		rounds = n
	}
	networked(t, func(t *testing.T, b backend) {
		table := newTestStore(t, b, Config{}).Table()
		stores := make([]store.Store, 4)
		proxies := make([]*faultproxy.Proxy, len(stores))
		for i := range stores {
			db, p := proxied(t, b)
			s := New(db, Config{Dialect: b.dialect, Table: table, CleanupInterval: -1})
			if err := s.Verify(context.Background()); err != nil {
				t.Fatal(err)
			}
			stores[i], proxies[i] = s, p
		}
		// A PostgreSQL connection costs a backend process: dropped as
		// often as MariaDB's, reconnecting would take most of the round.
		every, spread := 5*time.Millisecond, 15*time.Millisecond
		if b.dialect == PostgreSQL {
			every, spread = 30*time.Millisecond, 70*time.Millisecond
		}
		storetest.CheckLinearizable(t, storetest.LinearizabilityConfig{
			Rounds: rounds,
			Keys:   6,
			Fault: func(ctx context.Context) {
				faultproxy.Repeat(ctx, func() time.Duration {
					return every + rand.N(spread)
				}, func() { proxies[rand.N(len(proxies))].DropBusy() })
			},
		}, stores...)
	})
}
