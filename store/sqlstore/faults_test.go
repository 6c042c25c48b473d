package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authkit/authkit/store"
)

// fakeErr imitates driver errors by shape, as retryable recognises them.
type (
	pgErr     struct{ state string }
	sqliteErr struct{ code int }
	mysqlErr  struct {
		Number  uint16
		Message string
	}
)

func (e *pgErr) Error() string     { return "pg error " + e.state }
func (e *pgErr) SQLState() string  { return e.state }
func (e *sqliteErr) Error() string { return fmt.Sprintf("sqlite error %d", e.code) }
func (e *sqliteErr) Code() int     { return e.code }
func (e *mysqlErr) Error() string  { return fmt.Sprintf("mysql error %d: %s", e.Number, e.Message) }

func TestRetryableShapes(t *testing.T) {
	cases := []struct {
		d    Dialect
		err  error
		want bool
	}{
		{PostgreSQL, &pgErr{"40P01"}, true},
		{PostgreSQL, fmt.Errorf("wrapped: %w", &pgErr{"40001"}), true},
		{PostgreSQL, &pgErr{"23505"}, false},
		{PostgreSQL, &pgErr{"57014"}, false}, // query_canceled
		{PostgreSQL, errors.New("deadlock detected"), false},
		{MySQL, &mysqlErr{1213, "Deadlock found"}, true},
		{MySQL, fmt.Errorf("wrapped: %w", &mysqlErr{1213, ""}), true},
		{MySQL, errors.Join(errors.New("x"), &mysqlErr{1213, ""}), true},
		{MySQL, &mysqlErr{1205, "Lock wait timeout exceeded"}, false},
		{MySQL, &mysqlErr{1062, "Duplicate entry"}, false},
		{MySQL, errors.New("Error 1213 (40001): Deadlock found when trying to get lock"), true},
		{MySQL, errors.New("Error 12130: something else"), false},
		{MySQL, errors.New("Error 1213: Deadlock found"), true},
		{MySQL, fmt.Errorf("exec: %w", errors.New("Error 1213 (40001): Deadlock")), true},
		{MySQL, errors.New("Duplicate entry 'Error 1213 (40001)' for key"), false},
		{MySQL, errors.New("Error 1205 (HY000): Lock wait timeout exceeded"), false},
		{SQLite, &sqliteErr{5}, true},
		{SQLite, &sqliteErr{5 | 2<<8}, true}, // SQLITE_BUSY_SNAPSHOT
		{SQLite, &sqliteErr{6}, true},
		{SQLite, &sqliteErr{19}, false}, // SQLITE_CONSTRAINT
		{SQLite, errors.New("database is locked"), true},
		{SQLite, errors.New("no such table: x"), false},
		{SQLite, &pgErr{"40P01"}, false},
		{PostgreSQL, &sqliteErr{5}, false},
		{SQLite, fmt.Errorf("%w: %w", context.Canceled, &sqliteErr{5}), false},
		{MySQL, context.DeadlineExceeded, false},
		{MySQL, nil, false},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%v/%v", c.d, c.err), func(t *testing.T) {
			if got := c.d.retryable(c.err); got != c.want {
				t.Fatalf("retryable = %v, want %v", got, c.want)
			}
		})
	}
}

