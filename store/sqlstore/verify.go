package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// ErrSchema is returned by [Store.Verify], [Store.Migrate] and the first
// call of a Store when its table is missing or has another shape than
// [Schema] creates. The error says what is wrong.
//
// The shape matters for security, not only for correctness: without the
// key as primary key, two "create only if absent" swaps of one key can both
// succeed (two owners of one refresh family, one registration taken twice);
// a key column of a text type compares case-insensitively on MySQL, so
// "Key" and "key" would be one entry; a value column too small truncates or
// refuses records.
var ErrSchema = errors.New("sqlstore: table does not match the store's schema")

// column is what Verify reads of one column of the table.
type column struct {
	name string
	typ  string // as the database names it, lower case: "bytea", "varbinary", "blob"…
	size int64  // MySQL: the maximum length of a VARBINARY; otherwise 0
}

// shape is what Verify reads of the table: its columns and the columns of
// its primary key, in order. A missing table has no columns.
type shape struct {
	columns    []column
	primaryKey []string
	prefixKey  bool // MySQL: the primary key indexes only a prefix of a column
}

// Verify checks that the store's table exists and has the shape [Schema]
// creates: the key k as the whole primary key, and columns k, v and
// expires_at of the right types (other columns are allowed). It returns an
// error wrapping [ErrSchema] that says what is wrong, or the database's
// error. [Store.Migrate] calls it after creating the table, and every Store
// runs it once, before its first call that reaches the database, so a
// table of another shape is never used; an application that creates the
// table with its own migration tool may call Verify at startup to fail
// early.
//
// The types accepted are, on PostgreSQL, BYTEA, BYTEA, BIGINT; on MySQL and
// MariaDB, VARBINARY of at least 255 bytes, MEDIUMBLOB or LONGBLOB, BIGINT;
// on SQLite, columns of BLOB, BLOB and INTEGER affinity (a declared type
// BLOB or none, and one containing "INT").
func (s *Store) Verify(ctx context.Context) error {
	var sh shape
	err := s.retry(ctx, func() error {
		var err error
		sh, err = s.readShape(ctx)
		return err
	})
	if err != nil {
		return s.wrapErr(ctx, "verify", err)
	}
	if err := s.dialect.checkShape(s.table, sh); err != nil {
		return err
	}
	s.verified.Store(true)
	return nil
}

// ready runs Verify once, before the store's first call that reaches the
// database. A failed verification is tried again on the next call.
func (s *Store) ready(ctx context.Context) error {
	if s.verified.Load() {
		return nil
	}
	s.verifyMu.Lock()
	defer s.verifyMu.Unlock()
	if s.verified.Load() {
		return nil
	}
	return s.Verify(ctx)
}

// readShape reads the table's columns and primary key from the catalog.
func (s *Store) readShape(ctx context.Context) (shape, error) {
	switch s.dialect {
	case PostgreSQL:
		return s.readShapePostgres(ctx)
	case MySQL:
		return s.readShapeMySQL(ctx)
	}
	return s.readShapeSQLite(ctx)
}

// readShapePostgres resolves the table as its statements do, through the
// search path, with to_regclass of the quoted name.
func (s *Store) readShapePostgres(ctx context.Context) (shape, error) {
	var sh shape
	name := s.dialect.quote(s.table)
	rows, err := s.db.QueryContext(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod)
		FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, name)
	if err != nil {
		return sh, err
	}
	if sh.columns, err = scanColumns(rows); err != nil {
		return sh, err
	}
	rows, err = s.db.QueryContext(ctx, `SELECT a.attname
		FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
		WHERE i.indrelid = to_regclass($1) AND i.indisprimary ORDER BY k.n`, name)
	if err != nil {
		return sh, err
	}
	sh.primaryKey, err = scanStrings(rows)
	return sh, err
}

// readShapeMySQL reads information_schema for the current database.
// MariaDB compares TABLE_NAME case-insensitively, so the rows are filtered
// here: by exact name, or ignoring case where the server folds table names
// (lower_case_table_names other than 0).
func (s *Store) readShapeMySQL(ctx context.Context) (shape, error) {
	var sh shape
	var fold int
	if err := s.db.QueryRowContext(ctx, "SELECT @@lower_case_table_names").Scan(&fold); err != nil {
		return sh, err
	}
	same := func(name string) bool {
		return name == s.table || fold != 0 && strings.EqualFold(name, s.table)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COALESCE(CHARACTER_MAXIMUM_LENGTH, 0)
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, s.table)
	if err != nil {
		return sh, err
	}
	defer rows.Close()
	for rows.Next() {
		var table string
		var c column
		if err := rows.Scan(&table, &c.name, &c.typ, &c.size); err != nil {
			return sh, err
		}
		if same(table) {
			c.typ = strings.ToLower(c.typ)
			sh.columns = append(sh.columns, c)
		}
	}
	if err := rows.Err(); err != nil {
		return sh, err
	}
	rows, err = s.db.QueryContext(ctx, `SELECT TABLE_NAME, COLUMN_NAME, SUB_PART IS NOT NULL
		FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY'
		ORDER BY SEQ_IN_INDEX`, s.table)
	if err != nil {
		return sh, err
	}
	defer rows.Close()
	for rows.Next() {
		var table, col string
		var prefix bool
		if err := rows.Scan(&table, &col, &prefix); err != nil {
			return sh, err
		}
		if same(table) {
			sh.primaryKey = append(sh.primaryKey, col)
			sh.prefixKey = sh.prefixKey || prefix
		}
	}
	return sh, rows.Err()
}

