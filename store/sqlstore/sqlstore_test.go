package sqlstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authkit/authkit/store"
)

// op is one step of a scenario: a store call and the result it must give.
type op struct {
	name    string
	do      func(ctx context.Context, s *Store, c *clock) (any, error)
	want    any   // compared with bytes.Equal for []byte, == otherwise
	wantErr error // compared with errors.Is
}

func get(key string, want []byte) op {
	o := op{name: "Get " + key, want: want, do: func(ctx context.Context, s *Store, _ *clock) (any, error) {
		return s.Get(ctx, key)
	}}
	if want == nil {
		o.wantErr = store.ErrNotFound
	}
	return o
}

func set(key, value string, ttl time.Duration) op {
	return op{name: "Set " + key, do: func(ctx context.Context, s *Store, c *clock) (any, error) {
		return nil, s.Set(ctx, key, []byte(value), c.After(ttl))
	}}
}

func del(key string) op {
	return op{name: "Delete " + key, do: func(ctx context.Context, s *Store, _ *clock) (any, error) {
		return nil, s.Delete(ctx, key)
	}}
}

func cas(key, old, new string, ttl time.Duration, want bool) op {
	return op{name: "CAS " + key + " " + strconv.Quote(old) + "→" + strconv.Quote(new), want: want,
		do: func(ctx context.Context, s *Store, c *clock) (any, error) {
			var o, n []byte
			if old != "" {
				o = []byte(old)
			}
			if new != "" {
				n = []byte(new)
			}
			return s.CompareAndSwap(ctx, key, o, n, c.After(ttl))
		}}
}

func advance(d time.Duration) op {
	return op{name: "advance " + d.String(), do: func(_ context.Context, _ *Store, c *clock) (any, error) {
		c.Add(d)
		return nil, nil
	}}
}

func rows(n int) op {
	return op{name: "rows", want: n, do: func(_ context.Context, s *Store, _ *clock) (any, error) {
		var got int
		err := s.db.QueryRow("SELECT COUNT(*) FROM " + s.dialect.quote(s.table)).Scan(&got)
		return got, err
	}}
}

