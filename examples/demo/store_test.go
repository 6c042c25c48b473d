package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"

	"github.com/authkit/authkit/store/storetest"
)

func TestParseStoreURL(t *testing.T) {
	tests := []struct {
		in, kind, dsn, desc string
	}{
		{"", "memory", "", "memory"},
		{"memory", "memory", "", "memory"},
		{"sqlite:demo.db", "sqlite", "file:demo.db?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)", "sqlite:demo.db"},
		{"sqlite:///tmp/x.db", "sqlite", "file:/tmp/x.db?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)", "sqlite:/tmp/x.db"},
		{"sqlite::memory:", "sqlite", ":memory:", "sqlite::memory:"},
		{"redis://127.0.0.1:6379/0", "redis", "redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
		{"redis://:secret@10.0.0.1:6379", "redis", "redis://:secret@10.0.0.1:6379", "redis://10.0.0.1:6379"},
		{"postgres://app:pw@db:5432/app?sslmode=disable", "postgres", "postgres://app:pw@db:5432/app?sslmode=disable", "postgres://db:5432/app"},
		{"postgresql://db/app", "postgres", "postgresql://db/app", "postgresql://db/app"},
		{"mysql://root@127.0.0.1:3306/test", "mysql", "root@tcp(127.0.0.1:3306)/test", "mysql://127.0.0.1:3306/test"},
		{"mysql://app:p%40ss@db/app", "mysql", "app:p@ss@tcp(db:3306)/app", "mysql://db/app"},
		{"mysql://root@[::1]:3307/test?parseTime=true", "mysql", "root@tcp([::1]:3307)/test?parseTime=true", "mysql://[::1]:3307/test"},
		{"mariadb://root@127.0.0.1/test", "mysql", "root@tcp(127.0.0.1:3306)/test", "mariadb://127.0.0.1/test"},
		// Secrets in the query, which url.URL.Redacted leaves in place.
		{"postgres://app@db:5432/prod?password=secret", "postgres", "postgres://app@db:5432/prod?password=secret", "postgres://db:5432/prod"},
		{"postgres://app@db/prod?sslmode=verify-full&sslpassword=secret", "postgres", "postgres://app@db/prod?sslmode=verify-full&sslpassword=secret", "postgres://db/prod"},
		{"rediss://user:secret@cache:6380/1?dial_timeout=1s", "redis", "rediss://user:secret@cache:6380/1?dial_timeout=1s", "rediss://cache:6380/1"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseStoreURL(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got.kind != tt.kind || got.dsn != tt.dsn || got.desc != tt.desc {
				t.Errorf("got %+v, want kind %q dsn %q desc %q", got, tt.kind, tt.dsn, tt.desc)
			}
			if strings.Contains(got.desc, "secret") || strings.Contains(got.desc, "pw") || strings.Contains(got.desc, "@") {
				t.Errorf("the description shows a password: %q", got.desc)
			}
		})
	}
	for _, bad := range []string{"mem", "file.db", "sqlite:", "sqlite:x.db?mode=ro", "http://x", "redis://[::1", "redis://h/notanumber", "postgres:///", "mysql:///test", "mysql://h/a/b", "mysql://h/db?parseTime=maybe", "mysql:opaque"} {
		t.Run("refuses "+bad, func(t *testing.T) {
			if got, err := parseStoreURL(bad); err == nil {
				t.Errorf("accepted: %+v", got)
			}
		})
	}
}

func FuzzParseStoreURL(f *testing.F) {
	for _, s := range []string{"memory", "sqlite:a.db", "redis://h:1/2", "postgres://u:p@h/d", "mysql://u:p@h:1/d?x=y", "mysql://%zz", "sqlite:\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := parseStoreURL(s)
		if err != nil {
			return
		}
		if spec.kind == "mysql" {
			if _, err := mysql.ParseDSN(spec.dsn); err != nil {
				t.Errorf("%q gave a DSN the driver refuses: %q: %v", s, spec.dsn, err)
			}
		}
		if u, err := url.Parse(s); err == nil && spec.kind != "sqlite" && len(u.RawQuery) > 3 && strings.Contains(spec.desc, u.RawQuery) {
			t.Errorf("%q: description %q shows the query", s, spec.desc)
		}
		if u, err := url.Parse(s); err == nil && u.User != nil {
			if p, ok := u.User.Password(); ok && len(p) > 3 && strings.Contains(spec.desc, p) {
				t.Errorf("%q: description %q shows the password", s, spec.desc)
			}
		}
	})
}

