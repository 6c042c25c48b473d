package storetest

import (
	"context"
	"strconv"
	"time"
)

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
			rc := c.sub(t, r.name)
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
		c.fatalf("Get", "failed", "Get(%q) = %v", "k", err)
	}
	copy(got, "XXXXX")
	c.has("k", []byte("value"))
	// Two reads do not share memory either.
	a, errA := c.s.Get(c.ctx, "k")
	b, errB := c.s.Get(c.ctx, "k")
	if errA != nil || errB != nil {
		c.fatalf("Get", "failed", "Get(%q) = %v, %v", "k", errA, errB)
	}
	copy(a, "YYYYY")
	if string(b) != "value" {
		c.errorf("Get", "returned shared memory", "writing to one Get's result changed another's to %q", b)
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
	c.wantErr("Get", err, want)
	if err == nil {
		c.errorf("Get", "returned a value with a done context", "Get with a done context returned %s", show(v))
	}
	c.wantErr("Set", c.s.Set(ctx, "k", v2, later()), want)
	c.wantErr("Delete", c.s.Delete(ctx, "k"), want)
	_, err = c.s.CompareAndSwap(ctx, "k", v1, v2, later())
	c.wantErr("CompareAndSwap(old matching)", err, want)
	_, err = c.s.CompareAndSwap(ctx, "fresh", nil, v2, later())
	c.wantErr("CompareAndSwap(old empty)", err, want)
}