// TestScenarios runs short sequences of operations on every backend. The
// clock is injected, so expiry is exact and instant.
func TestScenarios(t *testing.T) {
	const h = time.Hour
	scenarios := []struct {
		name string
		ops  []op
	}{
		{"set get delete", []op{
			get("a", nil), set("a", "1", h), get("a", []byte("1")), set("a", "2", h), get("a", []byte("2")),
			del("a"), get("a", nil), del("a"), get("a", nil),
		}},
		{"expiry", []op{
			set("a", "1", time.Second), get("a", []byte("1")), advance(999 * time.Millisecond), get("a", []byte("1")),
			advance(time.Millisecond), get("a", nil), rows(1),
			cas("a", "1", "2", h, false), cas("a", "1", "", h, false), get("a", nil),
		}},
		{"set in the past deletes", []op{
			set("a", "1", h), set("a", "2", 0), get("a", nil), rows(0),
			set("a", "1", h), set("a", "2", -time.Second), get("a", nil), rows(0),
		}},
		{"insert if absent", []op{
			cas("a", "", "1", h, true), get("a", []byte("1")), cas("a", "", "2", h, false), get("a", []byte("1")),
			// Same value and expiry as the live row: still a mismatch.
			cas("a", "", "1", h, false), get("a", []byte("1")),
			// A failed attempt leaves no trace that could make the next
			// insert on the same connection look failed (MySQL's insert ID).
			cas("b", "", "1", h, true), get("b", []byte("1")),
			cas("b", "1", "1", h, true), cas("c", "1", "1", h, false), cas("c", "", "1", h, true),
		}},
		{"insert over an expired row", []op{
			set("a", "1", time.Second), advance(time.Second), cas("a", "", "1", time.Second, true), get("a", []byte("1")),
			advance(time.Second), cas("a", "", "2", h, true), get("a", []byte("2")), rows(1),
		}},
		{"insert already expired", []op{
			cas("a", "", "1", 0, true), get("a", nil), rows(0),
			set("a", "1", h), cas("a", "", "2", -time.Second, false), get("a", []byte("1")),
			advance(2 * h), cas("a", "", "2", 0, true), get("a", nil),
		}},
		{"replace", []op{
			cas("a", "1", "2", h, false), set("a", "1", h), cas("a", "x", "2", h, false), get("a", []byte("1")),
			cas("a", "1", "2", h, true), get("a", []byte("2")), cas("a", "1", "3", h, false), get("a", []byte("2")),
		}},
		{"replace with the same value and expiry", []op{
			set("a", "1", h), cas("a", "1", "1", h, true), cas("a", "1", "1", h, true), get("a", []byte("1")),
			cas("a", "1", "1", 2*h, true), advance(90 * time.Minute), get("a", []byte("1")),
			cas("a", "2", "2", h, false),
		}},
		{"replace extends and shortens", []op{
			set("a", "1", time.Second), cas("a", "1", "2", h, true), advance(time.Minute), get("a", []byte("2")),
			cas("a", "2", "3", time.Second, true), advance(time.Second), get("a", nil),
		}},
		{"replace into the past deletes", []op{
			set("a", "1", h), cas("a", "1", "2", 0, true), get("a", nil), rows(0), cas("a", "1", "2", -h, false),
		}},
		{"delete if equal", []op{
			cas("a", "1", "", h, false), set("a", "1", h), cas("a", "2", "", h, false), get("a", []byte("1")),
			cas("a", "1", "", h, true), get("a", nil), rows(0), cas("a", "1", "", h, false),
		}},
		{"both empty does nothing", []op{
			cas("a", "", "", h, false), rows(0), set("a", "1", h), cas("a", "", "", h, false), get("a", []byte("1")),
		}},
		{"keys compare byte for byte", []op{
			set("Key", "upper", h), set("key", "lower", h), set("KEY", "caps", h),
			get("Key", []byte("upper")), get("key", []byte("lower")), get("KEY", []byte("caps")), get("kEy", nil),
			set("a", "1", h), get("a~", nil), set(`a\`, "2", h), get("a", []byte("1")), get(`a\`, []byte("2")),
			get("a%", nil), get("_", nil), cas("A", "", "x", h, true), get("a", []byte("1")),
		}},
		{"keys with SQL metacharacters", []op{
			set(`'";--`, "1", h), get(`'";--`, []byte("1")), set("%_*?", "2", h), get("%_*?", []byte("2")),
			get("%", nil), get("%_%", nil), set("`x`", "3", h), get("`x`", []byte("3")),
			set(`$1`, "4", h), get(`$1`, []byte("4")), get("?", nil),
		}},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, sc := range scenarios {
			t.Run(sc.name, func(t *testing.T) {
				c := newClock()
				s := newTestStore(t, b, Config{Now: c.Now})
				ctx := context.Background()
				for i, o := range sc.ops {
					got, err := o.do(ctx, s, c)
					if o.wantErr != nil {
						if !errors.Is(err, o.wantErr) {
							t.Fatalf("step %d %s: error %v, want %v", i, o.name, err, o.wantErr)
						}
						continue
					}
					if err != nil {
						t.Fatalf("step %d %s: %v", i, o.name, err)
					}
					if wb, ok := o.want.([]byte); ok {
						if gb, _ := got.([]byte); !bytes.Equal(gb, wb) {
							t.Fatalf("step %d %s = %q, want %q", i, o.name, gb, wb)
						}
					} else if o.want != nil && got != o.want {
						t.Fatalf("step %d %s = %v, want %v", i, o.name, got, o.want)
					}
				}
			})
		}
	})
}

