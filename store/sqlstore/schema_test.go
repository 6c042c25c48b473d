package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSchema(t *testing.T) {
	for _, d := range []Dialect{PostgreSQL, MySQL, SQLite} {
		t.Run(d.String(), func(t *testing.T) {
			stmts, err := Schema(d, "Sessions")
			if err != nil {
				t.Fatal(err)
			}
			all := strings.Join(stmts, ";\n")
			want := map[Dialect][]string{
				PostgreSQL: {`"Sessions"`, "k BYTEA PRIMARY KEY", "v BYTEA NOT NULL", "expires_at BIGINT NOT NULL",
					`CREATE INDEX IF NOT EXISTS "Sessions_expires_at_idx"`},
				MySQL: {"`Sessions`", "k VARBINARY(255) NOT NULL", "v MEDIUMBLOB NOT NULL", "expires_at BIGINT NOT NULL",
					"PRIMARY KEY (k)", "INDEX `Sessions_expires_at_idx` (expires_at)", "ENGINE=InnoDB"},
				SQLite: {`"Sessions"`, "k BLOB NOT NULL PRIMARY KEY", "v BLOB NOT NULL", "expires_at INTEGER NOT NULL",
					`CREATE INDEX IF NOT EXISTS "Sessions_expires_at_idx"`},
			}[d]
			for _, w := range want {
				if !strings.Contains(all, w) {
					t.Errorf("schema lacks %q:\n%s", w, all)
				}
			}
			for _, stmt := range stmts {
				if !strings.Contains(stmt, "IF NOT EXISTS") {
					t.Errorf("statement is not idempotent: %s", stmt)
				}
			}
			if def, err := Schema(d, ""); !errors.Is(err, ErrInvalidTable) {
				t.Fatalf("Schema with an empty table = %q, %v; want ErrInvalidTable", def, err)
			}
		})
	}
	t.Run("invalid dialect", func(t *testing.T) {
		if _, err := Schema(Dialect(0), "t"); err == nil {
			t.Fatal("Schema(Dialect(0)) succeeded")
		}
		if _, err := Schema(Dialect(4), "t"); err == nil {
			t.Fatal("Schema(Dialect(4)) succeeded")
		}
	})
}

func TestTableNames(t *testing.T) {
	cases := []struct {
		name string
		ok   bool
	}{
		{"authkit_store", true},
		{"_x", true},
		{"A1", true},
		{"select", true}, // reserved words are fine: names are quoted
		{strings.Repeat("t", MaxTableNameLen), true},
		{strings.Repeat("t", MaxTableNameLen+1), false},
		{"1abc", false},
		{"a-b", false},
		{"a b", false},
		{"a;DROP TABLE x", false},
		{`a"b`, false},
		{"a`b", false},
		{"schema.table", false},
		{"tåble", false},
		{"a\x00", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, d := range []Dialect{PostgreSQL, MySQL, SQLite} {
				_, err := Schema(d, c.name)
				if (err == nil) != c.ok {
					t.Fatalf("Schema(%v, %q) error = %v, want ok=%v", d, c.name, err, c.ok)
				}
				if err != nil && !errors.Is(err, ErrInvalidTable) {
					t.Fatalf("error %v does not wrap ErrInvalidTable", err)
				}
			}
		})
	}
}

func TestNewPanics(t *testing.T) {
	db := &sql.DB{}
	cases := []struct {
		name string
		db   *sql.DB
		cfg  Config
	}{
		{"nil db", nil, Config{Dialect: SQLite}},
		{"no dialect", db, Config{}},
		{"unknown dialect", db, Config{Dialect: 9}},
		{"no table", db, Config{Dialect: SQLite}},
		{"bad table", db, Config{Dialect: SQLite, Table: "a;b"}},
		{"negative batch", db, Config{Dialect: SQLite, Table: "t", CleanupBatchSize: -1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil {
					t.Fatal("New did not panic")
				}
				if msg, _ := r.(string); !strings.HasPrefix(msg, "sqlstore: ") {
					t.Fatalf("panic %v lacks the sqlstore prefix", r)
				}
			}()
			New(c.db, c.cfg)
		})
	}
	s := New(db, Config{Dialect: MySQL, Table: "t", CleanupInterval: -1})
	if s.Table() != "t" || s.Dialect() != MySQL || s.maxRetries != DefaultMaxRetries || s.batch != DefaultCleanupBatchSize {
		t.Fatalf("defaults not applied: table %q dialect %v retries %d batch %d", s.Table(), s.Dialect(), s.maxRetries, s.batch)
	}
}

