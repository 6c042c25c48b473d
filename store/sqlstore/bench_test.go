package sqlstore

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkStore measures Get, Set and CompareAndSwap of a 200-byte value
// on each backend, beside a raw "SELECT v FROM t WHERE k = ?" of the same
// row through the same *sql.DB: the floor the store's Get is compared with.
//
//	go test -run '^$' -bench BenchmarkStore ./store/sqlstore/
func BenchmarkStore(b *testing.B) {
	b.Cleanup(func() { closeShared(b) })
	for _, be := range backends() {
		b.Run(be.name, func(b *testing.B) {
			s := newTestStore(b, be, Config{})
			ctx := context.Background()
			exp := time.Now().Add(time.Hour)
			va := bytes.Repeat([]byte("a"), 200)
			vb := bytes.Repeat([]byte("b"), 200)
			const key = "sess:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
			if err := s.Set(ctx, key, va, exp); err != nil {
				b.Fatal(err)
			}
			raw := "SELECT v FROM " + s.dialect.quote(s.table) + " WHERE k = ?"
			if s.dialect == PostgreSQL {
				raw = strings.Replace(raw, "?", "$1", 1)
			}
			b.Run("RawSelect", func(b *testing.B) {
				k := []byte(key)
				for b.Loop() {
					var v []byte
					if err := s.db.QueryRowContext(ctx, raw, k).Scan(&v); err != nil || len(v) != 200 {
						b.Fatal(err)
					}
				}
			})
			b.Run("Get", func(b *testing.B) {
				for b.Loop() {
					if v, err := s.Get(ctx, key); err != nil || len(v) != 200 {
						b.Fatal(err)
					}
				}
			})
			b.Run("Set", func(b *testing.B) {
				// Alternate values: a database may skip writing a row
				// set to what it already holds.
				v, w := va, vb
				for b.Loop() {
					if err := s.Set(ctx, key, v, exp); err != nil {
						b.Fatal(err)
					}
					v, w = w, v
				}
			})
			b.Run("CompareAndSwap", func(b *testing.B) {
				if err := s.Set(ctx, key, va, exp); err != nil {
					b.Fatal(err)
				}
				old, new := va, vb
				for b.Loop() {
					if ok, err := s.CompareAndSwap(ctx, key, old, new, exp); err != nil || !ok {
						b.Fatal(ok, err)
					}
					old, new = new, old
				}
			})
		})
	}
}

// envCleanupRows makes BenchmarkCleanup run; it is the number of expired
// rows to create. The benchmark fills a table with that many rows, so it is
// opt-in even under -bench.
const envCleanupRows = "AUTHKIT_BENCH_CLEANUP_ROWS"