// TestValuesAndKeys round-trips values of every byte and size, and keys at
// the edges of the key rules, on every backend.
func TestValuesAndKeys(t *testing.T) {
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	big := bytes.Repeat([]byte{0, 0xff, 'x', 0x80}, store.MaxValueSize/4)
	var printable strings.Builder
	for c := byte(0x21); c <= 0x7e; c++ {
		printable.WriteByte(c)
	}
	longKey := strings.Repeat("k", store.MaxKeySize)
	values := []struct {
		name  string
		key   string
		value []byte
	}{
		{"one byte", "a", []byte{0}},
		{"every byte", "b", allBytes},
		{"invalid UTF-8", "c", []byte{0xc3, 0x28, 0xa0, 0xa1}},
		{"trailing spaces and NULs", "d", []byte("x  \x00\x00")},
		{"MaxValueSize", "e", big},
		{"every printable key byte", printable.String(), []byte("p")},
		{"longest key", longKey, []byte("l")},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		s := newTestStore(t, b, Config{})
		ctx := context.Background()
		exp := time.Now().Add(time.Hour)
		for _, v := range values {
			t.Run(v.name, func(t *testing.T) {
				if err := s.Set(ctx, v.key, v.value, exp); err != nil {
					t.Fatal(err)
				}
				got, err := s.Get(ctx, v.key)
				if err != nil || !bytes.Equal(got, v.value) {
					t.Fatalf("Get = %d bytes, %v; want %d bytes", len(got), err, len(v.value))
				}
				ok, err := s.CompareAndSwap(ctx, v.key, v.value, append([]byte("new"), v.value[:min(len(v.value), 100)]...), exp)
				if err != nil || !ok {
					t.Fatalf("CompareAndSwap = %v, %v; want true", ok, err)
				}
			})
		}
		t.Run("value with trailing byte differs", func(t *testing.T) {
			if err := s.Set(ctx, "t", []byte("ab"), exp); err != nil {
				t.Fatal(err)
			}
			for _, old := range []string{"ab ", "ab\x00", "a", "AB"} {
				if ok, err := s.CompareAndSwap(ctx, "t", []byte(old), []byte("z"), exp); ok || err != nil {
					t.Fatalf("CompareAndSwap(old=%q) = %v, %v; want false", old, ok, err)
				}
			}
		})
	})
}

// TestInvalidArguments checks that bad input is refused before any I/O,
// with the store package's errors.
func TestInvalidArguments(t *testing.T) {
	s := newTestStore(t, backends()[len(backends())-1], Config{})
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	tooBig := make([]byte, store.MaxValueSize+1)
	cases := []struct {
		name string
		err  error
		do   func() error
	}{
		{"Get empty key", store.ErrInvalidKey, func() error { _, err := s.Get(ctx, ""); return err }},
		{"Get space", store.ErrInvalidKey, func() error { _, err := s.Get(ctx, "a b"); return err }},
		{"Get NUL", store.ErrInvalidKey, func() error { _, err := s.Get(ctx, "a\x00"); return err }},
		{"Get 256 bytes", store.ErrInvalidKey, func() error { _, err := s.Get(ctx, strings.Repeat("k", 256)); return err }},
		{"Get UTF-8", store.ErrInvalidKey, func() error { _, err := s.Get(ctx, "ключ"); return err }},
		{"Set empty value", store.ErrInvalidValue, func() error { return s.Set(ctx, "k", nil, exp) }},
		{"Set too big", store.ErrInvalidValue, func() error { return s.Set(ctx, "k", tooBig, exp) }},
		{"Set zero expiry", store.ErrInvalidExpiry, func() error { return s.Set(ctx, "k", []byte("v"), time.Time{}) }},
		{"Set bad key", store.ErrInvalidKey, func() error { return s.Set(ctx, "\t", []byte("v"), exp) }},
		{"Delete bad key", store.ErrInvalidKey, func() error { return s.Delete(ctx, "") }},
		{"CAS bad key", store.ErrInvalidKey, func() error { _, err := s.CompareAndSwap(ctx, " ", nil, []byte("v"), exp); return err }},
		{"CAS old too big", store.ErrInvalidValue, func() error { _, err := s.CompareAndSwap(ctx, "k", tooBig, nil, exp); return err }},
		{"CAS new too big", store.ErrInvalidValue, func() error { _, err := s.CompareAndSwap(ctx, "k", nil, tooBig, exp); return err }},
		{"CAS zero expiry", store.ErrInvalidExpiry, func() error {
			_, err := s.CompareAndSwap(ctx, "k", nil, []byte("v"), time.Time{})
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.do(); !errors.Is(err, c.err) {
				t.Fatalf("error %v, want %v", err, c.err)
			}
		})
	}
	if n := count(t, s); n != 0 {
		t.Fatalf("%d rows after invalid calls, want 0", n)
	}
	// An empty new ignores expiresAt, even the zero time.
	if ok, err := s.CompareAndSwap(ctx, "k", []byte("v"), nil, time.Time{}); ok || err != nil {
		t.Fatalf("CompareAndSwap delete with zero expiry = %v, %v; want false, nil", ok, err)
	}
}