// readShapeSQLite reads pragma_table_info, whose pk column numbers the
// primary key's columns from 1.
func (s *Store) readShapeSQLite(ctx context.Context) (shape, error) {
	var sh shape
	rows, err := s.db.QueryContext(ctx, "SELECT name, type, pk FROM pragma_table_info(?) ORDER BY cid", s.table)
	if err != nil {
		return sh, err
	}
	defer rows.Close()
	var pk []string
	var pos []int
	for rows.Next() {
		var c column
		var n int
		if err := rows.Scan(&c.name, &c.typ, &n); err != nil {
			return sh, err
		}
		sh.columns = append(sh.columns, c)
		if n > 0 {
			pk = append(pk, c.name)
			pos = append(pos, n)
		}
	}
	sh.primaryKey = make([]string, len(pk))
	for i, name := range pk {
		if p := pos[i] - 1; p < len(pk) {
			sh.primaryKey[p] = name
		}
	}
	return sh, rows.Err()
}

// scanColumns reads rows of a column's name and type.
func scanColumns(rows *sql.Rows) ([]column, error) {
	defer rows.Close()
	var cols []column
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.name, &c.typ); err != nil {
			return nil, err
		}
		c.typ = strings.ToLower(c.typ)
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

// scanStrings reads rows of one string.
func scanStrings(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// checkShape compares the table's shape with the store's schema and
// returns an error wrapping ErrSchema naming every difference.
func (d Dialect) checkShape(table string, sh shape) error {
	if len(sh.columns) == 0 {
		return fmt.Errorf("%w: table %s does not exist; create it with Migrate or the statements of Schema", ErrSchema, d.quote(table))
	}
	var problems []string
	for _, want := range []string{"k", "v", "expires_at"} {
		c, ok := findColumn(sh.columns, want)
		if !ok {
			problems = append(problems, "no column "+want)
			continue
		}
		if msg := d.checkType(c); msg != "" {
			problems = append(problems, msg)
		}
	}
	switch {
	case len(sh.primaryKey) == 0:
		problems = append(problems, "no primary key, want PRIMARY KEY (k)")
	case len(sh.primaryKey) != 1 || !strings.EqualFold(sh.primaryKey[0], "k"):
		problems = append(problems, fmt.Sprintf("primary key (%s), want (k)", strings.Join(sh.primaryKey, ", ")))
	case sh.prefixKey:
		problems = append(problems, "the primary key indexes only a prefix of k, want the whole column")
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: table %s: %s", ErrSchema, d.quote(table), strings.Join(problems, "; "))
	}
	return nil
}

// findColumn finds a column by name; PostgreSQL and SQLite fold unquoted
// names, MySQL column names are case-insensitive.
func findColumn(cols []column, name string) (column, bool) {
	for _, c := range cols {
		if strings.EqualFold(c.name, name) {
			return c, true
		}
	}
	return column{}, false
}

// checkType returns what is wrong with c's type for the dialect, or "".
func (d Dialect) checkType(c column) string {
	name := strings.ToLower(c.name)
	switch d {
	case PostgreSQL:
		want := map[string]string{"k": "bytea", "v": "bytea", "expires_at": "bigint"}[name]
		if c.typ != want {
			return fmt.Sprintf("column %s is %s, want %s", name, c.typ, want)
		}
	case MySQL:
		switch {
		case name == "k" && (c.typ != "varbinary" || c.size < 255):
			return fmt.Sprintf("column k is %s, want varbinary(255)", mysqlType(c))
		case name == "v" && c.typ != "mediumblob" && c.typ != "longblob":
			return fmt.Sprintf("column v is %s, want mediumblob or longblob", mysqlType(c))
		case name == "expires_at" && c.typ != "bigint":
			return fmt.Sprintf("column expires_at is %s, want bigint", mysqlType(c))
		}
	default:
		want := map[string]string{"k": "BLOB", "v": "BLOB", "expires_at": "INTEGER"}[name]
		if got := sqliteAffinity(c.typ); got != want {
			return fmt.Sprintf("column %s is %q, of %s affinity, want %s", name, c.typ, got, want)
		}
	}
	return ""
}

func mysqlType(c column) string {
	if c.size > 0 && (strings.Contains(c.typ, "char") || strings.Contains(c.typ, "binary")) {
		return fmt.Sprintf("%s(%d)", c.typ, c.size)
	}
	return c.typ
}

// sqliteAffinity returns the type affinity SQLite gives a declared column
// type, by the rules of its documentation (section 3.1 of "Datatypes In
// SQLite"), in their order.
func sqliteAffinity(declared string) string {
	t := strings.ToUpper(declared)
	switch {
	case strings.Contains(t, "INT"):
		return "INTEGER"
	case strings.Contains(t, "CHAR"), strings.Contains(t, "CLOB"), strings.Contains(t, "TEXT"):
		return "TEXT"
	case strings.Contains(t, "BLOB"), t == "":
		return "BLOB"
	case strings.Contains(t, "REAL"), strings.Contains(t, "FLOA"), strings.Contains(t, "DOUB"):
		return "REAL"
	}
	return "NUMERIC"
}
