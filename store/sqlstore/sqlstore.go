package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authkit/authkit/store"
)

// DefaultCleanupInterval is how often expired rows are deleted when
// [Config.CleanupInterval] is zero.
const DefaultCleanupInterval = time.Minute

// DefaultCleanupBatchSize is how many expired rows one cleanup statement
// deletes at most when [Config.CleanupBatchSize] is zero.
const DefaultCleanupBatchSize = 1000

// Config configures a [Store]. Dialect and Table are required. A Config must
// not be changed after it is passed to [New].
type Config struct {
	// Dialect is the SQL dialect of the database behind the *sql.DB:
	// PostgreSQL, MySQL (also for MariaDB) or SQLite. Required.
	Dialect Dialect

	// Table is the name of the table holding the entries, and should name
	// the application, for example "myapp_auth". Required: authkit's keys
	// ("sess:…", "tok:…") are the same in every application, so two
	// applications sharing a database and a table would share their
	// sessions and tokens. 1 to MaxTableNameLen ASCII letters, digits and
	// underscores, not starting with a digit. It is always quoted, so it
	// may be a reserved word and keeps its case on PostgreSQL.
	Table string

	// CleanupInterval is how often a background goroutine deletes expired
	// rows. Expiry is always enforced by every statement; cleanup only
	// reclaims space. Zero means DefaultCleanupInterval; a negative value
	// disables the loop (call [Store.DeleteExpired] yourself, for example
	// from a cron job, or not at all).
	CleanupInterval time.Duration

	// CleanupBatchSize is how many rows one cleanup DELETE removes at most;
	// cleanup runs batches until one comes back short, so a backlog of a
	// million expired rows is never one giant transaction. Zero means
	// DefaultCleanupBatchSize.
	CleanupBatchSize int

	// MaxRetries is how many times an operation is retried after a
	// transient conflict (an InnoDB deadlock, a busy SQLite database; see
	// the package documentation), with a short jittered pause between
	// attempts. Zero means DefaultMaxRetries; a negative value disables
	// retries.
	MaxRetries int

	// Now returns the current time. Every statement compares expiries
	// with this clock, never the database's. Nil means time.Now.
	Now func() time.Time

	// Logger receives the errors of the background cleanup (at level
	// Warn), which have no caller to return to. Nil means slog.Default(),
	// as everywhere in authkit.
	Logger *slog.Logger
}

// Store is a [store.Store] on a database/sql database. It is safe for
// concurrent use by many goroutines and, through a shared database, by many
// processes. Create it with [New], create its table with [Store.Migrate] (or
// the statements of [Schema]), and call [Store.Close] when done to stop the
// background cleanup.
type Store struct {
	db         *sql.DB
	dialect    Dialect
	table      string
	q          queries
	now        func() time.Time
	maxRetries int
	batch      int
	logger     *slog.Logger

	// onRetry, when set by tests, is called with each error that is about
	// to be retried.
	onRetry func(error)

	// verified is set once Verify has found the table in shape; verifyMu
	// makes the first calls wait for one verification.
	verified atomic.Bool
	verifyMu sync.Mutex

	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

var _ store.Store = (*Store)(nil)

// New returns a Store on db configured by cfg and starts its background
// cleanup (unless disabled). It does no I/O: the table must exist before the
// store is used (see [Store.Migrate]), and the store checks its shape
// before its first use (see [Store.Verify]). New panics if db is nil,
// cfg.Dialect is not one of the Dialect constants, cfg.Table is empty or
// not a safe identifier, or cfg.CleanupBatchSize is negative.
//
// The caller keeps ownership of db: Close does not close it.
func New(db *sql.DB, cfg Config) *Store {
	if db == nil {
		panic("sqlstore: New called with a nil *sql.DB")
	}
	if !cfg.Dialect.valid() {
		panic("sqlstore: Config.Dialect is not PostgreSQL, MySQL or SQLite")
	}
	table := cfg.Table
	if table == "" {
		panic("sqlstore: Config.Table is empty; name the table after the application, for example \"myapp_auth\"")
	}
	if checkTable(table) != nil {
		panic(fmt.Sprintf("sqlstore: Config.Table %q is not 1..%d ASCII letters, digits and underscores starting with a letter or underscore", table, MaxTableNameLen))
	}
	if cfg.CleanupBatchSize < 0 {
		panic("sqlstore: Config.CleanupBatchSize is negative")
	}
	s := &Store{
		db:         db,
		dialect:    cfg.Dialect,
		table:      table,
		q:          buildQueries(cfg.Dialect, table),
		now:        cfg.Now,
		maxRetries: cfg.MaxRetries,
		batch:      cfg.CleanupBatchSize,
		logger:     cfg.Logger,
	}
	if s.now == nil {
		s.now = time.Now
	}
	switch {
	case s.maxRetries == 0:
		s.maxRetries = DefaultMaxRetries
	case s.maxRetries < 0:
		s.maxRetries = 0
	}
	if s.batch == 0 {
		s.batch = DefaultCleanupBatchSize
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	interval := cfg.CleanupInterval
	if interval == 0 {
		interval = DefaultCleanupInterval
	}
	if interval > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		s.cancel = cancel
		s.done = make(chan struct{})
		go s.cleanupLoop(ctx, interval)
	}
	return s
}

// Dialect returns the store's dialect.
func (s *Store) Dialect() Dialect { return s.dialect }

// Table returns the name of the store's table.
func (s *Store) Table() string { return s.table }

// Close stops the background cleanup, interrupting a cleanup statement in
// flight, and waits for it to finish. It does not close the *sql.DB, and the
// store stays usable afterwards. Close is idempotent and always returns nil.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.cancel != nil {
			s.cancel()
			<-s.done
		}
	})
	return nil
}

