package storetest

import (
	"time"

	"github.com/authkit/authkit/store"
)

// testCase is one subtest of the suite; it gets a fresh store.
type testCase struct {
	name string
	f    func(c *checker)
}

// groups lists the suite. Groups run one after another; the cases of a group
// run in parallel, each on its own store.
var groups = []struct {
	name  string
	cases []testCase
}{
	{"Basic", []testCase{
		{"GetAbsent", testGetAbsent},
		{"SetGet", testSetGet},
		{"SetReplaces", testSetReplaces},
		{"Delete", testDelete},
		{"DeleteAbsent", testDeleteAbsent},
		{"IndependentKeys", testIndependentKeys},
	}},
	{"Expiry", []testCase{
		{"ZeroRejected", testZeroExpiry},
		{"PastIsAbsent", testPastExpiry},
		{"FarFuture", testFarFuture},
		{"WhileStored", testExpiresWhileStored},
		{"SetReplacesExpiry", testSetReplacesExpiry},
		{"ExpiredIsAbsentToCompareAndSwap", testCASOnExpired},
		{"CompareAndSwapSetsExpiry", testCASSetsExpiry},
	}},
	{"Keys", []testCase{
		{"Invalid", testInvalidKeys},
		{"Valid", testValidKeys},
		{"ByteForByte", testKeysByteForByte},
	}},
	{"Values", []testCase{
		{"Invalid", testInvalidValues},
		{"MaxSize", testMaxSizeValue},
		{"Binary", testBinaryValues},
	}},
	{"CompareAndSwap", []testCase{
		{"Cases", testCASCases},
		{"ByteExact", testCASByteExact},
	}},
	{"Aliasing", []testCase{
		{"SetValue", testAliasSet},
		{"GetResult", testAliasGet},
		{"CompareAndSwapNew", testAliasCAS},
	}},
	{"Context", []testCase{
		{"Canceled", testCanceled},
		{"DeadlineExceeded", testDeadlineExceeded},
	}},
	{"Race", []testCase{
		{"CompareAndSwapCounter", testRaceCounter},
		{"CompareAndSwapIfAbsentOneWinner", testRaceOneWinner},
		{"CompareAndSwapDeleteOneWinner", testRaceDeleteOneWinner},
		{"SameKeySetGet", testRaceSameKey},
		{"DistinctKeys", testRaceDistinctKeys},
	}},
	{"Linearizable", []testCase{
		{"RandomOperations", testLinearizable},
	}},
}

// run is Run on a testingT, collecting failures in r.
func run(t testingT, r *report, newStore func(testingT) store.Store) {
	t.Helper()
	for _, g := range groups {
		t.Run(g.name, func(t testingT) {
			for _, tc := range g.cases {
				t.Run(tc.name, func(t testingT) {
					t.Parallel()
					tc.f(newChecker(t, g.name+"/"+tc.name, r, newStore))
				})
			}
		})
	}
}

var (
	v1 = []byte("value-1")
	v2 = []byte("value-2")
)

// ---- Basic ----

func testGetAbsent(c *checker) {
	c.absent("absent")
}

func testSetGet(c *checker) {
	c.set("k", v1, later())
	c.has("k", v1)
}

func testSetReplaces(c *checker) {
	c.set("k", v1, later())
	c.set("k", v2, later())
	c.has("k", v2)
}

func testDelete(c *checker) {
	c.set("k", v1, later())
	c.del("k")
	c.absent("k")
	c.del("k") // deleting again is not an error
	c.absent("k")
}

func testDeleteAbsent(c *checker) {
	c.del("never-set")
	c.absent("never-set")
}

func testIndependentKeys(c *checker) {
	c.set("k1", v1, later())
	c.set("k2", v2, later())
	c.has("k1", v1)
	c.has("k2", v2)
	c.del("k1")
	c.absent("k1")
	c.has("k2", v2)
}

// ---- Expiry ----

func testZeroExpiry(c *checker) {
	var zero time.Time
	c.wantErr(`Set("fresh", zero expiry)`, c.s.Set(c.ctx, "fresh", v1, zero), store.ErrInvalidExpiry)
	c.absent("fresh")

	c.set("k", v1, later())
	c.wantErr(`Set("k", zero expiry) over a stored value`, c.s.Set(c.ctx, "k", v2, zero), store.ErrInvalidExpiry)
	c.has("k", v1)

	_, err := c.s.CompareAndSwap(c.ctx, "fresh", nil, v1, zero)
	c.wantErr(`CompareAndSwap("fresh", old empty, zero expiry)`, err, store.ErrInvalidExpiry)
	c.absent("fresh")
	_, err = c.s.CompareAndSwap(c.ctx, "k", v1, v2, zero)
	c.wantErr(`CompareAndSwap("k", old matching, zero expiry)`, err, store.ErrInvalidExpiry)
	c.has("k", v1)

	// An empty new means delete: expiresAt is ignored, zero included.
	c.cas("k", v1, nil, zero, true)
	c.absent("k")
}