func TestMigrate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		if b.name == "mysql-foundrows" || b.name == "mysql-interpolate" {
			t.Skip("one configuration per dialect is enough")
		}
		db := b.open(t)
		table := randomTable()
		s := New(db, Config{Dialect: b.dialect, Table: table, CleanupInterval: -1})
		t.Cleanup(func() { db.Exec("DROP TABLE IF EXISTS " + b.dialect.quote(table)) })
		ctx := context.Background()
		// Several processes starting at once all migrate.
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = New(db, Config{Dialect: b.dialect, Table: table, CleanupInterval: -1}).Migrate(ctx)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("concurrent Migrate: %v", err)
			}
		}
		if err := s.Set(ctx, "k", []byte("v"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if got, err := s.Get(ctx, "k"); err != nil || string(got) != "v" {
			t.Fatalf("Get after a second Migrate = %q, %v; want v", got, err)
		}
	})
}

func TestDeleteExpired(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		c := newClock()
		s := newTestStore(t, b, Config{Now: c.Now, CleanupBatchSize: 3})
		ctx := context.Background()
		for i := range 10 {
			if err := s.Set(ctx, "old"+string(rune('a'+i)), []byte("x"), c.After(time.Duration(i+1)*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 5 {
			if err := s.Set(ctx, "new"+string(rune('a'+i)), []byte("y"), c.After(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := s.DeleteExpired(ctx); n != 0 || err != nil {
			t.Fatalf("DeleteExpired with nothing expired = %d, %v", n, err)
		}
		c.Add(10 * time.Second)
		// A row refreshed after it expired is live again and kept.
		if err := s.Set(ctx, "olda", []byte("z"), c.After(time.Hour)); err != nil {
			t.Fatal(err)
		}
		n, err := s.DeleteExpired(ctx)
		if n != 9 || err != nil {
			t.Fatalf("DeleteExpired = %d, %v; want 9 rows in batches of 3", n, err)
		}
		if got := count(t, s); got != 6 {
			t.Fatalf("%d rows left, want 6", got)
		}
		if got, err := s.Get(ctx, "olda"); err != nil || string(got) != "z" {
			t.Fatalf("refreshed row = %q, %v", got, err)
		}
		if got, err := s.Get(ctx, "newe"); err != nil || string(got) != "y" {
			t.Fatalf("live row = %q, %v", got, err)
		}
	})
}

// syncBuffer is a bytes.Buffer safe for the cleanup goroutine's logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestCleanupLoop(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		if b.name == "mysql-foundrows" || b.name == "mysql-interpolate" {
			t.Skip("one configuration per dialect is enough")
		}
		c := newClock()
		s := newTestStore(t, b, Config{Now: c.Now, CleanupInterval: 5 * time.Millisecond, CleanupBatchSize: 2})
		ctx := context.Background()
		for _, k := range []string{"a", "b", "c", "d", "e"} {
			if err := s.Set(ctx, k, []byte("v"), c.After(time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Set(ctx, "live", []byte("v"), c.After(time.Hour)); err != nil {
			t.Fatal(err)
		}
		c.Add(time.Second)
		waitFor(t, "the cleanup loop to delete expired rows", func() bool { return count(t, s) == 1 })
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s.Close() // idempotent
		// Closed: the loop no longer runs, but the store still works.
		if err := s.Set(ctx, "f", []byte("v"), c.After(time.Second)); err != nil {
			t.Fatal(err)
		}
		c.Add(time.Second)
		time.Sleep(50 * time.Millisecond)
		if got := count(t, s); got != 2 {
			t.Fatalf("%d rows after Close, want 2: the loop still runs", got)
		}
	})
}

func TestCleanupLogsErrors(t *testing.T) {
	var buf syncBuffer
	db := backends()[len(backends())-1].open(t)
	// No Migrate: the table does not exist, so every cleanup fails.
	s := New(db, Config{
		Dialect:         SQLite,
		Table:           "missing",
		CleanupInterval: 5 * time.Millisecond,
		Logger:          slog.New(slog.NewTextHandler(&buf, nil)),
	})
	defer s.Close()
	waitFor(t, "a logged cleanup failure", func() bool { return strings.Contains(buf.String(), "does not exist") })
	if out := buf.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "table=missing") {
		t.Fatalf("log = %q, want a warning naming the table", out)
	}
}

// waitFor polls cond until it holds, failing the test after 20 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitForEvery(t, what, 5*time.Millisecond, cond)
}

// waitForEvery is waitFor polling every interval.
func waitForEvery(t *testing.T, what string, interval time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(interval)
	}
}
