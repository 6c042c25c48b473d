package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"time"

	"github.com/authkit/authkit/store/sqlstore"
	_ "modernc.org/sqlite"
)

// A store on an in-memory SQLite database. Each connection to ":memory:" is a
// database of its own, hence the single connection; a real deployment uses a
// file ("file:auth.db?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
// or a server.
func Example() {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		log.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	defer db.Close()

	st := sqlstore.New(db, sqlstore.Config{Dialect: sqlstore.SQLite, Table: "myapp_auth"})
	defer st.Close()
	ctx := context.Background()
	if err := st.Migrate(ctx); err != nil {
		log.Fatal(err)
	}

	exp := time.Now().Add(time.Hour)
	if err := st.Set(ctx, "greeting", []byte("hello"), exp); err != nil {
		log.Fatal(err)
	}
	v, err := st.Get(ctx, "greeting")
	fmt.Printf("%s %v\n", v, err)

	swapped, err := st.CompareAndSwap(ctx, "greeting", []byte("hello"), []byte("bonjour"), exp)
	fmt.Println(swapped, err)
	swapped, err = st.CompareAndSwap(ctx, "greeting", []byte("hello"), []byte("hola"), exp)
	fmt.Println(swapped, err)
	// Output:
	// hello <nil>
	// true <nil>
	// false <nil>
}

// The DDL for applications that manage their schema with their own
// migration tool.
func ExampleSchema() {
	stmts, err := sqlstore.Schema(sqlstore.MySQL, "sessions")
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range stmts {
		fmt.Println(s + ";")
	}
	// Output:
	// CREATE TABLE IF NOT EXISTS `sessions` (
	// 	k VARBINARY(255) NOT NULL,
	// 	v MEDIUMBLOB NOT NULL,
	// 	expires_at BIGINT NOT NULL,
	// 	PRIMARY KEY (k),
	// 	INDEX `sessions_expires_at_idx` (expires_at)
	// ) ENGINE=InnoDB;
}

// A PostgreSQL store whose expired rows are swept by a scheduled job rather
// than by every server.
func ExampleStore_DeleteExpired() {
	var db *sql.DB // opened with sql.Open("pgx", dsn)
	if db == nil {
		return
	}
	st := sqlstore.New(db, sqlstore.Config{
		Dialect:         sqlstore.PostgreSQL,
		Table:           "auth_entries",
		CleanupInterval: -1, // no background loop
	})
	n, err := st.DeleteExpired(context.Background())
	fmt.Println(n, err)
}
