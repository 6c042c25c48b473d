// Package revmodel holds authkit's randomized revocation model test, and
// nothing else: see model_test.go.
//
// Clients run random sign-ins, renewals, refreshes and revocations of
// sessions, opaque tokens, refresh families and JWTs for a few subjects,
// concurrently, on one store that fails a fraction of its calls — some
// before taking effect, some after (a lost reply). Every call's start, end
// and result is logged. At the end, with faults off, every revocation that
// failed is retried, and every credential ever handed out is probed; the
// log is checked against the revocation invariants R1–R5 stated in the
// authkit package documentation.
//
// It runs on store.Memory, on Redis when AUTHKIT_REDIS_ADDR is set, and on
// PostgreSQL and MySQL/MariaDB (sqlstore, in a table of its own, dropped at
// the end) when AUTHKIT_POSTGRES_DSN and AUTHKIT_MYSQL_DSN are set:
//
//	go test -race ./internal/revmodel/
//	go test -race ./internal/revmodel/ -revmodel.duration=5m       # longer
//	go test -race ./internal/revmodel/ -revmodel.seed=1234567      # a seed printed by a failure
//
// A seed fixes every client's choice of operations, delays and injected
// faults; the interleaving of the clients still depends on the scheduler, so
// a failure is reproduced by running its seed a few times.
package revmodel
