package storetest

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/authkit/authkit/store"
)

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
		c.wantErr("Get(key "+k.name+")", err, store.ErrInvalidKey)
		c.wantErr("Set(key "+k.name+")", c.s.Set(c.ctx, k.key, v1, later()), store.ErrInvalidKey)
		c.wantErr("Delete(key "+k.name+")", c.s.Delete(c.ctx, k.key), store.ErrInvalidKey)
		_, err = c.s.CompareAndSwap(c.ctx, k.key, nil, v1, later())
		c.wantErr("CompareAndSwap(key "+k.name+", old empty)", err, store.ErrInvalidKey)
		_, err = c.s.CompareAndSwap(c.ctx, k.key, v1, v2, later())
		c.wantErr("CompareAndSwap(key "+k.name+", old set)", err, store.ErrInvalidKey)
		_, err = c.s.CompareAndSwap(c.ctx, k.key, v1, nil, later())
		c.wantErr("CompareAndSwap(key "+k.name+", new empty)", err, store.ErrInvalidKey)
		_, err = c.s.CompareAndSwap(c.ctx, k.key, nil, nil, later())
		c.wantErr("CompareAndSwap(key "+k.name+", old and new empty)", err, store.ErrInvalidKey)
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
		c.wantErr("Set(stored key, value "+b.name+")", c.s.Set(c.ctx, "k", b.value, later()), store.ErrInvalidValue)
		c.wantErr("Set(new key, value "+b.name+")", c.s.Set(c.ctx, "fresh", b.value, later()), store.ErrInvalidValue)
	}
	_, err := c.s.CompareAndSwap(c.ctx, "k", v1, tooBig, later())
	c.wantErr("CompareAndSwap(new MaxValueSize+1 bytes, old matching)", err, store.ErrInvalidValue)
	_, err = c.s.CompareAndSwap(c.ctx, "fresh", nil, tooBig, later())
	c.wantErr("CompareAndSwap(new MaxValueSize+1 bytes, old empty)", err, store.ErrInvalidValue)
	_, err = c.s.CompareAndSwap(c.ctx, "k", tooBig, v2, later())
	c.wantErr("CompareAndSwap(old MaxValueSize+1 bytes)", err, store.ErrInvalidValue)
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