// Migrate creates the store's table and index if they do not exist, with the
// statements of [Schema], then checks the table's shape with
// [Store.Verify]: a table that existed before with another shape is an
// error wrapping [ErrSchema], which says what is wrong. It is idempotent and
// safe to run from several processes at once: on PostgreSQL, whose
// concurrent CREATE TABLE IF NOT EXISTS can fail on a catalog race, the
// statements run in one transaction under an advisory lock. Migrate never
// alters an existing table.
func (s *Store) Migrate(ctx context.Context) error {
	stmts, err := Schema(s.dialect, s.table)
	if err != nil {
		return err
	}
	if s.dialect == PostgreSQL {
		err = s.retry(ctx, func() error { return s.migratePostgres(ctx, stmts) })
	} else {
		for _, stmt := range stmts {
			if err = s.retry(ctx, func() error {
				_, err := s.db.ExecContext(ctx, stmt)
				return err
			}); err != nil {
				break
			}
		}
	}
	if err != nil {
		// An existing table of another shape can make the index fail
		// (no column expires_at): say what is wrong with the table.
		if verr := s.Verify(ctx); errors.Is(verr, ErrSchema) {
			return verr
		}
		return s.wrapErr(ctx, "migrate", err)
	}
	return s.Verify(ctx)
}

func (s *Store) migratePostgres(ctx context.Context, stmts []string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	// One lock per table name, so migrations of unrelated tables do not
	// wait for each other.
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", "authkit/sqlstore/"+s.table); err != nil {
		return err
	}
	for _, stmt := range stmts {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// wrapErr prefixes err with the operation, keeping it matchable with
// errors.Is. When the context ended, the result also matches the context's
// error: drivers report an interrupted statement in their own words (pgx
// "timeout: i/o timeout", modernc.org/sqlite "interrupted"), sometimes
// before the context itself has noticed that its deadline passed, so a
// network timeout at or after the deadline counts as the deadline's.
func (s *Store) wrapErr(ctx context.Context, op string, err error) error {
	cerr := ctx.Err()
	if cerr == nil && isTimeout(err) {
		if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
			cerr = context.DeadlineExceeded
		}
	}
	if cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("sqlstore: %s: %w: %w", op, err, cerr)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// isTimeout reports whether err is a network timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// nowMillis returns the store clock's current time in Unix milliseconds.
func (s *Store) nowMillis() int64 { return unixMilli(s.now()) }

// The times whose Unix milliseconds are the int64 extremes.
var (
	maxMilliTime = time.UnixMilli(math.MaxInt64)
	minMilliTime = time.UnixMilli(math.MinInt64)
)

// unixMilli returns t in Unix milliseconds, rounded down, clamped to the
// int64 range (time.Time.UnixMilli is undefined beyond it): an expiry
// hundreds of millions of years ahead is kept forever, not wrapped into the
// past.
func unixMilli(t time.Time) int64 {
	switch {
	case t.After(maxMilliTime):
		return math.MaxInt64
	case t.Before(minMilliTime):
		return math.MinInt64
	}
	return t.UnixMilli()
}

// Get implements [store.Store]. An expired row is absent: [store.ErrNotFound].
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := store.CheckKey(key); err != nil {
		return nil, err
	}
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	k := []byte(key)
	var v []byte
	err := s.retry(ctx, func() error {
		return s.db.QueryRowContext(ctx, s.q.get, k, s.nowMillis()).Scan(&v)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, s.wrapErr(ctx, "get", err)
	}
	return v, nil
}

// Set implements [store.Store] with an upsert. An expiresAt at or before now
// (to the millisecond) deletes the key instead.
func (s *Store) Set(ctx context.Context, key string, value []byte, expiresAt time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := store.CheckKey(key); err != nil {
		return err
	}
	if err := store.CheckValue(value); err != nil {
		return err
	}
	if err := store.CheckExpiry(expiresAt); err != nil {
		return err
	}
	if err := s.ready(ctx); err != nil {
		return err
	}
	k, exp := []byte(key), unixMilli(expiresAt)
	err := s.retry(ctx, func() error {
		var err error
		if exp <= s.nowMillis() {
			_, err = s.db.ExecContext(ctx, s.q.del, k)
		} else {
			_, err = s.db.ExecContext(ctx, s.q.set, s.dialect.setArgs(k, value, exp)...)
		}
		return err
	})
	if err != nil {
		return s.wrapErr(ctx, "set", err)
	}
	return nil
}

// Delete implements [store.Store].
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := store.CheckKey(key); err != nil {
		return err
	}
	if err := s.ready(ctx); err != nil {
		return err
	}
	k := []byte(key)
	err := s.retry(ctx, func() error {
		_, err := s.db.ExecContext(ctx, s.q.del, k)
		return err
	})
	if err != nil {
		return s.wrapErr(ctx, "delete", err)
	}
	return nil
}

