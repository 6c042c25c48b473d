package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// shapeCase is a table created before the store, and what Migrate, Verify
// and the first call must say of it.
type shapeCase struct {
	name string
	ddl  string // %[1]s is the quoted table name
	want string // "" for a table in shape; otherwise a substring of the ErrSchema message
}

var shapeCases = map[Dialect][]shapeCase{
	PostgreSQL: {
		{"as Schema creates it", "CREATE TABLE %[1]s (k BYTEA PRIMARY KEY, v BYTEA NOT NULL, expires_at BIGINT NOT NULL)", ""},
		{"other spellings and an extra column", "CREATE TABLE %[1]s (k bytea NOT NULL, v bytea, expires_at int8, note text, CONSTRAINT pk PRIMARY KEY (k))", ""},
		{"no primary key", "CREATE TABLE %[1]s (k BYTEA NOT NULL, v BYTEA NOT NULL, expires_at BIGINT NOT NULL)", "no primary key"},
		{"unique instead of primary key", "CREATE TABLE %[1]s (k BYTEA UNIQUE NOT NULL, v BYTEA NOT NULL, expires_at BIGINT NOT NULL)", "no primary key"},
		{"composite primary key", "CREATE TABLE %[1]s (k BYTEA, v BYTEA, expires_at BIGINT, PRIMARY KEY (k, expires_at))", "primary key (k, expires_at), want (k)"},
		{"text key", "CREATE TABLE %[1]s (k TEXT PRIMARY KEY, v BYTEA NOT NULL, expires_at BIGINT NOT NULL)", "column k is text, want bytea"},
		{"timestamp expiry", "CREATE TABLE %[1]s (k BYTEA PRIMARY KEY, v BYTEA NOT NULL, expires_at TIMESTAMPTZ NOT NULL)", "column expires_at is timestamp with time zone, want bigint"},
		{"integer expiry", "CREATE TABLE %[1]s (k BYTEA PRIMARY KEY, v BYTEA NOT NULL, expires_at INTEGER NOT NULL)", "column expires_at is integer, want bigint"},
		{"missing value", "CREATE TABLE %[1]s (k BYTEA PRIMARY KEY, expires_at BIGINT NOT NULL)", "no column v"},
	},
	MySQL: {
		{"as Schema creates it", "CREATE TABLE %[1]s (k VARBINARY(255) NOT NULL, v MEDIUMBLOB NOT NULL, expires_at BIGINT NOT NULL, PRIMARY KEY (k)) ENGINE=InnoDB", ""},
		{"longer key, longblob, an extra column", "CREATE TABLE %[1]s (k VARBINARY(512) NOT NULL PRIMARY KEY, v LONGBLOB, expires_at BIGINT, note TEXT)", ""},
		{"no primary key", "CREATE TABLE %[1]s (k VARBINARY(255), v MEDIUMBLOB, expires_at BIGINT)", "no primary key"},
		{"unique instead of primary key", "CREATE TABLE %[1]s (k VARBINARY(255) NOT NULL, v MEDIUMBLOB, expires_at BIGINT, UNIQUE KEY (k))", "no primary key"},
		{"prefix primary key", "CREATE TABLE %[1]s (k VARBINARY(255) NOT NULL, v MEDIUMBLOB, expires_at BIGINT, PRIMARY KEY (k(16)))", "only a prefix of k"},
		{"composite primary key", "CREATE TABLE %[1]s (k VARBINARY(255) NOT NULL, v MEDIUMBLOB, expires_at BIGINT NOT NULL, PRIMARY KEY (k, expires_at))", "primary key (k, expires_at), want (k)"},
		{"text key", "CREATE TABLE %[1]s (k VARCHAR(255) NOT NULL PRIMARY KEY, v MEDIUMBLOB, expires_at BIGINT)", "column k is varchar(255), want varbinary(255)"},
		{"short key", "CREATE TABLE %[1]s (k VARBINARY(64) NOT NULL PRIMARY KEY, v MEDIUMBLOB, expires_at BIGINT)", "column k is varbinary(64), want varbinary(255)"},
		{"padded key", "CREATE TABLE %[1]s (k BINARY(255) NOT NULL PRIMARY KEY, v MEDIUMBLOB, expires_at BIGINT)", "column k is binary(255)"},
		{"blob value", "CREATE TABLE %[1]s (k VARBINARY(255) NOT NULL PRIMARY KEY, v BLOB, expires_at BIGINT)", "column v is blob, want mediumblob or longblob"},
		{"datetime expiry", "CREATE TABLE %[1]s (k VARBINARY(255) NOT NULL PRIMARY KEY, v MEDIUMBLOB, expires_at DATETIME)", "column expires_at is datetime, want bigint"},
	},
	SQLite: {
		{"as Schema creates it", `CREATE TABLE %[1]s (k BLOB NOT NULL PRIMARY KEY, v BLOB NOT NULL, expires_at INTEGER NOT NULL)`, ""},
		{"other spellings and an extra column", `CREATE TABLE %[1]s (k, v blob, expires_at BIGINT, note TEXT, PRIMARY KEY (k)) WITHOUT ROWID`, ""},
		{"no primary key", `CREATE TABLE %[1]s (k BLOB NOT NULL, v BLOB NOT NULL, expires_at INTEGER NOT NULL)`, "no primary key"},
		{"unique instead of primary key", `CREATE TABLE %[1]s (k BLOB NOT NULL UNIQUE, v BLOB NOT NULL, expires_at INTEGER NOT NULL)`, "no primary key"},
		{"composite primary key", `CREATE TABLE %[1]s (k BLOB, v BLOB, expires_at INTEGER, PRIMARY KEY (expires_at, k))`, "primary key (expires_at, k), want (k)"},
		{"text key", `CREATE TABLE %[1]s (k TEXT PRIMARY KEY, v BLOB, expires_at INTEGER)`, `column k is "TEXT", of TEXT affinity, want BLOB`},
		{"real expiry", `CREATE TABLE %[1]s (k BLOB PRIMARY KEY, v BLOB, expires_at REAL)`, `column expires_at is "REAL", of REAL affinity, want INTEGER`},
		{"missing expiry", `CREATE TABLE %[1]s (k BLOB PRIMARY KEY, v BLOB)`, "no column expires_at"},
	},
}