// testBackend runs a short scenario — register, session, token, JWT,
// /api/me — against the demo on a store opened from a -store value.
func testBackend(t *testing.T, flagValue, prefix, table string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, _, closeStore, err := openStoreIn(ctx, flagValue, prefix, table)
	if err != nil {
		t.Fatalf("-store %s: %v", flagValue, err)
	}
	defer closeStore()
	s, err := newServer(config{Store: st, Hasher: newTestHasher(), Logger: slog.New(slog.DiscardHandler), SeedDemoUser: true})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	defer hs.Close()
	ts := &testServer{server: s, url: hs.URL}
	c := ts.client(t)
	name := "u" + strings.ToLower(rand.Text()[:12])
	c.register(name, "wonderland-42")
	wantError(t, c.do("POST", "/api/register", creds(name, "wonderland-42")), 409, "username_taken")
	if r := c.do("POST", "/api/session/login", creds(name, "wonderland-42")); r.status != 200 {
		t.Fatalf("session login: %d %s", r.status, r.body)
	}
	if r := c.do("GET", "/api/me", nil); r.status != 200 || r.json(t)["subject"] != name {
		t.Fatalf("me: %d %s", r.status, r.body)
	}
	p := tokenLogin(t, c, name, "wonderland-42")
	if r := me(ts.client(t), p.AccessToken); r.status != 200 {
		t.Fatalf("me with a token: %d", r.status)
	}
	r := c.do("POST", "/api/token/refresh", map[string]string{"refresh_token": p.RefreshToken})
	if r.status != 200 {
		t.Fatalf("refresh: %d %s", r.status, r.body)
	}
	wantError(t, c.do("POST", "/api/token/refresh", map[string]string{"refresh_token": p.RefreshToken}), 400, "invalid_grant")
	jc := ts.client(t)
	r = jc.do("POST", "/api/jwt/login", creds(name, "wonderland-42"))
	if r.status != 200 {
		t.Fatalf("jwt login: %d", r.status)
	}
	var j jwtJSON
	json.Unmarshal(r.body, &j)
	spent := setCookie(t, r, refreshCookieName)
	if r := jc.do("POST", "/api/jwt/refresh", nil); r.status != 200 || spent == nil {
		t.Fatalf("jwt refresh: %d %s", r.status, r.body)
	}
	if r := me(ts.client(t), j.AccessToken); r.status != 200 {
		t.Fatalf("me with a JWT: %d", r.status)
	}
	// Reuse revokes the family, and the listener jwtpair.New registered the
	// family's JWTs, in this store's JWT revocation record.
	wantError(t, ts.client(t).do("POST", "/api/jwt/refresh", nil, "Cookie", refreshCookieName+"="+spent.Value), 400, "invalid_grant")
	if r := me(ts.client(t), j.AccessToken); r.status != 401 {
		t.Errorf("JWT of a reused family: %d", r.status)
	}
	if r := c.do("POST", "/api/session/login", creds(demoUser, demoPassword)); r.status != 200 {
		t.Fatalf("demo user: %d %s", r.status, r.body)
	}
	if r := c.do("GET", "/", nil); r.status != 200 || !strings.Contains(string(r.body), "sess:") {
		t.Fatalf("page: %d", r.status)
	}
}

func TestStoreSQLite(t *testing.T) {
	testBackend(t, "sqlite:"+filepath.Join(t.TempDir(), "demo.db"), "", "authkit_demo")
}

func TestStoreRedis(t *testing.T) {
	addr := storetest.Env(t, "AUTHKIT_REDIS_ADDR")
	prefix := "authkit-demo-test:" + rand.Text() + ":"
	t.Cleanup(func() {
		c := redis.NewClient(&redis.Options{Addr: addr})
		defer c.Close()
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	testBackend(t, "redis://"+addr+"/0", prefix, "")
}

func TestStorePostgres(t *testing.T) {
	dsn := storetest.Env(t, "AUTHKIT_POSTGRES_DSN")
	table := "demo_test_" + strings.ToLower(rand.Text()[:10])
	t.Cleanup(func() { dropTable(t, "pgx", dsn, table) })
	testBackend(t, dsn, "", table)
}

func TestStoreMySQL(t *testing.T) {
	dsn := storetest.Env(t, "AUTHKIT_MYSQL_DSN") // go-sql-driver form
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("AUTHKIT_MYSQL_DSN: %v", err)
	}
	// The demo takes a mysql:// URL; build one from the DSN.
	u := url.URL{Scheme: "mysql", Host: cfg.Addr, Path: "/" + cfg.DBName}
	if cfg.Passwd != "" {
		u.User = url.UserPassword(cfg.User, cfg.Passwd)
	} else {
		u.User = url.User(cfg.User)
	}
	table := "demo_test_" + strings.ToLower(rand.Text()[:10])
	t.Cleanup(func() { dropTable(t, "mysql", dsn, table) })
	testBackend(t, u.String(), "", table)
}

func dropTable(t *testing.T, driver, dsn, table string) {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Error(err)
		return
	}
	defer db.Close()
	if _, err := db.Exec("DROP TABLE IF EXISTS " + table); err != nil {
		t.Errorf("dropping %s: %v", table, err)
	}
}