// TestRetryLoop checks the loop itself: transient errors are retried up to
// the limit, others returned at once, and a cancelled context stops it.
func TestRetryLoop(t *testing.T) {
	busy := &sqliteErr{5}
	cases := []struct {
		name       string
		maxRetries int
		fails      int   // how many times f fails before succeeding
		err        error // what f fails with
		wantCalls  int
		wantErr    bool
	}{
		{"success", 0, 0, busy, 1, false},
		{"recovers", 0, 3, busy, 4, false},
		{"gives up", 2, 10, busy, 3, true},
		{"disabled", -1, 10, busy, 1, true},
		{"not transient", 0, 10, errors.New("syntax error"), 1, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := New(&sql.DB{}, Config{Dialect: SQLite, Table: "t", MaxRetries: c.maxRetries, CleanupInterval: -1})
			calls := 0
			err := s.retry(context.Background(), func() error {
				calls++
				if calls <= c.fails {
					return c.err
				}
				return nil
			})
			if calls != c.wantCalls || (err != nil) != c.wantErr {
				t.Fatalf("calls = %d, err = %v; want %d calls, error %v", calls, err, c.wantCalls, c.wantErr)
			}
			if err != nil && !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want it to wrap %v", err, c.err)
			}
		})
	}
	t.Run("cancelled while waiting", func(t *testing.T) {
		s := New(&sql.DB{}, Config{Dialect: SQLite, Table: "t", MaxRetries: 1000, CleanupInterval: -1})
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		err := s.retry(ctx, func() error {
			calls++
			if calls == 3 {
				cancel()
			}
			return busy
		})
		if !errors.Is(err, context.Canceled) || !errors.Is(err, busy) || calls != 3 {
			t.Fatalf("err = %v after %d calls; want context.Canceled wrapping the busy error after 3", err, calls)
		}
	})
}

// TestRetryableRealErrors provokes the transient conflicts on real
// databases and checks that the drivers' errors are recognised.
func TestRetryableRealErrors(t *testing.T) {
	t.Cleanup(func() { closeShared(t) })
	t.Run("sqlite busy", func(t *testing.T) {
		db := openSQLiteNoWait(t)
		s := newTestStoreOn(t, db, SQLite, Config{MaxRetries: -1})
		release := holdSQLiteWriteLock(t, db)
		defer release()
		err := s.Set(context.Background(), "k", []byte("v"), time.Now().Add(time.Hour))
		if err == nil || !SQLite.retryable(err) {
			t.Fatalf("Set while locked = %v, want a retryable busy error", err)
		}
		var coded interface{ Code() int }
		if !errors.As(err, &coded) || coded.Code()&0xff != 5 {
			t.Fatalf("error %v does not carry SQLITE_BUSY", err)
		}
		if !strings.HasPrefix(err.Error(), "sqlstore: set: ") {
			t.Fatalf("error %q lacks the sqlstore prefix", err)
		}
	})
	deadlock := func(t *testing.T, b backend) error {
		s := newTestStore(t, b, Config{})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		exp := time.Now().Add(time.Hour)
		for _, k := range []string{"a", "b"} {
			if err := s.Set(ctx, k, []byte("0"), exp); err != nil {
				t.Fatal(err)
			}
		}
		upd := "UPDATE " + s.dialect.quote(s.table) + " SET v = v WHERE k = ?"
		if b.dialect == PostgreSQL {
			upd = strings.Replace(upd, "?", "$1", 1)
		}
		tx1, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx1.Rollback()
		tx2, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx2.Rollback()
		if _, err := tx1.ExecContext(ctx, upd, []byte("a")); err != nil {
			t.Fatal(err)
		}
		if _, err := tx2.ExecContext(ctx, upd, []byte("b")); err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 2)
		go func() {
			_, err := tx1.ExecContext(ctx, upd, []byte("b"))
			if err != nil {
				tx1.Rollback()
			}
			errc <- err
		}()
		go func() {
			_, err := tx2.ExecContext(ctx, upd, []byte("a"))
			if err != nil {
				tx2.Rollback()
			}
			errc <- err
		}()
		for range 2 {
			if err := <-errc; err != nil {
				return err
			}
		}
		t.Fatal("no deadlock was reported")
		return nil
	}
	for _, b := range backends() {
		if b.name != "postgres" && b.name != "mysql" {
			continue
		}
		t.Run(b.name+" deadlock", func(t *testing.T) {
			err := deadlock(t, b)
			if !b.dialect.retryable(err) {
				t.Fatalf("deadlock error %v (%T) is not recognised as retryable", err, err)
			}
			if b.dialect.retryable(fmt.Errorf("syntax: %w", errors.New("near SELEC"))) {
				t.Fatal("a plain error is retryable")
			}
		})
	}
}

