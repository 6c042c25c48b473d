package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
}

// run is Run on a testingT.
func run(t testingT, newStore func(testingT) store.Store) {
	t.Helper()
	for _, g := range groups {
		t.Run(g.name, func(t testingT) {
			for _, tc := range g.cases {
				t.Run(tc.name, func(t testingT) {
					t.Parallel()
					tc.f(newChecker(t, newStore))
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
	wantErr(c.t, `Set("fresh", zero expiry)`, c.s.Set(c.ctx, "fresh", v1, zero), store.ErrInvalidExpiry)
	c.absent("fresh")

	c.set("k", v1, later())
	wantErr(c.t, `Set("k", zero expiry) over a stored value`, c.s.Set(c.ctx, "k", v2, zero), store.ErrInvalidExpiry)
	c.has("k", v1)

	_, err := c.s.CompareAndSwap(c.ctx, "fresh", nil, v1, zero)
	wantErr(c.t, `CompareAndSwap("fresh", old empty, zero expiry)`, err, store.ErrInvalidExpiry)
	c.absent("fresh")
	_, err = c.s.CompareAndSwap(c.ctx, "k", v1, v2, zero)
	wantErr(c.t, `CompareAndSwap("k", old matching, zero expiry)`, err, store.ErrInvalidExpiry)
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
			c.t.Errorf("Set(%q, expiry %s) = %v, want nil", k, p.name, err)
		}
		c.absent(k)

		// So is a stored key overwritten with one.
		k = "set-over-" + p.name
		c.set(k, v1, later())
		if err := c.s.Set(c.ctx, k, v2, p.at()); err != nil {
			c.t.Errorf("Set(%q, expiry %s) = %v, want nil", k, p.name, err)
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
	c.cas("extended", v1, v2, later(), true)
	c.hasBefore("new", v1, exp)
	c.hasBefore("replaced", v2, exp)
	sleepUntil(exp)
	c.absent("new")
	c.absent("replaced")
	c.absent("same-value")
	c.has("extended", v2)
}

// ---- Keys ----

// printable returns n bytes cycling through every printable ASCII byte,
// starting at start (0..93).
func printable(n, start int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(0x21 + (start+i)%94)
	}
	return string(b)
}

var invalidKeys = []struct{ name, key string }{
	{"empty", ""},
	{"256 bytes", strings.Repeat("k", 256)},
	{"4096 bytes", strings.Repeat("k", 4096)},
	{"space", "a b"},
	{"leading space", " a"},
	{"trailing space", "a "},
	{"only a space", " "},
	{"NUL", "a\x00b"},
	{"tab", "a\tb"},
	{"newline", "a\n"},
	{"CR LF", "a\r\n"},
	{"0x1F", "a\x1f"},
	{"DEL 0x7F", "a\x7f"},
	{"0x80", "a\x80"},
	{"0xFF", "\xff"},
	{"non-ASCII UTF-8", "café"},
	{"255 bytes ending in non-ASCII", strings.Repeat("k", 253) + "é"},
}

func testInvalidKeys(c *checker) {
	for _, k := range invalidKeys {
		_, err := c.s.Get(c.ctx, k.key)
		wantErr(c.t, "Get(key "+k.name+")", err, store.ErrInvalidKey)
		wantErr(c.t, "Set(key "+k.name+")", c.s.Set(c.ctx, k.key, v1, later()), store.ErrInvalidKey)
		wantErr(c.t, "Delete(key "+k.name+")", c.s.Delete(c.ctx, k.key), store.ErrInvalidKey)
		_, err = c.s.CompareAndSwap(c.ctx, k.key, nil, v1, later())
		wantErr(c.t, "CompareAndSwap(key "+k.name+", old empty)", err, store.ErrInvalidKey)
		_, err = c.s.CompareAndSwap(c.ctx, k.key, v1, v2, later())
		wantErr(c.t, "CompareAndSwap(key "+k.name+", old set)", err, store.ErrInvalidKey)
		_, err = c.s.CompareAndSwap(c.ctx, k.key, v1, nil, later())
		wantErr(c.t, "CompareAndSwap(key "+k.name+", new empty)", err, store.ErrInvalidKey)
		_, err = c.s.CompareAndSwap(c.ctx, k.key, nil, nil, later())
		wantErr(c.t, "CompareAndSwap(key "+k.name+", old and new empty)", err, store.ErrInvalidKey)
	}
	// Nothing was stored under a cleaned-up form of a refused key.
	for _, k := range []string{"ab", "a", "k", strings.Repeat("k", 255), "caf", "cafe", "a_b", "a%20b"} {
		c.absent(k)
	}
}

var validKeys = []string{
	"!",
	"~",
	"k",
	"0",
	printable(94, 0),  // every printable byte once
	printable(255, 0), // the longest key
	printable(255, 7),
	strings.Repeat("~", 255),
	"sess:0123456789abcdef",
	"a%", "a_", "%", "_", "*", "?", "[a-z]", "^$", ".*", // LIKE and glob metacharacters
	"'", `"`, "`", `\`, `\\`, "--", ";", "'--", `\x00`, // quoting and escaping
	"{tag}", "{", "}", "#", "/", "%s%d", "$1", "?1", ":1", "@p1",
	"NULL", "null", "DEFAULT",
}

func testValidKeys(c *checker) {
	val := func(i int, gen string) []byte { return []byte(fmt.Sprintf("%s-%d", gen, i)) }
	for i, k := range validKeys {
		c.set(k, val(i, "set"), later())
	}
	// Read back after all were written: every key kept its own value.
	for i, k := range validKeys {
		c.has(k, val(i, "set"))
	}
	for i, k := range validKeys {
		c.cas(k, val(i, "set"), val(i, "cas"), later(), true)
	}
	for i, k := range validKeys {
		c.has(k, val(i, "cas"))
	}
	for _, k := range validKeys {
		c.del(k)
		c.absent(k)
	}
	for i, k := range validKeys {
		c.cas(k, nil, val(i, "absent"), later(), true)
		c.has(k, val(i, "absent"))
	}
}

func testKeysByteForByte(c *checker) {
	long := printable(255, 0)
	lastFlipped := long[:254] + string(long[254]+1)
	keys := []string{
		"a", "A", // case
		"k", "k~", "k!", // a longer key with the shortest one as a prefix
		"ab", "a_", "a%", "aB", "Ab", // LIKE wildcards, case
		"a*", "a?", "a[b]", // glob
		long, lastFlipped, long[:254], // the last byte counts
		"s", "S", "ss", "SS", // folded by some collations
	}
	for i, k := range keys {
		c.set(k, []byte("v"+strconv.Itoa(i)), later())
	}
	for i, k := range keys {
		c.has(k, []byte("v"+strconv.Itoa(i)))
	}
	// Deleting half leaves the other half untouched.
	for i, k := range keys {
		if i%2 == 0 {
			c.del(k)
		}
	}
	for i, k := range keys {
		if i%2 == 0 {
			c.absent(k)
		} else {
			c.has(k, []byte("v"+strconv.Itoa(i)))
		}
	}
}

// ---- Values ----

// pattern returns n bytes of a fixed pseudo-random sequence seeded by seed.
func pattern(n int, seed uint32) []byte {
	b := make([]byte, n)
	x := seed | 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x >> 24)
	}
	return b
}

func testInvalidValues(c *checker) {
	tooBig := pattern(store.MaxValueSize+1, 1)
	c.set("k", v1, later())
	bad := []struct {
		name  string
		value []byte
	}{
		{"nil", nil},
		{"zero-length", []byte{}},
		{"MaxValueSize+1 bytes", tooBig},
	}
	for _, b := range bad {
		wantErr(c.t, "Set(stored key, value "+b.name+")", c.s.Set(c.ctx, "k", b.value, later()), store.ErrInvalidValue)
		wantErr(c.t, "Set(new key, value "+b.name+")", c.s.Set(c.ctx, "fresh", b.value, later()), store.ErrInvalidValue)
	}
	_, err := c.s.CompareAndSwap(c.ctx, "k", v1, tooBig, later())
	wantErr(c.t, "CompareAndSwap(new MaxValueSize+1 bytes, old matching)", err, store.ErrInvalidValue)
	_, err = c.s.CompareAndSwap(c.ctx, "fresh", nil, tooBig, later())
	wantErr(c.t, "CompareAndSwap(new MaxValueSize+1 bytes, old empty)", err, store.ErrInvalidValue)
	_, err = c.s.CompareAndSwap(c.ctx, "k", tooBig, v2, later())
	wantErr(c.t, "CompareAndSwap(old MaxValueSize+1 bytes)", err, store.ErrInvalidValue)
	// Refused writes changed nothing.
	c.has("k", v1)
	c.absent("fresh")
}

func testMaxSizeValue(c *checker) {
	big := pattern(store.MaxValueSize, 2)
	big2 := pattern(store.MaxValueSize, 3)
	c.set("k", big, later())
	c.has("k", big)
	// A mismatch in the very last byte is a mismatch.
	almost := bytes.Clone(big)
	almost[len(almost)-1] ^= 1
	c.cas("k", almost, big2, later(), false)
	c.has("k", big)
	c.cas("k", big, big2, later(), true)
	c.has("k", big2)
	c.cas("fresh", nil, big, later(), true)
	c.has("fresh", big)
	c.cas("fresh", big, nil, later(), true)
	c.absent("fresh")
}

func testBinaryValues(c *checker) {
	every := make([]byte, 256)
	for i := range every {
		every[i] = byte(i)
	}
	reversed := make([]byte, 256)
	for i := range reversed {
		reversed[i] = byte(255 - i)
	}
	values := [][]byte{
		every,
		reversed,
		bytes.Repeat(every, 17),
		{0},
		{0, 0, 0},
		[]byte("v\x00"),
		[]byte("\x00v"),
		[]byte("v "),
		[]byte(" "),
		[]byte("v\n"),
		[]byte("\r\n"),
		[]byte("\xff\xfe\xfd"), // invalid UTF-8
		[]byte("\xc3\xa9"),     // valid UTF-8 é
		[]byte("'; DROP TABLE x; --"),
		[]byte(`\x00`),
		[]byte("0"),
		[]byte("nil"),
		[]byte("1e3"),
		[]byte("-1"),
	}
	for i, v := range values {
		k := "set-" + strconv.Itoa(i)
		c.set(k, v, later())
		c.has(k, v)
		k = "cas-" + strconv.Itoa(i)
		c.cas(k, nil, v, later(), true)
		c.has(k, v)
		// The value read back works as old.
		c.cas(k, v, every, later(), true)
		c.has(k, every)
	}
}

// ---- CompareAndSwap ----

func testCASCases(c *checker) {
	x := []byte("other")
	rows := []struct {
		name    string
		present bool   // whether v1 is stored first
		old     []byte // nil and []byte{} both mean empty
		new     []byte
		want    bool
		after   []byte // nil: absent
	}{
		{"Absent/OldEmpty/NewEmpty", false, nil, nil, false, nil},
		{"Absent/OldZeroLength/NewZeroLength", false, []byte{}, []byte{}, false, nil},
		{"Absent/OldEmpty/NewValue", false, nil, v2, true, v2},
		{"Absent/OldZeroLength/NewValue", false, []byte{}, v2, true, v2},
		{"Absent/OldValue/NewValue", false, v1, v2, false, nil},
		{"Absent/OldValue/NewEqualToOld", false, v1, v1, false, nil},
		{"Absent/OldValue/NewEmpty", false, v1, nil, false, nil},
		{"Absent/OldValue/NewZeroLength", false, v1, []byte{}, false, nil},
		{"Present/OldEmpty/NewEmpty", true, nil, nil, false, v1},
		{"Present/OldZeroLength/NewZeroLength", true, []byte{}, []byte{}, false, v1},
		{"Present/OldEmpty/NewValue", true, nil, v2, false, v1},
		{"Present/OldZeroLength/NewValue", true, []byte{}, v2, false, v1},
		{"Present/OldEmpty/NewEqualToCurrent", true, nil, v1, false, v1},
		{"Present/OldMatches/NewValue", true, v1, v2, true, v2},
		{"Present/OldMatches/NewEqualToOld", true, v1, v1, true, v1},
		{"Present/OldMatches/NewEmpty", true, v1, nil, true, nil},
		{"Present/OldMatches/NewZeroLength", true, v1, []byte{}, true, nil},
		{"Present/OldMismatches/NewValue", true, x, v2, false, v1},
		{"Present/OldMismatches/NewEqualToOld", true, x, x, false, v1},
		{"Present/OldMismatches/NewEqualToCurrent", true, x, v1, false, v1},
		{"Present/OldMismatches/NewEmpty", true, x, nil, false, v1},
	}
	for i, r := range rows {
		c.t.Run(r.name, func(t testingT) {
			rc := &checker{t: t, s: c.s, ctx: c.ctx}
			k := "row-" + strconv.Itoa(i)
			if r.present {
				rc.set(k, v1, later())
			}
			rc.cas(k, r.old, r.new, later(), r.want)
			if r.after == nil {
				rc.absent(k)
			} else {
				rc.has(k, r.after)
			}
		})
	}
}

func testCASByteExact(c *checker) {
	every := make([]byte, 256)
	for i := range every {
		every[i] = byte(i)
	}
	pairs := []struct{ stored, old string }{
		{"v", "v\x00"},
		{"v\x00", "v"},
		{"v", "v "},
		{"v ", "v"},
		{"v", " v"},
		{"a", "A"},
		{"value", "valu"},
		{"valu", "value"},
		{"\x00", "\x00\x00"},
		{"ab", "ba"},
		{"10", "10.0"},
		{"10", "1e1"},
		{"\xc3\xa9", "e\xcc\x81"}, // é composed vs decomposed
		{string(every), string(every[:255])},
		{string(every), string(every[1:])},
	}
	for i, p := range pairs {
		k := "k" + strconv.Itoa(i)
		c.set(k, []byte(p.stored), later())
		c.cas(k, []byte(p.old), v2, later(), false)
		c.cas(k, []byte(p.old), nil, later(), false)
		c.has(k, []byte(p.stored))
		c.cas(k, []byte(p.stored), v2, later(), true)
		c.has(k, v2)
	}
}

// ---- Aliasing ----

func testAliasSet(c *checker) {
	buf := []byte("value")
	c.set("k", buf, later())
	copy(buf, "XXXXX")
	c.has("k", []byte("value"))
}

func testAliasGet(c *checker) {
	c.set("k", []byte("value"), later())
	got, err := c.s.Get(c.ctx, "k")
	if err != nil {
		c.t.Fatalf("Get(%q) = %v", "k", err)
	}
	copy(got, "XXXXX")
	c.has("k", []byte("value"))
	// Two reads do not share memory either.
	a, errA := c.s.Get(c.ctx, "k")
	b, errB := c.s.Get(c.ctx, "k")
	if errA != nil || errB != nil {
		c.t.Fatalf("Get(%q) = %v, %v", "k", errA, errB)
	}
	copy(a, "YYYYY")
	if string(b) != "value" {
		c.t.Errorf("writing to one Get's result changed another's to %q", b)
	}
}

func testAliasCAS(c *checker) {
	buf := []byte("value")
	c.cas("k", nil, buf, later(), true)
	copy(buf, "XXXXX")
	c.has("k", []byte("value"))
	buf = []byte("other")
	c.cas("k", []byte("value"), buf, later(), true)
	copy(buf, "XXXXX")
	c.has("k", []byte("other"))
}

// ---- Context ----

func testCanceled(c *checker) {
	ctx, cancel := context.WithCancel(c.ctx)
	cancel()
	checkContextErrors(c, ctx, context.Canceled)
}

func testDeadlineExceeded(c *checker) {
	ctx, cancel := context.WithDeadline(c.ctx, time.Now().Add(-time.Second))
	defer cancel()
	checkContextErrors(c, ctx, context.DeadlineExceeded)
}

func checkContextErrors(c *checker, ctx context.Context, want error) {
	c.t.Helper()
	c.set("k", v1, later())
	v, err := c.s.Get(ctx, "k")
	wantErr(c.t, "Get", err, want)
	if err == nil {
		c.t.Errorf("Get with a done context returned %s", show(v))
	}
	wantErr(c.t, "Set", c.s.Set(ctx, "k", v2, later()), want)
	wantErr(c.t, "Delete", c.s.Delete(ctx, "k"), want)
	_, err = c.s.CompareAndSwap(ctx, "k", v1, v2, later())
	wantErr(c.t, "CompareAndSwap(old matching)", err, want)
	_, err = c.s.CompareAndSwap(ctx, "fresh", nil, v2, later())
	wantErr(c.t, "CompareAndSwap(old empty)", err, want)
}

// ---- Race ----

// parallel runs f(0..n-1) in n goroutines released together and waits.
func parallel(n int, f func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			f(i)
		}()
	}
	close(start)
	wg.Wait()
}

func testRaceCounter(c *checker) {
	const workers, increments = 8, 25
	const key = "counter"
	var succeeded atomic.Int64
	parallel(workers, func(w int) {
		done := 0
		for attempt := 0; done < increments; attempt++ {
			if attempt == 1000*increments {
				c.t.Errorf("worker %d: only %d increments after %d attempts", w, done, attempt)
				return
			}
			var old []byte
			n := 0
			cur, err := c.s.Get(c.ctx, key)
			switch {
			case errors.Is(err, store.ErrNotFound):
			case err != nil:
				c.t.Errorf("worker %d: Get = %v", w, err)
				return
			default:
				if n, err = strconv.Atoi(string(cur)); err != nil {
					c.t.Errorf("worker %d: the counter holds %s", w, show(cur))
					return
				}
				old = cur
			}
			ok, err := c.s.CompareAndSwap(c.ctx, key, old, []byte(strconv.Itoa(n+1)), later())
			if err != nil {
				c.t.Errorf("worker %d: CompareAndSwap(%s, %d) = %v", w, show(old), n+1, err)
				return
			}
			if ok {
				done++
				succeeded.Add(1)
			}
		}
	})
	got, err := c.s.Get(c.ctx, key)
	if err != nil {
		c.t.Fatalf("Get(counter) = %v", err)
	}
	n, _ := strconv.Atoi(string(got))
	if s := succeeded.Load(); int64(n) != s {
		c.t.Errorf("counter = %s after %d successful CompareAndSwap increments: %d lost", show(got), s, s-int64(n))
	}
}

func testRaceOneWinner(c *checker) {
	const racers, rounds = 64, 3
	for r := range rounds {
		key := "once-" + strconv.Itoa(r)
		var winners atomic.Int64
		var winner atomic.Int64
		parallel(racers, func(i int) {
			ok, err := c.s.CompareAndSwap(c.ctx, key, nil, []byte("racer-"+strconv.Itoa(i)), later())
			if err != nil {
				c.t.Errorf("racer %d: CompareAndSwap(if absent) = %v", i, err)
				return
			}
			if ok {
				winners.Add(1)
				winner.Store(int64(i))
			}
		})
		if n := winners.Load(); n != 1 {
			c.t.Errorf("round %d: %d of %d concurrent CompareAndSwap-if-absent calls succeeded, want exactly 1", r, n, racers)
			continue
		}
		c.has(key, []byte("racer-"+strconv.FormatInt(winner.Load(), 10)))
	}
}

func testRaceDeleteOneWinner(c *checker) {
	const racers, rounds = 16, 3
	for r := range rounds {
		key := "del-" + strconv.Itoa(r)
		c.set(key, v1, later())
		var winners atomic.Int64
		parallel(racers, func(i int) {
			ok, err := c.s.CompareAndSwap(c.ctx, key, v1, nil, later())
			if err != nil {
				c.t.Errorf("racer %d: CompareAndSwap(delete) = %v", i, err)
				return
			}
			if ok {
				winners.Add(1)
			}
		})
		if n := winners.Load(); n != 1 {
			c.t.Errorf("round %d: %d of %d concurrent CompareAndSwap-deletes succeeded, want exactly 1", r, n, racers)
		}
		c.absent(key)
	}
}

func testRaceSameKey(c *checker) {
	const writers, readers, iterations, size = 4, 4, 25, 4096
	const key = "shared"
	values := make([][]byte, writers)
	for w := range values {
		values[w] = bytes.Repeat([]byte{'a' + byte(w)}, size)
	}
	c.set(key, values[0], later())
	parallel(writers+readers, func(i int) {
		for range iterations {
			if i < writers {
				if err := c.s.Set(c.ctx, key, values[i], later()); err != nil {
					c.t.Errorf("writer %d: Set = %v", i, err)
					return
				}
				continue
			}
			got, err := c.s.Get(c.ctx, key)
			if err != nil {
				c.t.Errorf("reader %d: Get = %v", i, err)
				return
			}
			if len(got) != size || !bytes.Equal(got, bytes.Repeat(got[:1], size)) || got[0] < 'a' || got[0] >= 'a'+writers {
				c.t.Errorf("reader %d: Get = %s, a value no writer wrote", i, show(got))
				return
			}
		}
	})
}

func testRaceDistinctKeys(c *checker) {
	const workers, iterations = 8, 20
	parallel(workers, func(w int) {
		key := "worker-" + strconv.Itoa(w)
		for i := range iterations {
			a := []byte(fmt.Sprintf("%d-%d-a", w, i))
			b := []byte(fmt.Sprintf("%d-%d-b", w, i))
			if err := c.s.Set(c.ctx, key, a, later()); err != nil {
				c.t.Errorf("worker %d: Set = %v", w, err)
				return
			}
			if got, err := c.s.Get(c.ctx, key); err != nil || !bytes.Equal(got, a) {
				c.t.Errorf("worker %d: Get after Set = %s, %v; want %s", w, show(got), err, show(a))
				return
			}
			if ok, err := c.s.CompareAndSwap(c.ctx, key, a, b, later()); err != nil || !ok {
				c.t.Errorf("worker %d: CompareAndSwap = %v, %v; want true", w, ok, err)
				return
			}
			if got, err := c.s.Get(c.ctx, key); err != nil || !bytes.Equal(got, b) {
				c.t.Errorf("worker %d: Get after CompareAndSwap = %s, %v; want %s", w, show(got), err, show(b))
				return
			}
			if err := c.s.Delete(c.ctx, key); err != nil {
				c.t.Errorf("worker %d: Delete = %v", w, err)
				return
			}
			if got, err := c.s.Get(c.ctx, key); !errors.Is(err, store.ErrNotFound) {
				c.t.Errorf("worker %d: Get after Delete = %s, %v; want ErrNotFound", w, show(got), err)
				return
			}
		}
	})
}
