package sqlstore

import (
	"errors"
	"fmt"
	"strconv"
)

// Dialect selects the SQL spoken to the database. The zero value is invalid:
// every [Config] names its dialect explicitly.
type Dialect int

const (
	// PostgreSQL is PostgreSQL 13 or later, for example through
	// github.com/jackc/pgx/v5/stdlib.
	PostgreSQL Dialect = iota + 1
	// MySQL is MySQL 8.0 or later, or MariaDB 10.6 or later, for example
	// through github.com/go-sql-driver/mysql. Both flavours get the same
	// statements: none of them uses VALUES() in ON DUPLICATE KEY UPDATE
	// (deprecated by MySQL 8.0.20) or a row alias (missing from MariaDB).
	MySQL
	// SQLite is SQLite 3.35 or later, for example through modernc.org/sqlite.
	SQLite
)

// String returns the dialect's name: "postgresql", "mysql" or "sqlite".
func (d Dialect) String() string {
	switch d {
	case PostgreSQL:
		return "postgresql"
	case MySQL:
		return "mysql"
	case SQLite:
		return "sqlite"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

func (d Dialect) valid() bool { return d == PostgreSQL || d == MySQL || d == SQLite }

// DefaultTable was the table name used when [Config.Table] was empty.
//
// Deprecated: name the table after the application: two applications
// sharing a database and this table would share sessions and tokens.
// [Config.Table] is required, and [Schema] no longer falls back to it.
const DefaultTable = "authkit_store"

// MaxTableNameLen is the longest table name accepted. It leaves room for the
// "_expires_at_idx" suffix of the index name within the 63-byte identifier
// limit of PostgreSQL (64 on MySQL).
const MaxTableNameLen = 48

// ErrInvalidTable is returned by [Schema] for a table name that is not a safe
// identifier (see [Config.Table]).
var ErrInvalidTable = errors.New("sqlstore: invalid table name")

// errInvalidDialect is returned by Schema for a Dialect that is not one of
// the constants.
var errInvalidDialect = errors.New("sqlstore: invalid dialect")

// checkTable reports whether name is 1..MaxTableNameLen bytes of ASCII
// letters, digits and underscores, not starting with a digit. Such a name
// needs no escaping inside the quotes every statement puts around it.
func checkTable(name string) error {
	if len(name) == 0 || len(name) > MaxTableNameLen {
		return ErrInvalidTable
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return ErrInvalidTable
		}
	}
	return nil
}

// quote returns the identifier quoted for d. The identifier has passed
// checkTable, so it contains no quote characters.
func (d Dialect) quote(ident string) string {
	if d == MySQL {
		return "`" + ident + "`"
	}
	return `"` + ident + `"`
}

// Schema returns the statements that create the store's table and its expiry
// index for dialect d, each idempotent (IF NOT EXISTS). [Store.Migrate] runs
// exactly these; they are exported for applications that manage their schema
// with their own migration tool. The table has three columns:
//
//   - k: the key, a byte string (BYTEA, VARBINARY(255), BLOB) so that keys
//     compare byte for byte — no collation folds case or trailing spaces;
//   - v: the value (BYTEA, MEDIUMBLOB, BLOB; on MySQL a BLOB would hold only
//     64 KiB, a MEDIUMBLOB holds 16 MiB);
//   - expires_at: the expiry in Unix milliseconds (BIGINT), indexed for the
//     cleanup of expired rows.
//
// Schema returns [ErrInvalidTable] for an empty table name, or one that is
// not a safe identifier.
func Schema(d Dialect, table string) ([]string, error) {
	if !d.valid() {
		return nil, fmt.Errorf("%w: %v", errInvalidDialect, d)
	}
	if err := checkTable(table); err != nil {
		return nil, err
	}
	t := d.quote(table)
	idx := d.quote(table + "_expires_at_idx")
	switch d {
	case PostgreSQL:
		return []string{
			"CREATE TABLE IF NOT EXISTS " + t + " (\n" +
				"\tk BYTEA PRIMARY KEY,\n" +
				"\tv BYTEA NOT NULL,\n" +
				"\texpires_at BIGINT NOT NULL\n" +
				")",
			"CREATE INDEX IF NOT EXISTS " + idx + " ON " + t + " (expires_at)",
		}, nil
	case MySQL:
		return []string{
			"CREATE TABLE IF NOT EXISTS " + t + " (\n" +
				"\tk VARBINARY(255) NOT NULL,\n" +
				"\tv MEDIUMBLOB NOT NULL,\n" +
				"\texpires_at BIGINT NOT NULL,\n" +
				"\tPRIMARY KEY (k),\n" +
				"\tINDEX " + idx + " (expires_at)\n" +
				") ENGINE=InnoDB",
		}, nil
	default: // SQLite
		return []string{
			"CREATE TABLE IF NOT EXISTS " + t + " (\n" +
				"\tk BLOB NOT NULL PRIMARY KEY,\n" +
				"\tv BLOB NOT NULL,\n" +
				"\texpires_at INTEGER NOT NULL\n" +
				")",
			"CREATE INDEX IF NOT EXISTS " + idx + " ON " + t + " (expires_at)",
		}, nil
	}
}

// queries holds the statements of one store, built once for its dialect and
// table. Arguments are always bound, never formatted in; keys and values are
// always bound as []byte so that SQLite stores and compares them as BLOBs.
type queries struct {
	get       string // k, now → v
	live      string // k, now → 1 if a live row exists
	set       string // see setArgs
	del       string // k
	casInsert string // see casInsertArgs
	casUpdate string // see casUpdateArgs
	casDelete string // k, old, now
	cleanup   string // see cleanupArgs
}

func buildQueries(d Dialect, table string) queries {
	t := d.quote(table)
	if d == PostgreSQL {
		return queries{
			get:  "SELECT v FROM " + t + " WHERE k = $1 AND expires_at > $2",
			live: "SELECT 1 FROM " + t + " WHERE k = $1 AND expires_at > $2",
			set: "INSERT INTO " + t + " (k, v, expires_at) VALUES ($1, $2, $3) " +
				"ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v, expires_at = EXCLUDED.expires_at",
			del: "DELETE FROM " + t + " WHERE k = $1",
			casInsert: "INSERT INTO " + t + " (k, v, expires_at) VALUES ($1, $2, $3) " +
				"ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v, expires_at = EXCLUDED.expires_at " +
				"WHERE " + t + ".expires_at <= $4",
			casUpdate: "UPDATE " + t + " SET v = $1, expires_at = $2 WHERE k = $3 AND v = $4 AND expires_at > $5",
			casDelete: "DELETE FROM " + t + " WHERE k = $1 AND v = $2 AND expires_at > $3",
			// The inner SELECT picks a bounded batch in index order,
			// locks it and skips rows another sweeper holds; the DELETE
			// then reaches those rows by their physical address (a TID
			// scan, cheaper than a primary-key lookup per row; the lock
			// keeps the address stable) and re-checks expiry itself, so a
			// row refreshed meanwhile survives.
			cleanup: "DELETE FROM " + t + " WHERE ctid = ANY(ARRAY(SELECT ctid FROM " + t +
				" WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)) AND expires_at <= $1",
		}
	}
	q := queries{
		get:       "SELECT v FROM " + t + " WHERE k = ? AND expires_at > ?",
		live:      "SELECT 1 FROM " + t + " WHERE k = ? AND expires_at > ?",
		del:       "DELETE FROM " + t + " WHERE k = ?",
		casDelete: "DELETE FROM " + t + " WHERE k = ? AND v = ? AND expires_at > ?",
	}
	if d == SQLite {
		q.set = "INSERT INTO " + t + " (k, v, expires_at) VALUES (?, ?, ?) " +
			"ON CONFLICT (k) DO UPDATE SET v = excluded.v, expires_at = excluded.expires_at"
		q.casInsert = "INSERT INTO " + t + " (k, v, expires_at) VALUES (?, ?, ?) " +
			"ON CONFLICT (k) DO UPDATE SET v = excluded.v, expires_at = excluded.expires_at " +
			"WHERE " + t + ".expires_at <= ?"
		q.casUpdate = "UPDATE " + t + " SET v = ?, expires_at = ? WHERE k = ? AND v = ? AND expires_at > ?"
		q.cleanup = "DELETE FROM " + t + " WHERE k IN (SELECT k FROM " + t +
			" WHERE expires_at <= ? ORDER BY expires_at LIMIT ?) AND expires_at <= ?"
		return q
	}
	// MySQL and MariaDB. The new row's values are bound a second time
	// instead of being referred to with VALUES() (deprecated since MySQL
	// 8.0.20) or a row alias (MySQL 8.0.19+, not in MariaDB), so one text
	// runs unchanged on both.
	q.set = "INSERT INTO " + t + " (k, v, expires_at) VALUES (?, ?, ?) " +
		"ON DUPLICATE KEY UPDATE v = ?, expires_at = ?"
	// Affected rows cannot tell the outcomes of this statement apart on a
	// connection with CLIENT_FOUND_ROWS (clientFoundRows=true), where an
	// insert and a duplicate left unchanged both count 1. So the branch
	// that leaves a live row alone also calls LAST_INSERT_ID(expr), whose
	// argument the server returns as the statement's insert ID (the table
	// has no AUTO_INCREMENT column, so the insert ID is otherwise 0): a
	// non-zero insert ID means "a live row was there, nothing swapped".
	// expires_at is assigned last so that both IF()s test the row's
	// original expiry whatever the server's assignment order.
	q.casInsert = "INSERT INTO " + t + " (k, v, expires_at) VALUES (?, ?, ?) " +
		"ON DUPLICATE KEY UPDATE v = IF(expires_at <= ?, ?, v), " +
		"expires_at = IF(expires_at <= ?, ?, IF(LAST_INSERT_ID(1), expires_at, expires_at))"
	// Without CLIENT_FOUND_ROWS an UPDATE that matches a row but changes
	// nothing (new == old, same expiry) reports 0 affected rows, exactly like
	// a mismatch. The SET list is evaluated only for a matched row, and its
	// LAST_INSERT_ID(1) sets the insert ID to 1, so a non-zero insert ID
	// means "matched" with either DSN setting.
	q.casUpdate = "UPDATE " + t + " SET v = ?, expires_at = IF(LAST_INSERT_ID(1), ?, 0) " +
		"WHERE k = ? AND v = ? AND expires_at > ?"
	q.cleanup = "DELETE FROM " + t + " WHERE expires_at <= ? ORDER BY expires_at LIMIT ?"
	return q
}

// setArgs returns the arguments of q.set.
func (d Dialect) setArgs(k, v []byte, exp int64) []any {
	if d == MySQL {
		return []any{k, v, exp, v, exp}
	}
	return []any{k, v, exp}
}

// casInsertArgs returns the arguments of q.casInsert.
func (d Dialect) casInsertArgs(k, v []byte, exp, now int64) []any {
	if d == MySQL {
		return []any{k, v, exp, now, v, now, exp}
	}
	return []any{k, v, exp, now}
}

// casUpdateArgs returns the arguments of q.casUpdate.
func (d Dialect) casUpdateArgs(k, old, v []byte, exp, now int64) []any {
	return []any{v, exp, k, old, now}
}

// cleanupArgs returns the arguments of q.cleanup.
func (d Dialect) cleanupArgs(now int64, limit int) []any {
	if d == SQLite {
		return []any{now, limit, now}
	}
	return []any{now, limit}
}
