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

// TestLostReply runs each lost-reply scenario on PostgreSQL and MariaDB
// (each DSN shape), A's database reaching the server through a proxy that
// holds A's reply and then drops its connection.
func TestLostReply(t *testing.T) {
	networked(t, func(t *testing.T, b backend) {
		dbA, p := proxied(t, b)
		bs := newTestStore(t, b, Config{})
		as := New(dbA, Config{Dialect: b.dialect, Table: bs.Table(), CleanupInterval: -1})
		for _, lr := range faultproxy.LostReplies {
			t.Run(lr.Name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				k := "lost-" + storetest.UniqueID()
				if lr.Setup != nil {
					if err := lr.Setup(ctx, bs, k); err != nil {
						t.Fatalf("setup: %v", err)
					}
				}
				// A verifies the table and connects before the proxy is
				// armed; then only A's write carries the key through it.
				if _, err := as.Get(ctx, "warm-up"); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("Get through the proxy = %v", err)
				}
				lr.Run(ctx, t, as, bs, k, func() <-chan struct{} { return p.HoldAfter([]byte(k)) }, p.Drop)
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