// BenchmarkCleanup fills a table with many expired rows (and 10,000 live
// ones) and removes them with the store's batched cleanup, timing every
// DELETE. It reports the slowest statement (max-stmt-ms), the number of
// statements and the total time. Opt-in, and meant to run once:
//
//	AUTHKIT_BENCH_CLEANUP_ROWS=1000000 AUTHKIT_POSTGRES_DSN=… \
//	  go test -run '^$' -bench BenchmarkCleanup/postgres -benchtime 1x ./store/sqlstore/
//
// AUTHKIT_BENCH_CLEANUP_BATCH overrides the batch size (default
// DefaultCleanupBatchSize).
func BenchmarkCleanup(b *testing.B) {
	n, _ := strconv.Atoi(os.Getenv(envCleanupRows))
	if n <= 0 {
		b.Skipf("%s is not set", envCleanupRows)
	}
	batch, _ := strconv.Atoi(os.Getenv("AUTHKIT_BENCH_CLEANUP_BATCH"))
	b.Cleanup(func() { closeShared(b) })
	for _, be := range backends() {
		if be.name != "postgres" && be.name != "mysql" && be.name != "sqlite-file" {
			continue
		}
		b.Run(be.name, func(b *testing.B) {
			c := newClock()
			s := newTestStore(b, be, Config{Now: c.Now, CleanupBatchSize: batch})
			ctx := context.Background()
			for b.Loop() {
				b.StopTimer()
				start := time.Now()
				fillExpired(b, s, n, c.Now().UnixMilli())
				b.Logf("%s: inserted %d expired and 10000 live rows in %v", be.name, n, time.Since(start).Round(time.Millisecond))
				b.StartTimer()

				var total int64
				var statements int
				var slowest time.Duration
				var times []time.Duration
				start = time.Now()
				for {
					t0 := time.Now()
					deleted, err := s.deleteExpiredBatch(ctx)
					d := time.Since(t0)
					if err != nil {
						b.Fatal(err)
					}
					statements++
					total += deleted
					slowest = max(slowest, d)
					times = append(times, d)
					if deleted < int64(s.batch) {
						break
					}
				}
				elapsed := time.Since(start)

				b.StopTimer()
				if total != int64(n) {
					b.Fatalf("deleted %d rows, want %d", total, n)
				}
				if left := count(b, s); left != 10000 {
					b.Fatalf("%d rows left, want the 10000 live ones", left)
				}
				b.ReportMetric(float64(slowest.Microseconds())/1000, "max-stmt-ms")
				b.ReportMetric(float64(statements), "statements")
				b.ReportMetric(elapsed.Seconds(), "total-s")
				if os.Getenv("AUTHKIT_BENCH_CLEANUP_TRACE") != "" {
					for i := 0; i < len(times); i += 100 {
						chunk := times[i:min(i+100, len(times))]
						var sum, top time.Duration
						for _, d := range chunk {
							sum += d
							top = max(top, d)
						}
						b.Logf("statements %d..%d: mean %v, max %v", i, i+len(chunk)-1, (sum / time.Duration(len(chunk))).Round(time.Microsecond), top.Round(time.Microsecond))
					}
				}
				slices.Sort(times)
				b.Logf("%s: deleted %d rows in %d statements of ≤%d rows: total %v; statement median %v, p99 %v, max %v",
					be.name, total, statements, s.batch, elapsed.Round(time.Millisecond),
					times[len(times)/2].Round(time.Microsecond), times[len(times)*99/100].Round(time.Microsecond),
					slowest.Round(time.Microsecond))
				if slowest > time.Second {
					b.Errorf("a cleanup statement took %v, over 1 s", slowest)
				}
				if _, err := s.db.ExecContext(ctx, "DELETE FROM "+s.dialect.quote(s.table)); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// fillExpired inserts n rows that expired before nowMs, with distinct
// expiries, plus 10,000 live rows, in a few large statements.
func fillExpired(b *testing.B, s *Store, n int, nowMs int64) {
	b.Helper()
	ctx := context.Background()
	t := s.dialect.quote(s.table)
	conn, err := s.db.Conn(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	var stmts []string
	var args [][]any
	switch s.dialect {
	case PostgreSQL:
		gen := "INSERT INTO " + t + " (k, v, expires_at) SELECT convert_to($1 || g, 'UTF8'), decode(repeat('ab', 100), 'hex'), $2::bigint + g FROM generate_series(1, $3) AS g"
		stmts = []string{gen, gen}
		args = [][]any{{"exp:", nowMs - 1000 - int64(n), n}, {"live:", nowMs + 3600_000, 10000}}
	case MySQL:
		// A recursive CTE; chunks of 100,000 keep each INSERT modest.
		gen := "INSERT INTO " + t + " (k, v, expires_at) " +
			"WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ?) " +
			"SELECT CONCAT(?, ?, ':', n), REPEAT('x', 100), ? + n FROM g"
		// Recursion is capped by cte_max_recursion_depth on MySQL and
		// max_recursive_iterations on MariaDB; each knows only its own.
		_, err1 := conn.ExecContext(ctx, "SET SESSION cte_max_recursion_depth = 1000000")
		_, err2 := conn.ExecContext(ctx, "SET SESSION max_recursive_iterations = 1000000")
		if err1 != nil && err2 != nil {
			b.Fatalf("raising the recursion limit: %v; %v", err1, err2)
		}
		for off := 0; off < n; off += 100000 {
			stmts = append(stmts, gen)
			args = append(args, []any{min(100000, n-off), "exp:", off, nowMs - 1000 - int64(n) + int64(off)})
		}
		stmts = append(stmts, gen)
		args = append(args, []any{10000, "live:", 0, nowMs + 3600_000})
	case SQLite:
		gen := "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ?) " +
			"INSERT INTO " + t + " (k, v, expires_at) SELECT CAST(? || n AS BLOB), randomblob(100), ? + n FROM g"
		stmts = []string{gen, gen}
		args = [][]any{{n, "exp:", nowMs - 1000 - int64(n)}, {10000, "live:", nowMs + 3600_000}}
	}
	for i, stmt := range stmts {
		if _, err := conn.ExecContext(ctx, stmt, args[i]...); err != nil {
			b.Fatalf("filling the table: %v", err)
		}
	}
	if got := count(b, s); got != n+10000 {
		b.Fatalf("table holds %d rows, want %d", got, n+10000)
	}
}