// openSQLiteNoWait opens a SQLite file without a busy timeout, so that a
// locked database fails at once with SQLITE_BUSY.
func openSQLiteNoWait(t *testing.T) *sql.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "busy.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// holdSQLiteWriteLock takes the database's write lock on a connection of its
// own and returns the function that releases it.
func holdSQLiteWriteLock(t *testing.T, db *sql.DB) (release func()) {
	t.Helper()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			if _, err := conn.ExecContext(context.Background(), "COMMIT"); err != nil {
				t.Error(err)
			}
			conn.Close()
		})
	}
}

// TestRetryRecoversFromBusy has the store write while another connection
// holds SQLite's write lock for a moment: the write must succeed after
// retrying, with no busy timeout configured.
func TestRetryRecoversFromBusy(t *testing.T) {
	db := openSQLiteNoWait(t)
	var retries atomic.Int32
	s := newTestStoreOn(t, db, SQLite, Config{})
	s.onRetry = func(error) { retries.Add(1) }
	release := holdSQLiteWriteLock(t, db)
	defer release()
	done := make(chan error, 1)
	go func() {
		ok, err := s.CompareAndSwap(context.Background(), "k", nil, []byte("v"), time.Now().Add(time.Hour))
		if err == nil && !ok {
			err = errors.New("CompareAndSwap reported false on an empty store")
		}
		done <- err
	}()
	// Release the lock once the store has hit it at least once.
	for retries.Load() == 0 {
		select {
		case err := <-done:
			t.Fatalf("CompareAndSwap returned %v before meeting the lock", err)
		case <-time.After(time.Millisecond):
		}
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(context.Background(), "k"); err != nil || string(got) != "v" {
		t.Fatalf("Get = %q, %v", got, err)
	}
}

// TestCancelStopsBlockedQuery blocks a write behind a row lock held by
// another transaction and cancels its context: the call must return with
// the context's error while the lock is still held.
func TestCancelStopsBlockedQuery(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		if b.dialect == SQLite {
			t.Skip("SQLite has no row locks; a locked database is covered by the busy tests")
		}
		s := newTestStore(t, b, Config{})
		bg := context.Background()
		exp := time.Now().Add(time.Hour)
		if err := s.Set(bg, "k", []byte("v"), exp); err != nil {
			t.Fatal(err)
		}
		tx, err := s.db.BeginTx(bg, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		lock := "SELECT v FROM " + s.dialect.quote(s.table) + " WHERE k = ? FOR UPDATE"
		if b.dialect == PostgreSQL {
			lock = strings.Replace(lock, "?", "$1", 1)
		}
		var v []byte
		if err := tx.QueryRowContext(bg, lock, []byte("k")).Scan(&v); err != nil {
			t.Fatal(err)
		}
		calls := []struct {
			name string
			do   func(ctx context.Context) error
		}{
			{"Set", func(ctx context.Context) error { return s.Set(ctx, "k", []byte("w"), exp) }},
			{"CompareAndSwap", func(ctx context.Context) error {
				_, err := s.CompareAndSwap(ctx, "k", []byte("v"), []byte("w"), exp)
				return err
			}},
			{"Delete", func(ctx context.Context) error { return s.Delete(ctx, "k") }},
		}
		for _, c := range calls {
			t.Run(c.name, func(t *testing.T) {
				ctx, cancel := context.WithCancel(bg)
				done := make(chan error, 1)
				go func() { done <- c.do(ctx) }()
				time.Sleep(50 * time.Millisecond)
				select {
				case err := <-done:
					t.Fatalf("%s returned %v while the row was locked", c.name, err)
				default:
				}
				cancel()
				select {
				case err := <-done:
					if !errors.Is(err, context.Canceled) {
						t.Fatalf("%s after cancel = %v, want context.Canceled", c.name, err)
					}
				case <-time.After(20 * time.Second):
					t.Fatalf("%s still blocked 20 s after its context was cancelled", c.name)
				}
			})
		}
		if b.dialect == PostgreSQL {
			// pgx sends the server a cancel request: the statements stop
			// waiting for the lock and are never applied.
			waitNoLockWaiters(t, s)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		// The store still works after its connections were interrupted.
		got, err := s.Get(bg, "k")
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get after cancellations: %v", err)
		}
		// On PostgreSQL the cancelled writes never happened. MySQL and
		// MariaDB finish a statement whose client went away (the driver
		// closes the connection without KILL QUERY), so there the outcome
		// is unknown, as the Store contract allows after a write error.
		if b.dialect == PostgreSQL && string(got) != "v" {
			t.Fatalf("Get after cancellations = %q, %v; want v", got, err)
		}
	})
}

