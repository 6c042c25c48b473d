package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"github.com/authkit/authkit/internal/clocktest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

// Environment variables naming the database servers the tests run against.
const (
	envPostgres = "AUTHKIT_POSTGRES_DSN"
	envMySQL    = "AUTHKIT_MYSQL_DSN"
)

// backend is one database configuration the tests run against.
type backend struct {
	name    string
	dialect Dialect
	// open returns a database for one store. Server backends share one
	// *sql.DB per top-level test; SQLite backends open a fresh database.
	open func(t testing.TB) *sql.DB
}

// sqliteFileDSN is the DSN the package documentation recommends for a
// SQLite file: WAL and a busy timeout.
func sqliteFileDSN(path string) string {
	return "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"
}

// sharedDB opens dsn once per top-level test and closes it when that test
// ends. An unreachable server fails the test.
type sharedDB struct {
	mu  sync.Mutex
	dbs map[string]*sql.DB
}

var shared = &sharedDB{dbs: map[string]*sql.DB{}}

func openServer(t testing.TB, driver, dsn string) *sql.DB {
	root := rootName(t)
	key := root + "\x00" + driver + "\x00" + dsn
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if db, ok := shared.dbs[key]; ok {
		return db
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("open %s: %v", driver, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		t.Fatalf("%s server is unreachable: %v", driver, err)
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	shared.dbs[key] = db
	return db
}

// closeShared closes the databases opened for the top-level test t.
func closeShared(t testing.TB) {
	root := t.Name() + "\x00"
	shared.mu.Lock()
	defer shared.mu.Unlock()
	for k, db := range shared.dbs {
		if strings.HasPrefix(k, root) {
			db.Close()
			delete(shared.dbs, k)
		}
	}
}

func rootName(t testing.TB) string {
	name, _, _ := strings.Cut(t.Name(), "/")
	return name
}

// withParam appends a query parameter to a go-sql-driver DSN.
func withParam(dsn, param string) string {
	if dsn == "" {
		return ""
	}
	if strings.Contains(dsn, "?") {
		return dsn + "&" + param
	}
	return dsn + "?" + param
}

// backends returns every backend. Server backends whose variable is unset
// skip the test that uses them, naming the variable.
func backends() []backend {
	pg := os.Getenv(envPostgres)
	my := os.Getenv(envMySQL)
	server := func(driver, dsn, env string) func(t testing.TB) *sql.DB {
		return func(t testing.TB) *sql.DB {
			t.Helper()
			if dsn == "" {
				t.Skipf("%s is not set", env)
			}
			return openServer(t, driver, dsn)
		}
	}
	return []backend{
		{"postgres", PostgreSQL, server("pgx", pg, envPostgres)},
		{"mysql", MySQL, server("mysql", my, envMySQL)},
		{"mysql-foundrows", MySQL, server("mysql", withParam(my, "clientFoundRows=true"), envMySQL)},
		{"mysql-interpolate", MySQL, server("mysql", withParam(my, "interpolateParams=true"), envMySQL)},
		{"sqlite-file", SQLite, func(t testing.TB) *sql.DB {
			db, err := sql.Open("sqlite", sqliteFileDSN(filepath.Join(t.TempDir(), "store.db")))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}},
		{"sqlite-memory", SQLite, func(t testing.TB) *sql.DB {
			db, err := sql.Open("sqlite", ":memory:")
			if err != nil {
				t.Fatal(err)
			}
			// Each connection to :memory: is its own database.
			db.SetMaxOpenConns(1)
			t.Cleanup(func() { db.Close() })
			return db
		}},
	}
}

// forEachBackend runs f as a subtest per backend.
func forEachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	t.Cleanup(func() { closeShared(t) })
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			if b.dialect != SQLite {
				// Skip (variable unset) or fail (server unreachable)
				// once here rather than in every subtest.
				b.open(t)
			}
			f(t, b)
		})
	}
}

// randomTable returns a table name no other test uses.
func randomTable() string {
	var b [6]byte
	rand.Read(b[:])
	return "authkit_test_" + hex.EncodeToString(b[:])
}

// clock is a settable clock for Config.Now, at whole milliseconds as the
// store keeps expiries.
type clock struct{ *clocktest.Clock }

func newClock() *clock {
	return &clock{clocktest.New(time.UnixMilli(time.Now().UnixMilli()))}
}

// After returns the clock's time plus d.
func (c *clock) After(d time.Duration) time.Time { return c.Now().Add(d) }

// newTestStore returns a migrated store on a fresh table of b, dropped when
// the test ends. cfg.Dialect and cfg.Table are filled in; the cleanup loop is
// off unless cfg sets an interval.
func newTestStore(t testing.TB, b backend, cfg Config) *Store {
	t.Helper()
	db := b.open(t)
	return newTestStoreOn(t, db, b.dialect, cfg)
}

func newTestStoreOn(t testing.TB, db *sql.DB, d Dialect, cfg Config) *Store {
	t.Helper()
	cfg.Dialect = d
	if cfg.Table == "" {
		cfg.Table = randomTable()
	}
	if cfg.CleanupInterval == 0 {
		cfg.CleanupInterval = -1
	}
	s := New(db, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	t.Cleanup(func() {
		s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+d.quote(s.table)); err != nil {
			t.Errorf("drop table %s: %v", s.table, err)
		}
	})
	return s
}

// count returns the number of rows in s's table, expired ones included.
func count(t testing.TB, s *Store) int {
	t.Helper()
	var n int
	if err := s.db.QueryRow("SELECT COUNT(*) FROM " + s.dialect.quote(s.table)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
