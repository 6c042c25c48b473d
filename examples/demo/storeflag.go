package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/redis/go-redis/v9"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/store/redisstore"
	"github.com/authkit/authkit/store/sqlstore"
)

// storeSpec is a parsed -store flag.
type storeSpec struct {
	kind string // "memory", "redis", "postgres", "mysql", "sqlite"
	dsn  string // what the driver is given: a redis:// URL, a pgx URL, a go-sql-driver DSN, a SQLite file DSN
	desc string // for logs, errors and the page: scheme, host and database only
}

var errStoreFlag = errors.New("want memory, redis://…, postgres://…, mysql://… or sqlite:path")

// parseStoreURL parses the -store flag. It does no I/O.
func parseStoreURL(s string) (storeSpec, error) {
	switch {
	case s == "" || s == "memory":
		return storeSpec{kind: "memory", desc: "memory"}, nil
	case strings.HasPrefix(s, "sqlite:"):
		path := strings.TrimPrefix(s, "sqlite:")
		path = strings.TrimPrefix(path, "//") // sqlite://file.db
		if path == "" || strings.ContainsAny(path, "?#\x00") {
			return storeSpec{}, fmt.Errorf("sqlite: want sqlite:path/to/file.db")
		}
		dsn := "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"
		if path == ":memory:" {
			dsn = ":memory:"
		}
		return storeSpec{kind: "sqlite", dsn: dsn, desc: "sqlite:" + path}, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return storeSpec{}, fmt.Errorf("%w: %v", errStoreFlag, err)
	}
	switch u.Scheme {
	case "redis", "rediss":
		if _, err := redis.ParseURL(s); err != nil {
			return storeSpec{}, fmt.Errorf("redis: %v", err)
		}
		return storeSpec{kind: "redis", dsn: s, desc: describeURL(u)}, nil
	case "postgres", "postgresql":
		if u.Host == "" {
			return storeSpec{}, errors.New("postgres: want postgres://user@host:port/db")
		}
		return storeSpec{kind: "postgres", dsn: s, desc: describeURL(u)}, nil
	case "mysql", "mariadb":
		dsn, err := mysqlDSN(u)
		if err != nil {
			return storeSpec{}, err
		}
		return storeSpec{kind: "mysql", dsn: dsn, desc: describeURL(u)}, nil
	}
	return storeSpec{}, errStoreFlag
}

// describeURL shows a store URL as scheme, host and database only: no user,
// no password, and no query, since drivers take secrets there too (pgx's
// ?password= and ?sslpassword=, for instance), which url.URL.Redacted
// does not hide.
func describeURL(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// mysqlDSN converts mysql://user:pass@host:port/db?param=value into
// go-sql-driver's user:pass@tcp(host:port)/db?param=value.
func mysqlDSN(u *url.URL) (string, error) {
	if u.Host == "" || u.Opaque != "" {
		return "", errors.New("mysql: want mysql://user:password@host:port/db")
	}
	cfg := mysql.NewConfig()
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	cfg.Net = "tcp"
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "3306"
	}
	cfg.Addr = net.JoinHostPort(host, port)
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	if strings.Contains(cfg.DBName, "/") {
		return "", errors.New("mysql: the path must be a database name")
	}
	// Other query parameters go through the driver's own parser, which
	// knows its options and refuses unknown values.
	dsn := cfg.FormatDSN()
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			return "", fmt.Errorf("mysql: %v", err)
		}
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		dsn += sep + q.Encode()
	}
	if _, err := mysql.ParseDSN(dsn); err != nil {
		return "", fmt.Errorf("mysql: %v", err)
	}
	return dsn, nil
}

// Where the demo keeps its entries in shared servers.
const (
	redisPrefix = "authkit-demo:"
	sqlTable    = "authkit_demo"
)

// openStore opens the store the -store flag names, checks that it works and,
// for SQL databases, creates the table. The returned func releases it.
func openStore(ctx context.Context, flagValue string) (store.Store, string, func(), error) {
	return openStoreIn(ctx, flagValue, redisPrefix, sqlTable)
}

// openStoreIn is openStore with the Redis key prefix and the SQL table
// chosen by the caller (tests use their own).
func openStoreIn(ctx context.Context, flagValue, prefix, table string) (store.Store, string, func(), error) {
	spec, err := parseStoreURL(flagValue)
	if err != nil {
		return nil, "", nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	switch spec.kind {
	case "memory":
		m := store.NewMemory(store.MemoryConfig{})
		return m, spec.desc, func() { m.Close() }, nil
	case "redis":
		opts, err := redis.ParseURL(spec.dsn)
		if err != nil {
			return nil, "", nil, err
		}
		opts.ContextTimeoutEnabled = true
		client := redis.NewClient(opts)
		st, err := redisstore.New(client, redisstore.Config{Prefix: prefix})
		if err == nil {
			err = st.Verify(ctx)
		}
		if err != nil {
			client.Close()
			return nil, "", nil, fmt.Errorf("%s: %w", spec.desc, err)
		}
		return st, spec.desc, func() { client.Close() }, nil
	}
	driver, dialect := map[string]string{"postgres": "pgx", "mysql": "mysql", "sqlite": "sqlite"}[spec.kind], map[string]sqlstore.Dialect{
		"postgres": sqlstore.PostgreSQL, "mysql": sqlstore.MySQL, "sqlite": sqlstore.SQLite,
	}[spec.kind]
	db, err := sql.Open(driver, spec.dsn)
	if err != nil {
		return nil, "", nil, fmt.Errorf("%s: %w", spec.desc, err)
	}
	if spec.kind == "sqlite" {
		db.SetMaxOpenConns(1) // one writer; the busy timeout covers the rest
	}
	st := sqlstore.New(db, sqlstore.Config{Dialect: dialect, Table: table})
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		db.Close()
		return nil, "", nil, fmt.Errorf("%s: %w", spec.desc, err)
	}
	return st, spec.desc, func() { st.Close(); db.Close() }, nil
}

// parsePrefixes parses the -trusted-proxy flag: addresses or CIDR prefixes,
// comma-separated.
func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor a CIDR prefix", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