// TestTableShape creates tables of other shapes before the store, on each
// dialect: Migrate, Verify and the first call refuse them with ErrSchema
// saying what is wrong, and the table is left as it was.
func TestTableShape(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		if b.name == "mysql-foundrows" || b.name == "mysql-interpolate" || b.name == "sqlite-memory" {
			t.Skip("one configuration per dialect is enough")
		}
		for _, c := range shapeCases[b.dialect] {
			t.Run(c.name, func(t *testing.T) {
				db := b.open(t)
				table := randomTable()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if _, err := db.ExecContext(ctx, fmt.Sprintf(c.ddl, b.dialect.quote(table))); err != nil {
					t.Fatalf("creating the table: %v", err)
				}
				t.Cleanup(func() { db.Exec("DROP TABLE IF EXISTS " + b.dialect.quote(table)) })
				check := func(what string, err error) {
					t.Helper()
					switch {
					case c.want == "" && err != nil:
						t.Errorf("%s = %v, want nil", what, err)
					case c.want != "" && (!errors.Is(err, ErrSchema) || !strings.Contains(err.Error(), c.want)):
						t.Errorf("%s = %v, want ErrSchema saying %q", what, err, c.want)
					}
				}
				// The first call, before anything else.
				first := New(db, Config{Dialect: b.dialect, Table: table, CleanupInterval: -1})
				_, err := first.CompareAndSwap(ctx, "k", nil, []byte("owner-A"), time.Now().Add(time.Hour))
				check("the first CompareAndSwap", err)
				s := New(db, Config{Dialect: b.dialect, Table: table, CleanupInterval: -1})
				check("Migrate", s.Migrate(ctx))
				check("Verify", s.Verify(ctx))
				if c.want == "" {
					return
				}
				var n int
				if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+b.dialect.quote(table)).Scan(&n); err != nil || n != 0 {
					t.Errorf("the refused table holds %d rows (%v), want 0", n, err)
				}
			})
		}
	})
}

// TestSQLiteAffinity checks the affinity rules against SQLite's
// documentation examples.
func TestSQLiteAffinity(t *testing.T) {
	for typ, want := range map[string]string{
		"INT": "INTEGER", "INTEGER": "INTEGER", "TINYINT": "INTEGER", "BIGINT": "INTEGER", "UNSIGNED BIG INT": "INTEGER", "INT8": "INTEGER",
		"CHARACTER(20)": "TEXT", "VARCHAR(255)": "TEXT", "NCHAR(55)": "TEXT", "TEXT": "TEXT", "CLOB": "TEXT",
		"BLOB": "BLOB", "": "BLOB", "blob": "BLOB",
		"REAL": "REAL", "DOUBLE": "REAL", "DOUBLE PRECISION": "REAL", "FLOAT": "REAL",
		"NUMERIC": "NUMERIC", "DECIMAL(10,5)": "NUMERIC", "BOOLEAN": "NUMERIC", "DATE": "NUMERIC", "DATETIME": "NUMERIC",
		"CHARINT": "INTEGER", // "INT" is checked first
	} {
		if got := sqliteAffinity(typ); got != want {
			t.Errorf("sqliteAffinity(%q) = %s, want %s", typ, got, want)
		}
	}
}
