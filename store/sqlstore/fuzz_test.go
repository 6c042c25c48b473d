package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/authkit/authkit/store"
)

// FuzzAgainstMemory decodes a program of store operations from the fuzz
// input and runs it on a SQLite store and on store.Memory, which share a
// clock: every result must agree. Keys and values come from small alphabets
// so that programs hit the same entries often, including keys that differ
// only in case, empty and equal values, and expiries at, before and after
// now.
func FuzzAgainstMemory(f *testing.F) {
	f.Add([]byte{0, 0, 1, 2, 1, 0, 0, 0})
	f.Add([]byte{3, 0, 0, 1, 5, 3, 0, 1, 1, 5, 4, 3, 3, 0, 2, 1, 0, 2, 0, 0})
	f.Add([]byte{1, 1, 1, 1, 3, 1, 1, 1, 0, 4, 7, 0, 1, 3, 1, 1, 1, 3, 0, 1})
	f.Add([]byte{3, 2, 0, 3, 2, 3, 2, 0, 3, 2, 4, 2, 0, 2, 1, 3, 2, 2, 0, 0})
	f.Add([]byte{1, 0, 1, 0, 3, 0, 2, 0, 0, 4, 0, 3, 0, 0, 0, 2, 3, 0, 1, 0, 2})

	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		f.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	defer db.Close()
	c := newClock()
	s := New(db, Config{Dialect: SQLite, Table: "fuzz", Now: c.Now, CleanupInterval: -1})
	ctx := context.Background()
	if err := s.Migrate(ctx); err != nil {
		f.Fatal(err)
	}

	keys := []string{"a", "A", "b", "a~"}
	values := [][]byte{nil, []byte("1"), []byte("2"), {0, 0xff}}
	ttls := []time.Duration{-time.Second, 0, time.Millisecond, time.Second, time.Hour}

	f.Fuzz(func(t *testing.T, prog []byte) {
		if len(prog) > 400 {
			return
		}
		if _, err := db.Exec(`DELETE FROM "` + s.table + `"`); err != nil {
			t.Fatal(err)
		}
		m := store.NewMemory(store.MemoryConfig{Now: c.Now, SweepInterval: -1})
		defer m.Close()
		next := func() int {
			if len(prog) == 0 {
				return 0
			}
			b := int(prog[0])
			prog = prog[1:]
			return b
		}
		for step := 0; len(prog) > 0; step++ {
			op := next() % 5
			key := keys[next()%len(keys)]
			switch op {
			case 0:
				got, err := s.Get(ctx, key)
				want, werr := m.Get(ctx, key)
				if !bytes.Equal(got, want) || !errors.Is(err, werr) && (err != nil || werr != nil) {
					t.Fatalf("step %d Get(%q) = %q, %v; memory %q, %v", step, key, got, err, want, werr)
				}
			case 1:
				v := values[1+next()%(len(values)-1)]
				exp := c.After(ttls[next()%len(ttls)])
				if err := s.Set(ctx, key, v, exp); err != nil {
					t.Fatalf("step %d Set: %v", step, err)
				}
				if err := m.Set(ctx, key, v, exp); err != nil {
					t.Fatal(err)
				}
			case 2:
				if err := s.Delete(ctx, key); err != nil {
					t.Fatalf("step %d Delete: %v", step, err)
				}
				if err := m.Delete(ctx, key); err != nil {
					t.Fatal(err)
				}
			case 3:
				old, v := values[next()%len(values)], values[next()%len(values)]
				exp := c.After(ttls[next()%len(ttls)])
				got, err := s.CompareAndSwap(ctx, key, old, v, exp)
				if err != nil {
					t.Fatalf("step %d CompareAndSwap: %v", step, err)
				}
				want, err := m.CompareAndSwap(ctx, key, old, v, exp)
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Fatalf("step %d CompareAndSwap(%q, %q, %q, %v) = %v; memory %v", step, key, old, v, exp.Sub(c.Now()), got, want)
				}
			case 4:
				c.Add(time.Duration(next()%3) * 500 * time.Millisecond)
			}
		}
	})
}