// TestDriverErrorsAreNotNotFound checks that database failures come back
// wrapped and never as store.ErrNotFound: a missing table is ErrSchema
// before the first use; a table dropped after it gives the driver's error.
func TestDriverErrorsAreNotNotFound(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		if b.name != "postgres" && b.name != "mysql" && b.name != "sqlite-file" {
			t.Skip("one configuration per dialect is enough")
		}
		db := b.open(t)
		ctx := context.Background()
		exp := time.Now().Add(time.Hour)
		calls := func(s *Store) []struct {
			prefix string
			err    error
		} {
			return []struct {
				prefix string
				err    error
			}{
				{"sqlstore: get: ", func() error { _, err := s.Get(ctx, "k"); return err }()},
				{"sqlstore: set: ", s.Set(ctx, "k", []byte("v"), exp)},
				{"sqlstore: delete: ", s.Delete(ctx, "k")},
				{"sqlstore: compare and swap: ", func() error { _, err := s.CompareAndSwap(ctx, "k", nil, []byte("v"), exp); return err }()},
				{"sqlstore: compare and swap: ", func() error { _, err := s.CompareAndSwap(ctx, "k", []byte("v"), nil, exp); return err }()},
				{"sqlstore: delete expired: ", func() error { _, err := s.DeleteExpired(ctx); return err }()},
			}
		}
		// A table that does not exist.
		missing := New(db, Config{Dialect: b.dialect, Table: randomTable(), CleanupInterval: -1})
		for _, c := range calls(missing) {
			if !errors.Is(c.err, ErrSchema) || !strings.Contains(c.err.Error(), "does not exist") {
				t.Errorf("on a missing table: error %v, want ErrSchema saying the table does not exist", c.err)
			}
		}
		// A table dropped after the store verified it.
		dropped := newTestStore(t, b, Config{})
		if _, err := dropped.db.Exec("DROP TABLE " + b.dialect.quote(dropped.Table())); err != nil {
			t.Fatal(err)
		}
		for _, c := range calls(dropped) {
			if c.err == nil || errors.Is(c.err, store.ErrNotFound) || errors.Is(c.err, ErrSchema) || !strings.HasPrefix(c.err.Error(), c.prefix) {
				t.Errorf("error %v: want a non-nil error with prefix %q that is not ErrNotFound", c.err, c.prefix)
			}
		}
	})
}

// waitNoLockWaiters waits until no PostgreSQL backend is waiting for a lock
// on behalf of s's table.
func waitNoLockWaiters(t *testing.T, s *Store) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var n int
		err := s.db.QueryRow("SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND position($1 in query) > 0",
			s.table).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d statements still wait for the row lock after their contexts were cancelled", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRetryAfterInnoDBDeadlock makes a store statement part of an InnoDB
