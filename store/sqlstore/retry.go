package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"time"
)

// DefaultMaxRetries is how many times an operation is retried after a
// transient conflict when [Config.MaxRetries] is zero.
const DefaultMaxRetries = 10

// Backoff between retries: full jitter over an exponentially growing window,
// starting at retryBase and capped at retryCap. With DefaultMaxRetries the
// worst case adds up to well under a second.
const (
	retryBase = 2 * time.Millisecond
	retryCap  = 100 * time.Millisecond
)

// retryable reports whether err is a transient conflict after which the
// statement had no effect and may simply run again: an InnoDB deadlock, a
// PostgreSQL deadlock or serialization failure, a busy or locked SQLite
// database. The library imports no driver, so the error is recognised by
// shape rather than by type:
//
//   - MySQL/MariaDB: an error in the chain that is a struct with a uint16
//     field Number (go-sql-driver's *mysql.MySQLError) equal to 1213
//     (ER_LOCK_DEADLOCK), or, failing that, a message with go-sql-driver's
//     rendering of it ("Error 1213 (40001): …");
//   - PostgreSQL: an error with a SQLState() string method (pgx's
//     *pgconn.PgError, lib/pq's *pq.Error) reporting 40P01 or 40001;
//   - SQLite: an error with a Code() int method (modernc.org/sqlite's
//     *sqlite.Error) whose primary result code is SQLITE_BUSY (5) or
//     SQLITE_LOCKED (6), or whose message says "database is locked" or
//     "database table is locked" (the SQLite texts of those codes).
//
// Lock wait timeouts (MySQL 1205) are not retried: the statement already
// waited innodb_lock_wait_timeout. Context errors are never retried.
func (d Dialect) retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	switch d {
	case PostgreSQL:
		var e interface{ SQLState() string }
		if errors.As(err, &e) {
			s := e.SQLState()
			return s == "40P01" || s == "40001"
		}
	case MySQL:
		found := false
		walk(err, func(e error) bool {
			if n, ok := mysqlNumber(e); ok {
				found = n == 1213
				return true
			}
			return false
		})
		if found {
			return true
		}
		return hasMySQLCode(err.Error(), "1213")
	case SQLite:
		var e interface{ Code() int }
		if errors.As(err, &e) {
			c := e.Code() & 0xff
			if c == 5 || c == 6 {
				return true
			}
		}
		msg := err.Error()
		return strings.Contains(msg, "database is locked") || strings.Contains(msg, "database table is locked")
	}
	return false
}

// hasMySQLCode reports whether msg contains go-sql-driver's rendering of a
// server error with the given number: "Error 1213 (40001): …" or
// "Error 1213: …", at the start or after ": ".
func hasMySQLCode(msg, code string) bool {
	for i := 0; ; {
		j := strings.Index(msg[i:], "Error "+code)
		if j < 0 {
			return false
		}
		j += i
		end := j + len("Error "+code)
		atStart := j == 0 || strings.HasSuffix(msg[:j], ": ")
		if atStart && (end == len(msg) || msg[end] == ' ' || msg[end] == ':') {
			return true
		}
		i = end
	}
}

// walk calls f on err and every error it wraps, depth first, until f
// returns true.
func walk(err error, f func(error) bool) bool {
	for err != nil {
		if f(err) {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if walk(e, f) {
					return true
				}
			}
			return false
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		default:
			return false
		}
	}
	return false
}

// mysqlNumber returns the Number field of a MySQL server error, recognised as
// a struct (or pointer to one) with an exported uint16 field named Number.
func mysqlNumber(err error) (uint16, bool) {
	v := reflect.ValueOf(err)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return 0, false
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return 0, false
	}
	f := v.FieldByName("Number")
	if !f.IsValid() || f.Kind() != reflect.Uint16 {
		return 0, false
	}
	return uint16(f.Uint()), true
}

// retry runs f until it succeeds, fails with an error that is not a
// transient conflict, or has been retried maxRetries times. It sleeps a
// jittered, growing pause between attempts and gives up early when ctx ends,
// returning an error that wraps both ctx's error and f's last one.
func (s *Store) retry(ctx context.Context, f func() error) error {
	window := retryBase
	for attempt := 0; ; attempt++ {
		err := f()
		if err == nil || attempt >= s.maxRetries || !s.dialect.retryable(err) {
			return err
		}
		if s.onRetry != nil {
			s.onRetry(err)
		}
		pause := window/2 + rand.N(window/2+1)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (while retrying after: %w)", ctx.Err(), err)
		case <-t.C:
		}
		window = min(2*window, retryCap)
	}
}