// TestConcurrentIncrements has 16 goroutines increment one counter with
// CompareAndSwap loops: no increment may be lost or doubled, and transient
// conflicts (InnoDB deadlocks, SQLITE_BUSY) must be retried, not returned.
func TestConcurrentIncrements(t *testing.T) {
	const workers, each = 16, 8
	forEachBackend(t, func(t *testing.T, b backend) {
		s := newTestStore(t, b, Config{})
		var retries atomic.Int32
		s.onRetry = func(error) { retries.Add(1) }
		defer func() { t.Logf("%d statements retried after a transient conflict", retries.Load()) }()
		ctx := context.Background()
		exp := time.Now().Add(time.Hour)
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					for {
						cur, err := s.Get(ctx, "counter")
						var old []byte
						n := 0
						switch {
						case errors.Is(err, store.ErrNotFound):
						case err != nil:
							errs <- err
							return
						default:
							old = cur
							n, _ = strconv.Atoi(string(cur))
						}
						ok, err := s.CompareAndSwap(ctx, "counter", old, []byte(strconv.Itoa(n+1)), exp)
						if err != nil {
							errs <- err
							return
						}
						if ok {
							break
						}
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "counter")
		if err != nil || string(got) != strconv.Itoa(workers*each) {
			t.Fatalf("counter = %q, %v; want %d", got, err, workers*each)
		}
	})
}

// TestConcurrentLock uses one key as a lock: goroutines take it with
// CompareAndSwap-if-absent and release it with CompareAndSwap-delete. Two
// holders at once, or a lost release, fail the test. Racing inserts and
// deletes of one key are what provokes InnoDB deadlocks (gap and
// insert-intention locks), which must be retried inside the store.
func TestConcurrentLock(t *testing.T) {
	const workers, each = 8, 15
	forEachBackend(t, func(t *testing.T, b backend) {
		s := newTestStore(t, b, Config{})
		var retries atomic.Int32
		s.onRetry = func(error) { retries.Add(1) }
		defer func() { t.Logf("%d statements retried after a transient conflict", retries.Load()) }()
		ctx := context.Background()
		var held atomic.Bool
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				me := []byte("holder-" + strconv.Itoa(w))
				for got := 0; got < each; {
					ok, err := s.CompareAndSwap(ctx, "lock", nil, me, time.Now().Add(time.Minute))
					if err != nil {
						errs <- err
						return
					}
					if !ok {
						continue
					}
					if !held.CompareAndSwap(false, true) {
						errs <- errors.New("two holders at once")
						return
					}
					got++
					held.Store(false)
					ok, err = s.CompareAndSwap(ctx, "lock", me, nil, time.Time{})
					if err != nil || !ok {
						errs <- fmt.Errorf("release = %v, %v", ok, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	})
}

// TestExtremeExpiries checks expiries far in the past and future, including
// beyond the range of Unix milliseconds in an int64, which are clamped.
func TestExtremeExpiries(t *testing.T) {
	cases := []struct {
		name string
		exp  time.Time
		live bool
	}{
		{"year 9999", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), true},
		{"beyond int64 milliseconds", time.Unix(1<<62, 0), true},
		{"epoch", time.Unix(0, 0), false},
		{"year 1600", time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{"before int64 milliseconds", time.Unix(-1<<62, 0), false},
		{"half a millisecond from now", time.Now().Add(500 * time.Microsecond), false},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		if b.name == "mysql-foundrows" || b.name == "mysql-interpolate" {
			t.Skip("one configuration per dialect is enough")
		}
		s := newTestStore(t, b, Config{})
		ctx := context.Background()
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				if err := s.Set(ctx, "set", []byte("v"), c.exp); err != nil {
					t.Fatal(err)
				}
				if _, err := s.Get(ctx, "set"); (err == nil) != c.live {
					t.Fatalf("after Set, Get error = %v, want live=%v", err, c.live)
				}
				if err := s.Delete(ctx, "cas"); err != nil {
					t.Fatal(err)
				}
				if ok, err := s.CompareAndSwap(ctx, "cas", nil, []byte("v"), c.exp); !ok || err != nil {
					t.Fatalf("CompareAndSwap-if-absent = %v, %v", ok, err)
				}
				if _, err := s.Get(ctx, "cas"); (err == nil) != c.live {
					t.Fatalf("after CompareAndSwap, Get error = %v, want live=%v", err, c.live)
				}
			})
		}
	})
}
