package storetest

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authkit/authkit/store"
)

// bugs selects the ways a fake store breaks the contract.
type bugs struct {
	nonAtomicCAS     bool // CompareAndSwap reads, yields, then writes
	getIgnoresExpiry bool // Get returns expired entries
	aliases          bool // values are stored and returned without copying
	ignoresKeyRules  bool // any key is accepted
	mismatchIsError  bool // a CompareAndSwap mismatch returns an error
	casIgnoresExpiry bool // CompareAndSwap sees expired entries as present
	ignoresContext   bool // a done context is not checked
	keepsFirstExpiry bool // Set over a live entry keeps its expiry
	foldsCase        bool // keys compared case-insensitively
	replaysWrites    bool // a Set is applied again after the next write to its key
	dropsWrites      bool // every third Set returns nil without applying
	failsAfterWrite  bool // every third Set applies, then returns an error
	bareErrors       bool // a done context gives an error that does not wrap ctx.Err()
}

// fake is a small map-based Store, correct unless its bugs say otherwise.
type fake struct {
	bugs
	mu     sync.Mutex
	m      map[string]fakeEntry
	sets   int                  // Set calls, for dropsWrites and failsAfterWrite
	replay map[string]fakeEntry // replaysWrites: the last Set of each key, to apply again
}

type fakeEntry struct {
	value   []byte
	expires time.Time
}

var errMismatch = errors.New("fake: value mismatch")

func newFake(b bugs) *fake {
	return &fake{bugs: b, m: map[string]fakeEntry{}, replay: map[string]fakeEntry{}}
}

var errBare = errors.New("fake: i/o timeout")

func (f *fake) begin(ctx context.Context, key string) (string, error) {
	if !f.ignoresContext {
		if err := ctx.Err(); err != nil {
			if f.bareErrors {
				return "", errBare
			}
			return "", err
		}
	}
	if !f.ignoresKeyRules {
		if err := store.CheckKey(key); err != nil {
			return "", err
		}
	}
	if f.foldsCase {
		key = strings.ToLower(key)
	}
	return key, nil
}

func (f *fake) copy(b []byte) []byte {
	if f.aliases {
		return b
	}
	return bytes.Clone(b)
}

func (f *fake) Get(ctx context.Context, key string) ([]byte, error) {
	key, err := f.begin(ctx, key)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.m[key]
	if !ok || (!f.getIgnoresExpiry && !e.expires.After(time.Now())) {
		return nil, store.ErrNotFound
	}
	return f.copy(e.value), nil
}

func (f *fake) Set(ctx context.Context, key string, value []byte, expiresAt time.Time) error {
	key, err := f.begin(ctx, key)
	if err != nil {
		return err
	}
	if err := store.CheckValue(value); err != nil {
		return err
	}
	if err := store.CheckExpiry(expiresAt); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sets++
	if f.dropsWrites && f.sets%3 == 0 {
		return nil
	}
	defer f.replayAfter(key)()
	now := time.Now()
	if !expiresAt.After(now) {
		delete(f.m, key)
		return nil
	}
	if e, ok := f.m[key]; ok && f.keepsFirstExpiry && e.expires.After(now) {
		expiresAt = e.expires
	}
	f.m[key] = fakeEntry{f.copy(value), expiresAt}
	if f.replaysWrites {
		f.replay[key] = f.m[key]
	}
	if f.failsAfterWrite && f.sets%3 == 0 {
		return errors.New("fake: connection lost")
	}
	return nil
}

// replayAfter returns a function that applies the last Set of key again,
// as a client that re-sends a write whose reply it lost would; writes defer
// it so that it lands after them. The caller holds f.mu.
func (f *fake) replayAfter(key string) func() {
	e, ok := f.replay[key]
	if !ok {
		return func() {}
	}
	delete(f.replay, key)
	return func() { f.m[key] = e }
}

func (f *fake) Delete(ctx context.Context, key string) error {
	key, err := f.begin(ctx, key)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.replayAfter(key)()
	delete(f.m, key)
	return nil
}