// deadlock: another transaction holds a shared lock on the row, the store's
// CompareAndSwap waits for an exclusive one, and the transaction then
// updates the row itself. InnoDB aborts one of the two. When it aborts the
// store's statement, the store must retry it and report the retry's outcome.
func TestRetryAfterInnoDBDeadlock(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		if b.dialect != MySQL {
			t.Skip("InnoDB only")
		}
		s := newTestStore(t, b, Config{})
		var retries atomic.Int32
		s.onRetry = func(err error) { retries.Add(1) }
		bg := context.Background()
		exp := time.Now().Add(time.Hour)
		if err := s.Set(bg, "k", []byte("v"), exp); err != nil {
			t.Fatal(err)
		}
		tbl := s.dialect.quote(s.table)
		tx, err := s.db.BeginTx(bg, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		var v []byte
		if err := tx.QueryRowContext(bg, "SELECT v FROM "+tbl+" WHERE k = ? LOCK IN SHARE MODE", []byte("k")).Scan(&v); err != nil {
			t.Fatal(err)
		}
		type result struct {
			ok  bool
			err error
		}
		done := make(chan result, 1)
		go func() {
			ok, err := s.CompareAndSwap(bg, "k", []byte("v"), []byte("store"), exp)
			done <- result{ok, err}
		}()
		// INNODB_TRX is a cache that InnoDB refreshes only when it was
		// last read over 100 ms ago: poll it more slowly than that.
		waitForEvery(t, "the store's update to wait for the lock", 150*time.Millisecond, func() bool {
			var n int
			if err := s.db.QueryRow("SELECT COUNT(*) FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT' AND LOCATE(?, trx_query) > 0",
				s.table).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n > 0
		})
		_, txErr := tx.ExecContext(bg, "UPDATE "+tbl+" SET v = ? WHERE k = ?", []byte("tx"), []byte("k"))
		if txErr == nil {
			txErr = tx.Commit()
		}
		r := <-done
		if r.err != nil {
			t.Fatalf("CompareAndSwap = %v", r.err)
		}
		got, err := s.Get(bg, "k")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("transaction: %v; store swapped %v after %d retries; value %q", txErr, r.ok, retries.Load(), got)
		if txErr == nil {
			// The store's statement was the victim: retried, it found
			// the transaction's value and did not swap.
			if retries.Load() == 0 || r.ok || string(got) != "tx" {
				t.Fatalf("the transaction won, yet the store retried %d times, swapped %v, value %q", retries.Load(), r.ok, got)
			}
		} else if !b.dialect.retryable(txErr) || !r.ok || string(got) != "store" {
			t.Fatalf("transaction error %v, store swapped %v, value %q", txErr, r.ok, got)
		}
	})
}

// timeoutErr is a network timeout, as a driver reports a connection
// deadline running out.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "read tcp 127.0.0.1:1->127.0.0.1:2: i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// lateCtx is a context whose deadline has passed but whose timer has not
// yet fired: Err is still nil.
type lateCtx struct {
	context.Context
	deadline time.Time
}

func (c lateCtx) Deadline() (time.Time, bool) { return c.deadline, true }

// TestWrapErr checks that an error the context caused matches the
// context's error, whatever the driver called it.
func TestWrapErr(t *testing.T) {
	s := New(&sql.DB{}, Config{Dialect: SQLite, Table: "t", CleanupInterval: -1})
	past := lateCtx{context.Background(), time.Now().Add(-time.Millisecond)}
	future := lateCtx{context.Background(), time.Now().Add(time.Hour)}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	interrupted := errors.New("interrupted (9)") // modernc.org/sqlite's words
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want error // nil: neither context error
	}{
		{"timeout at the deadline, timer not fired", past, timeoutErr{}, context.DeadlineExceeded},
		{"timeout before the deadline", future, timeoutErr{}, nil},
		{"other error at the deadline", past, errors.New("syntax error"), nil},
		{"interrupted by cancellation", cancelled, interrupted, context.Canceled},
		{"already the context's", cancelled, fmt.Errorf("x: %w", context.Canceled), context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.wrapErr(tt.ctx, "get", tt.err)
			if !errors.Is(got, tt.err) || !strings.HasPrefix(got.Error(), "sqlstore: get: ") {
				t.Errorf("wrapErr = %v, which does not wrap %v with the operation", got, tt.err)
			}
			for _, ce := range []error{context.DeadlineExceeded, context.Canceled} {
				if errors.Is(got, ce) != (ce == tt.want) {
					t.Errorf("wrapErr = %v: errors.Is(%v) = %v", got, ce, ce != tt.want)
				}
			}
		})
	}
}