// CompareAndSwap implements [store.Store]. Each case is a single statement,
// atomic on its own:
//
//   - only if absent: an upsert whose update branch applies only when the
//     existing row has expired;
//   - replace: an UPDATE conditioned on the key, the old value and a live
//     expiry;
//   - delete (empty new, or an expiresAt at or before now): a DELETE with the
//     same conditions;
//   - only if absent, with an expiresAt at or before now: the entry would be
//     absent at once, so the swap only needs to observe that no live row
//     exists, which a SELECT does.
func (s *Store) CompareAndSwap(ctx context.Context, key string, old, new []byte, expiresAt time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := store.CheckCompareAndSwap(key, old, new, expiresAt); err != nil {
		return false, err
	}
	if len(old) == 0 && len(new) == 0 {
		return false, nil
	}
	if err := s.ready(ctx); err != nil {
		return false, err
	}
	k := []byte(key)
	var exp int64
	if len(new) > 0 {
		exp = unixMilli(expiresAt)
	}
	var swapped bool
	err := s.retry(ctx, func() error {
		var err error
		now := s.nowMillis()
		switch {
		case len(old) == 0 && exp <= now:
			swapped, err = s.casAbsent(ctx, k, now)
		case len(old) == 0:
			swapped, err = s.casInsert(ctx, k, new, exp, now)
		case len(new) == 0 || exp <= now:
			swapped, err = s.exec1(ctx, s.q.casDelete, k, old, now)
		default:
			swapped, err = s.casUpdate(ctx, k, old, new, exp, now)
		}
		return err
	})
	if err != nil {
		return false, s.wrapErr(ctx, "compare and swap", err)
	}
	return swapped, nil
}

// casAbsent reports whether no live row exists under k.
func (s *Store) casAbsent(ctx context.Context, k []byte, now int64) (bool, error) {
	var one int
	err := s.db.QueryRowContext(ctx, s.q.live, k, now).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil
	}
	return false, err
}

// casInsert inserts k unless a live row exists, replacing an expired one.
func (s *Store) casInsert(ctx context.Context, k, v []byte, exp, now int64) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.q.casInsert, s.dialect.casInsertArgs(k, v, exp, now)...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	if s.dialect != MySQL {
		return n == 1, nil
	}
	// 1: inserted; 2: an expired row replaced; 0 (or 1 with
	// CLIENT_FOUND_ROWS): a live row left as it was, which the statement
	// signals with a non-zero insert ID (see buildQueries).
	id, err := res.LastInsertId()
	if err != nil {
		return false, err
	}
	return n > 0 && id == 0, nil
}

// casUpdate replaces k's live value old with v.
func (s *Store) casUpdate(ctx context.Context, k, old, v []byte, exp, now int64) (bool, error) {
	if s.dialect != MySQL {
		return s.exec1(ctx, s.q.casUpdate, s.dialect.casUpdateArgs(k, old, v, exp, now)...)
	}
	res, err := s.db.ExecContext(ctx, s.q.casUpdate, s.dialect.casUpdateArgs(k, old, v, exp, now)...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	// A matched row sets the insert ID to 1, also when it was left
	// unchanged and affected rows count it as 0 (see buildQueries).
	id, err := res.LastInsertId()
	if err != nil {
		return false, err
	}
	return n > 0 || id != 0, nil
}

// exec1 runs a statement that affects at most one row and reports whether it
// did.
func (s *Store) exec1(ctx context.Context, query string, args ...any) (bool, error) {
	res, err := s.db.ExecContext(ctx, query, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n > 0, nil
}