func (f *fake) CompareAndSwap(ctx context.Context, key string, old, new []byte, expiresAt time.Time) (bool, error) {
	key, err := f.begin(ctx, key)
	if err != nil {
		return false, err
	}
	if err := store.CheckCompareAndSwap("k", old, new, expiresAt); err != nil {
		return false, err
	}
	if len(old) == 0 && len(new) == 0 {
		return false, nil
	}
	f.mu.Lock()
	e, present := f.m[key]
	if f.nonAtomicCAS {
		// Read, let others run, then write: two callers can both see the
		// same old value and both "succeed".
		f.mu.Unlock()
		runtime.Gosched()
		f.mu.Lock()
	}
	defer f.mu.Unlock()
	defer f.replayAfter(key)()
	now := time.Now()
	if present && !f.casIgnoresExpiry && !e.expires.After(now) {
		present = false
	}
	var match bool
	if len(old) == 0 {
		match = !present
	} else {
		match = present && bytes.Equal(e.value, old)
	}
	if !match {
		if f.mismatchIsError {
			return false, errMismatch
		}
		return false, nil
	}
	if len(new) == 0 || !expiresAt.After(now) {
		delete(f.m, key)
		return true, nil
	}
	f.m[key] = fakeEntry{f.copy(new), expiresAt}
	return true, nil
}

// TestSuitePasses runs the suite, through the recorder, against stores that
// keep the contract: the recorder reports no failure, so the failures the
// broken stores below produce are theirs.
func TestSuitePasses(t *testing.T) {
	t.Parallel()
	stores := []struct {
		name     string
		newStore func(testingT) store.Store
	}{
		{"fake", func(testingT) store.Store { return newFake(bugs{}) }},
		{"Memory", func(t testingT) store.Store {
			m := store.NewMemory(store.MemoryConfig{})
			t.Cleanup(func() { m.Close() })
			return m
		}},
	}
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			if log := runSuite(s.newStore); len(log.Leaves()) > 0 {
				t.Errorf("the suite failed a correct store:%s", log.Summary())
			}
		})
	}
}

// TestSuiteCatchesBrokenStores runs the suite against stores that each break
// one rule, and checks which subtests catch them.
func TestSuiteCatchesBrokenStores(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		bugs     bugs
		caughtBy []string // subtests that must fail
	}{
		{
			name: "CompareAndSwap not atomic",
			bugs: bugs{nonAtomicCAS: true},
			caughtBy: []string{
				"Race/CompareAndSwapCounter",
				"Race/CompareAndSwapIfAbsentOneWinner",
				"Race/CompareAndSwapDeleteOneWinner",
			},
		},
		{
			name: "Get ignores expiry",
			bugs: bugs{getIgnoresExpiry: true},
			caughtBy: []string{
				"Expiry/WhileStored",
				"Expiry/SetReplacesExpiry",
				"Expiry/CompareAndSwapSetsExpiry",
			},
		},
		{
			name: "values aliased",
			bugs: bugs{aliases: true},
			caughtBy: []string{
				"Aliasing/SetValue",
				"Aliasing/GetResult",
				"Aliasing/CompareAndSwapNew",
			},
		},
		{
			name:     "key rules ignored",
			bugs:     bugs{ignoresKeyRules: true},
			caughtBy: []string{"Keys/Invalid"},
		},
		{
			name: "mismatch is an error",
			bugs: bugs{mismatchIsError: true},
			caughtBy: []string{
				"CompareAndSwap/Cases/Absent/OldValue/NewValue",
				"CompareAndSwap/Cases/Present/OldEmpty/NewValue",
				"CompareAndSwap/Cases/Present/OldMismatches/NewValue",
				"CompareAndSwap/ByteExact",
				"Race/CompareAndSwapIfAbsentOneWinner",
			},
		},
		{
			name:     "CompareAndSwap sees expired entries",
			bugs:     bugs{casIgnoresExpiry: true},
			caughtBy: []string{"Expiry/ExpiredIsAbsentToCompareAndSwap"},
		},
		{
			name:     "context ignored",
			bugs:     bugs{ignoresContext: true},
			caughtBy: []string{"Context/Canceled", "Context/DeadlineExceeded"},
		},
		{
			name:     "Set keeps the first expiry",
			bugs:     bugs{keepsFirstExpiry: true},
			caughtBy: []string{"Expiry/SetReplacesExpiry"},
		},
		{
			name:     "keys folded to lower case",
			bugs:     bugs{foldsCase: true},
			caughtBy: []string{"Keys/Valid", "Keys/ByteForByte"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			log := runSuite(func(testingT) store.Store { return newFake(tt.bugs) })
			if len(log.Leaves()) == 0 {
				t.Fatal("the suite passed a broken store")
			}
			for _, name := range tt.caughtBy {
				if !log.Failed(name) {
					t.Errorf("subtest %s did not catch it", name)
				}
			}
			t.Logf("caught by:%s", log.Summary())
		})
	}
}

