// Package sqlstore implements [store.Store] on a database/sql database:
// PostgreSQL, MySQL, MariaDB or SQLite. Sessions and tokens kept in the
// application's own database are shared by every server behind a load
// balancer, survive restarts, and need no extra service.
//
// The package imports no driver: the application opens the *sql.DB with the
// driver of its choice and names the [Dialect]. Tested drivers are
// github.com/jackc/pgx/v5/stdlib, github.com/go-sql-driver/mysql and
// modernc.org/sqlite (pure Go, driver name "sqlite").
//
//	db, err := sql.Open("pgx", "postgres://app@db.internal/app")
//	…
//	st := sqlstore.New(db, sqlstore.Config{Dialect: sqlstore.PostgreSQL, Table: "myapp_auth"})
//	defer st.Close()
//	if err := st.Migrate(ctx); err != nil { … }
//
// # Supported databases
//
// PostgreSQL 13 or later, MySQL 8.0 or later, MariaDB 10.6 or later, and
// SQLite 3.35 or later (modernc.org/sqlite v1.62 ships 3.54). Point the
// store at the primary, never at a read replica: the [store.Store] contract
// is linearizable per key, so a read must see every completed write.
//
// # The table
//
// Entries live in one table, named by [Config.Table], with three columns:
// the key k, the value v and the expiry expires_at in Unix milliseconds,
// indexed. The table name is required and should name the application:
// authkit's keys ("sess:…", "tok:…") are the same in every application, so
// two applications sharing a database and a table would share sessions and
// tokens. [Store.Migrate] creates the table and index if they are missing;
// applications that manage their schema with their own tool take the
// statements from [Schema] instead. On PostgreSQL, for a table "myapp_auth":
//
//	CREATE TABLE IF NOT EXISTS "myapp_auth" (
//		k BYTEA PRIMARY KEY,
//		v BYTEA NOT NULL,
//		expires_at BIGINT NOT NULL
//	);
//	CREATE INDEX IF NOT EXISTS "myapp_auth_expires_at_idx" ON "myapp_auth" (expires_at);
//
// On MySQL and MariaDB:
//
//	CREATE TABLE IF NOT EXISTS `myapp_auth` (
//		k VARBINARY(255) NOT NULL,
//		v MEDIUMBLOB NOT NULL,
//		expires_at BIGINT NOT NULL,
//		PRIMARY KEY (k),
//		INDEX `myapp_auth_expires_at_idx` (expires_at)
//	) ENGINE=InnoDB;
//
// On SQLite:
//
//	CREATE TABLE IF NOT EXISTS "myapp_auth" (
//		k BLOB NOT NULL PRIMARY KEY,
//		v BLOB NOT NULL,
//		expires_at INTEGER NOT NULL
//	);
//	CREATE INDEX IF NOT EXISTS "myapp_auth_expires_at_idx" ON "myapp_auth" (expires_at);
//
// Before its first use, and in Migrate, the store checks the table it finds
// ([Store.Verify]): k must be the whole primary key, and the columns must
// have the types above (or equivalents: BIGINT spelled INT8, a longer
// VARBINARY, LONGBLOB, any declared type of the same SQLite affinity); other
// columns are allowed. A table of another shape — left by an older tool, or
// created by hand — is refused with [ErrSchema], which says what is wrong,
// and is never used: without the primary key, two "create only if absent"
// swaps of one key would both succeed, and everything authkit builds on
// them (one refresh per token, one use per one-time token) would stop
// holding.
//
// Keys are byte strings, not text, so they compare byte for byte: MySQL's
// default collations would fold "Key" and "key" together (and ignore
// trailing spaces), and PostgreSQL text refuses some bytes. Values are
// MEDIUMBLOB on MySQL because a BLOB holds only 64 KiB, less than
// [store.MaxValueSize]. Expiries are integers because DATETIME rounds to
// seconds and TIMESTAMP ends in 2038.
//
// # Configuring each database
//
// PostgreSQL needs nothing special. With pgx, a cancelled context makes the
// driver send the server a cancel request, so a statement stuck behind a lock
// is aborted on the server too.
//
// MySQL and MariaDB, with go-sql-driver/mysql: parseTime is not needed (no
// column is a date), and clientFoundRows may be on or off — the store does not
// rely on affected-row counts where that setting changes them (see
// CompareAndSwap below). interpolateParams=true saves a round trip per
// statement (the driver otherwise prepares and closes a server-side statement
// for each call) and is safe with the default utf8mb4 connection charset.
// max_allowed_packet must comfortably exceed [store.MaxValueSize]: a write
// sends the value twice (see Set below), and with interpolateParams escaped
// in the statement text, up to 4 MiB in all. The defaults (16 MiB on
// MariaDB, 64 MiB on MySQL 8) are ample. On cancellation the driver returns at once
// but closes the connection without a KILL QUERY, so the server may still
// finish a statement that was waiting for a row lock: the outcome of a
// cancelled write is unknown, as the store contract allows for any failed
// write. A DSN parameter such as innodb_lock_wait_timeout=5 bounds how long
// such a statement can wait.
//
// SQLite, with modernc.org/sqlite: use a file in WAL mode with a busy
// timeout, so that readers never block the writer and concurrent writers wait
// for each other instead of failing:
//
//	db, err := sql.Open("sqlite", "file:/var/lib/app/auth.db?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
//
// Every connection to ":memory:" opens a database of its own, so an
// in-memory database needs db.SetMaxOpenConns(1) (and loses its contents if
// that connection is ever closed); it suits tests and single-process
// programs. A SQLite file is shared by the processes of one machine only.
//
// # Time
//
// Every statement compares expires_at with the current time of the
// application, passed in as a parameter from [Config.Now] — never with the
// database's clock. All servers of a deployment then agree with the
// application's own idea of "now" (the same clock that computed the
// expiresAt they pass in), and tests can control time. The application
// servers' clocks should be synchronised (NTP): a server whose clock runs
// ahead sees entries expire early. Expiries are stored to the millisecond,
// rounded down, so an entry never outlives its expiresAt; one whose
// expiresAt lies within the current millisecond is already absent.
//
// # Operations
//
// Get is one SELECT of a row whose expiry is still ahead. Set is one upsert
// (INSERT … ON CONFLICT DO UPDATE on PostgreSQL and SQLite, INSERT … ON
// DUPLICATE KEY UPDATE on MySQL), or a DELETE when expiresAt has already
// passed. On MySQL the upsert binds the new value twice rather than use
// VALUES(), deprecated since MySQL 8.0.20, or a row alias, which MariaDB
// lacks: the same statements run on both. Delete is one DELETE.
//
// CompareAndSwap is one statement per case, atomic on its own, and treats an
// expired row as absent: "only if absent" is an upsert whose update branch
// fires only over an expired row; "replace" is an UPDATE … WHERE k = ? AND
// v = old AND expires_at > now; "delete" is the matching DELETE. On MySQL
// the affected-row count cannot distinguish an insert from a live row left
// untouched when clientFoundRows is on, nor an unchanged match (new == old,
// same expiry) from a mismatch when it is off; so those statements call
// LAST_INSERT_ID(1) exactly in the branch that matters, and the store reads
// the outcome from the statement's insert ID, which is correct with either
// setting.
//
// # Retries
//
// Under concurrent writers InnoDB may abort a statement as a deadlock victim
// (error 1213) and SQLite may report SQLITE_BUSY or SQLITE_LOCKED; PostgreSQL
// can report a deadlock (40P01) or serialization failure (40001). Such a
// statement had no effect, so the store runs it again, up to
// [Config.MaxRetries] times with a short jittered pause, stopping early when
// the context ends. No other error is retried by the store: not a network
// error, not a timeout, not a cancellation. As the package imports no driver, it recognises these
// errors by shape: a uint16 field Number (go-sql-driver's MySQLError), a
// SQLState() method (pgx, lib/pq) or a Code() method (modernc.org/sqlite),
// with the drivers' message texts as a fallback. Other errors are returned
// wrapped ("sqlstore: get: …"); only a missing row becomes
// [store.ErrNotFound]. An error caused by the context matches its error,
// [context.DeadlineExceeded] or [context.Canceled], whatever words the
// driver used for it.
//
// # Network faults
//
// A write whose reply is lost — the connection breaks or times out after
// the statement was sent — may have been committed; the caller gets an
// error and the outcome is unknown, as the [store.Store] contract says.
// What matters is that nothing sends the statement a second time: a copy
// arriving after another server's write would undo it (a session revoked
// in between would come back). Each write is one statement in autocommit
// mode, and nothing re-sends it:
//
//   - The store retries only the transient conflicts above, which roll the
//     statement back.
//   - database/sql runs a statement again (up to twice more) only when the
//     driver returns driver.ErrBadConn, which a driver may return only when
//     the statement did not reach the server.
//   - github.com/jackc/pgx/v5/stdlib returns driver.ErrBadConn for a
//     connection already closed or busy, or a context already done, before
//     anything is sent (pgconn.SafeToRetry); an error while writing the
//     statement or reading its result is returned as it is.
//   - github.com/go-sql-driver/mysql returns driver.ErrBadConn when the
//     connection was closed before the call, when its liveness check of a
//     pooled connection fails before the statement, when the first packet
//     of a command failed to be written with no byte sent, and (with
//     rejectReadOnly=true) when the server refused the write as read-only;
//     a failure after the command was sent is "invalid connection" and is
//     not retried. The same holds with interpolateParams=true (one query
//     packet) and without it (PREPARE, which is safe to repeat, then
//     EXECUTE), with clientFoundRows on or off.
//   - modernc.org/sqlite runs inside the process: there is no network
//     between the store and the database.
//
// A cancelled or timed-out statement may still finish on the server after
// the call returned (pgx asks the server to cancel it, go-sql-driver/mysql
// closes the connection): it takes effect at most once, possibly after the
// error. The package's tests hold a write's reply back in a TCP proxy in
// front of PostgreSQL and MariaDB while another client writes, then drop
// the connection, and check histories of concurrent calls for
// linearizability while the proxy drops connections.
//
// # Cleanup
//
// Expired rows are invisible at once but take space until deleted. A
// background goroutine, every [Config.CleanupInterval], deletes them in
// batches of [Config.CleanupBatchSize] rows, one short statement per batch,
// so that a backlog of a million expired rows never becomes one giant
// transaction. Each DELETE re-checks the expiry itself, so a row refreshed
// meanwhile survives. Every server of a deployment may run the loop: on
// PostgreSQL concurrent sweepers skip each other's rows (FOR UPDATE SKIP
// LOCKED), elsewhere they merely repeat work. [Store.Close] stops the loop;
// [Store.DeleteExpired] runs a cleanup on demand, for applications that
// disable the loop and sweep from a scheduled job instead.
package sqlstore