func testPastExpiry(c *checker) {
	pasts := []struct {
		name string
		at   func() time.Time
	}{
		{"now", time.Now},
		{"1s-ago", func() time.Time { return time.Now().Add(-time.Second) }},
		{"unix-epoch", func() time.Time { return time.Unix(0, 0) }},
		{"before-epoch", func() time.Time { return time.Unix(-1, 0) }},
		{"year-1600", func() time.Time { return time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"year-1", func() time.Time { return time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC) }},
	}
	for _, p := range pasts {
		// A new key written with a past expiry is absent at once.
		k := "set-new-" + p.name
		if err := c.s.Set(c.ctx, k, v1, p.at()); err != nil {
			c.errorf("Set", "failed", "Set(%q, expiry %s) = %v, want nil", k, p.name, err)
		}
		c.absent(k)

		// So is a stored key overwritten with one.
		k = "set-over-" + p.name
		c.set(k, v1, later())
		if err := c.s.Set(c.ctx, k, v2, p.at()); err != nil {
			c.errorf("Set", "failed", "Set(%q, expiry %s) = %v, want nil", k, p.name, err)
		}
		c.absent(k)

		// A swap to a past expiry happens (true) and leaves nothing behind.
		k = "cas-new-" + p.name
		c.cas(k, nil, v1, p.at(), true)
		c.absent(k)
		k = "cas-over-" + p.name
		c.set(k, v1, later())
		c.cas(k, v1, v2, p.at(), true)
		c.absent(k)
	}
}

func testFarFuture(c *checker) {
	futures := []struct {
		name string
		at   time.Time
	}{
		{"in-100-years", time.Now().AddDate(100, 0, 0)},
		{"in-1000-years", time.Now().AddDate(1000, 0, 0)},
		{"year-9999", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)},
	}
	for _, f := range futures {
		c.set("set-"+f.name, v1, f.at)
		c.has("set-"+f.name, v1)
		c.cas("cas-"+f.name, nil, v1, f.at, true)
		c.has("cas-"+f.name, v1)
	}
}

func testExpiresWhileStored(c *checker) {
	exp := time.Now().Add(shortLife)
	c.set("k", v1, exp)
	c.hasBefore("k", v1, exp)
	sleepUntil(exp)
	c.absent("k")
	c.del("k") // deleting an expired key is not an error
}

func testSetReplacesExpiry(c *checker) {
	exp := time.Now().Add(shortLife)
	c.set("extended", v1, exp)
	c.set("extended", v2, later())
	c.set("shortened", v1, later())
	c.set("shortened", v2, exp)
	c.hasBefore("shortened", v2, exp)
	sleepUntil(exp)
	c.has("extended", v2)
	c.absent("shortened")
}

func testCASOnExpired(c *checker) {
	exp := time.Now().Add(shortLife)
	for _, k := range []string{"if-absent", "matching", "delete"} {
		c.set(k, v1, exp)
	}
	sleepUntil(exp)
	// Only-if-absent succeeds on an expired key.
	c.cas("if-absent", nil, v2, later(), true)
	c.has("if-absent", v2)
	// The expired value no longer matches: it is absent.
	c.cas("matching", v1, v2, later(), false)
	c.absent("matching")
	c.cas("delete", v1, nil, later(), false)
	c.absent("delete")
}

func testCASSetsExpiry(c *checker) {
	exp := time.Now().Add(shortLife)
	c.cas("new", nil, v1, exp, true)
	c.set("replaced", v1, later())
	c.cas("replaced", v1, v2, exp, true)
	c.set("same-value", v1, later())
	c.cas("same-value", v1, v1, exp, true)
	c.set("extended", v1, exp)
	extended, err := c.s.CompareAndSwap(c.ctx, "extended", v1, v2, later())
	switch {
	case err != nil:
		c.fatalf("CompareAndSwap", "failed", "CompareAndSwap(\"extended\", old %s, new %s) = %v, want (true, nil)", show(v1), show(v2), err)
	case !extended && time.Now().Before(exp):
		c.errorf("CompareAndSwap", "reported the wrong outcome", "CompareAndSwap(\"extended\", old %s, new %s) = false before the entry expired, want true", show(v1), show(v2))
	case !extended:
		c.t.Logf("CompareAndSwap(\"extended\") finished after the entry's expiry; not checking its result")
	}
	c.hasBefore("new", v1, exp)
	c.hasBefore("replaced", v2, exp)
	sleepUntil(exp)
	c.absent("new")
	c.absent("replaced")
	c.absent("same-value")
	if extended {
		c.has("extended", v2)
	}
}