// TestRecorder checks the recorder itself: failures, FailNow, panics and
// parallel subtests are recorded under the right names.
func TestRecorder(t *testing.T) {
	r := newRecorder()
	var reached bool
	r.Run("", func(t testingT) {
		t.Run("ok", func(t testingT) {})
		t.Run("error", func(t testingT) { t.(*recorder).Errorf("e") })
		t.Run("fail", func(t testingT) { t.Fail() })
		t.Run("failnow", func(t testingT) {
			t.FailNow()
			reached = true
		})
		t.Run("panic", func(t testingT) { panic("p") })
		t.Run("group", func(t testingT) {
			t.Run("parallel", func(t testingT) {
				t.Parallel()
				time.Sleep(10 * time.Millisecond)
				t.(*recorder).Errorf("late")
			})
		})
	})
	want := []string{"error", "group/parallel", "panic"}
	if got := r.log.Leaves(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("leaves with messages = %q, want %q", got, want)
	}
	for name, failed := range map[string]bool{"group": true, "fail": true, "failnow": true, "ok": false} {
		if r.log.Failed(name) != failed {
			t.Errorf("Failed(%q) = %v, want %v", name, !failed, failed)
		}
	}
	if reached {
		t.Error("FailNow did not end the subtest")
	}
}

// TestReportGroups checks that the suite reports one line per rule and
// method, with a count, for a store that ignores the key rules.
func TestReportGroups(t *testing.T) {
	t.Parallel()
	log := runSuite(func(testingT) store.Store { return newFake(bugs{ignoresKeyRules: true}) })
	lines := log.report.lines()
	if len(lines) == 0 || len(lines) > 6 {
		t.Fatalf("report has %d lines, want 1 to 6:%s", len(lines), log.Summary())
	}
	for _, method := range []string{"Get", "Set", "Delete", "CompareAndSwap"} {
		found := false
		for _, l := range lines {
			if strings.HasPrefix(l, method+": want ErrInvalidKey: ") && strings.Contains(l, " failures in Keys/Invalid; first: ") {
				found = true
			}
		}
		if !found {
			t.Errorf("no line for %s breaking the key rules:%s", method, log.Summary())
		}
	}
}

// TestRunStdlib runs the exported Run on *testing.T against the fake.
func TestRunStdlib(t *testing.T) {
	t.Parallel()
	Run(t, func(*testing.T) store.Store { return newFake(bugs{}) })
}

func TestUniqueID(t *testing.T) {
	a, b := UniqueID(), UniqueID()
	if len(a) != 16 || a == b || strings.Trim(a, "0123456789abcdef") != "" {
		t.Errorf("UniqueID() = %q, %q", a, b)
	}
}

func TestEnv(t *testing.T) {
	t.Setenv("STORETEST_ENV_TEST", "value")
	if got := Env(t, "STORETEST_ENV_TEST"); got != "value" {
		t.Errorf("Env = %q", got)
	}
	t.Run("unset skips", func(t *testing.T) {
		t.Setenv("STORETEST_ENV_TEST", "")
		Env(t, "STORETEST_ENV_TEST")
		t.Error("Env did not skip")
	})
}
