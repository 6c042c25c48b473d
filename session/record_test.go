package session

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/authkit/authkit/cookie"
)

func sampleRecord() record {
	return record{
		flags:    flagSubject | flagRemember,
		created:  1_700_000_000_000,
		touched:  1_700_000_060_000,
		idle:     30 * 60 * 1000,
		absolute: 1_700_086_400_000,
		authTime: 1_700_000_000_000,
		subject:  []byte("user-42"),
		entries: []entry{
			{key: []byte("a"), tag: tagString, val: []byte("text")},
			{key: []byte("b"), tag: tagInt, val: binary.AppendVarint(nil, -7)},
			{key: []byte("c"), tag: tagBool, val: []byte{1}},
			{key: []byte("d"), tag: tagFloat, val: binary.LittleEndian.AppendUint64(nil, math.Float64bits(1.5))},
			{key: []byte("e"), tag: tagBytes, val: nil},
			{key: []byte("f"), tag: tagJSON, val: []byte(`{"x":1}`)},
		},
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for _, r := range []record{
		sampleRecord(),
		{created: 1, touched: 1, idle: 1, absolute: 2},
	} {
		enc := appendRecord(nil, &r)
		if len(enc) != encodedLen(&r) {
			t.Errorf("encodedLen %d, encoded %d", encodedLen(&r), len(enc))
		}
		var got record
		if err := decodeRecord(enc, &got, nil); err != nil {
			t.Fatalf("decode: %v", err)
		}
		if again := appendRecord(nil, &got); !bytes.Equal(again, enc) {
			t.Errorf("re-encoding differs")
		}
		if got.deadline() != min(r.touched+r.idle, r.absolute) {
			t.Errorf("deadline %d", got.deadline())
		}
	}
}

func TestDecodeRecordRejects(t *testing.T) {
	good := sampleRecord()
	enc := appendRecord(nil, &good)
	mutate := func(f func(r *record)) []byte {
		r := sampleRecord()
		r.entries = slices.Clone(r.entries)
		f(&r)
		return appendRecord(nil, &r)
	}
	cases := map[string][]byte{
		"empty":            nil,
		"one byte":         {recordVersion},
		"unknown version":  append([]byte{2}, enc[1:]...),
		"unknown flag":     append([]byte{recordVersion, 0x80}, enc[2:]...),
		"trailing byte":    append(slices.Clone(enc), 0),
		"zero idle":        mutate(func(r *record) { r.idle = 0 }),
		"huge idle":        mutate(func(r *record) { r.idle = maxTimeoutMS + 1 }),
		"zero created":     mutate(func(r *record) { r.created = 0 }),
		"touched < create": mutate(func(r *record) { r.touched = r.created - 1 }),
		"absolute <= crt":  mutate(func(r *record) { r.absolute = r.created }),
		"no auth time":     mutate(func(r *record) { r.authTime = 0 }),
		"empty subject":    mutate(func(r *record) { r.subject = nil }),
		"long subject":     mutate(func(r *record) { r.subject = bytes.Repeat([]byte("s"), MaxSubjectLen+1) }),
		"unsorted keys":    mutate(func(r *record) { r.entries[0], r.entries[1] = r.entries[1], r.entries[0] }),
		"duplicate key":    mutate(func(r *record) { r.entries[1].key = []byte("a") }),
		"empty key":        mutate(func(r *record) { r.entries[0].key = nil }),
		"long key":         mutate(func(r *record) { r.entries[5].key = bytes.Repeat([]byte("z"), MaxKeyLen+1) }),
		"unknown tag":      mutate(func(r *record) { r.entries[0].tag = 'x' }),
		"bad int":          mutate(func(r *record) { r.entries[1].val = []byte{0x80} }),
		"int trailing":     mutate(func(r *record) { r.entries[1].val = []byte{2, 0} }),
		"bad bool":         mutate(func(r *record) { r.entries[2].val = []byte{2} }),
		"short float":      mutate(func(r *record) { r.entries[3].val = []byte{1, 2} }),
		"empty json":       mutate(func(r *record) { r.entries[5].val = nil }),
		"count too large":  append(slices.Clone(enc[:len(enc)-1-encodedEntriesLen(good.entries)]), 0xff, 0xff, 0x03),
	}
	for i := 1; i < len(enc); i++ {
		cases["truncated at "+strconv.Itoa(i)] = enc[:i]
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			var r record
			if err := decodeRecord(b, &r, nil); err == nil {
				t.Errorf("accepted %x", b)
			}
		})
	}
}

func encodedEntriesLen(es []entry) int {
	n := 0
	for _, e := range es {
		n += entryLen(len(e.key), len(e.val))
	}
	return n
}

func TestDecodeRecordNoAllocWithBuffer(t *testing.T) {
	r := sampleRecord()
	enc := appendRecord(nil, &r)
	var buf [8]entry
	var got record
	allocs := testing.AllocsPerRun(100, func() {
		if err := decodeRecord(enc, &got, buf[:]); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("decode allocates %v times", allocs)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	r := sampleRecord()
	f.Add(appendRecord(nil, &r))
	f.Add(appendRecord(nil, &record{created: 1, touched: 1, idle: 1, absolute: 2}))
	f.Add([]byte{recordVersion, 0, 2, 2, 2, 4, 0x7f})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r record
		var buf [8]entry
		if err := decodeRecord(b, &r, buf[:]); err != nil {
			return
		}
		// Anything accepted is canonical: it re-encodes to the same bytes.
		if enc := appendRecord(nil, &r); !bytes.Equal(enc, b) {
			t.Fatalf("re-encoding differs:\n%x\n%x", b, enc)
		}
		if encodedLen(&r) != len(b) {
			t.Fatalf("encodedLen %d != %d", encodedLen(&r), len(b))
		}
		// Every accepted value decodes without panicking.
		for _, e := range r.entries {
			_, _ = decodeValue[any](string(e.key), e.tag, e.val)
			_, _ = decodeValue[string](string(e.key), e.tag, e.val)
			_, _ = decodeValue[int](string(e.key), e.tag, e.val)
			_, _ = decodeValue[map[string]int](string(e.key), e.tag, e.val)
		}
	})
}

func FuzzDecodeMemberData(f *testing.F) {
	f.Add(appendMemberData(nil, device{ua: "Mozilla/5.0", ip: "192.0.2.1"}))
	f.Add(appendMemberData(nil, device{}))
	f.Add(appendMemberData(nil, device{ua: "curl", tag: "sid-1"}))
	f.Add([]byte{memberV1, 0xff, 0xff})
	f.Add([]byte{memberV2, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := decodeMemberData(b)
		if err != nil {
			return
		}
		if len(d.ua) > maxUserAgentLen || len(d.ip) > maxClientIPLen || len(d.tag) > MaxTagLen {
			t.Fatalf("over the limits: %d, %d, %d", len(d.ua), len(d.ip), len(d.tag))
		}
		if d.tag != "" && !validTag(d.tag) {
			t.Fatalf("invalid tag %q accepted", d.tag)
		}
		if enc := appendMemberData(nil, d); !bytes.Equal(enc, b) {
			t.Fatalf("re-encoding differs")
		}
	})
}

func FuzzValueRoundTrip(f *testing.F) {
	f.Add("text", int64(-3), 2.5, true, []byte{1, 2})
	f.Add("", int64(math.MaxInt64), math.Inf(1), false, []byte(nil))
	f.Fuzz(func(t *testing.T, s string, i int64, fl float64, b bool, bs []byte) {
		check := func(v any, get func(tag byte, val []byte) (any, error)) {
			tag, val, err := encodeValue(v)
			if err != nil {
				t.Fatalf("encode %#v: %v", v, err)
			}
			if !validValue(tag, val) {
				t.Fatalf("encoded %#v is not valid", v)
			}
			got, err := get(tag, val)
			if err != nil {
				t.Fatalf("decode %#v: %v", v, err)
			}
			if gf, ok := got.(float64); ok && math.IsNaN(gf) && math.IsNaN(v.(float64)) {
				return
			}
			if !equalValues(got, v) {
				t.Fatalf("round trip %#v -> %#v", v, got)
			}
		}
		check(s, func(tag byte, val []byte) (any, error) { return decodeValue[string]("k", tag, val) })
		check(i, func(tag byte, val []byte) (any, error) { return decodeValue[int64]("k", tag, val) })
		check(fl, func(tag byte, val []byte) (any, error) { return decodeValue[float64]("k", tag, val) })
		check(b, func(tag byte, val []byte) (any, error) { return decodeValue[bool]("k", tag, val) })
		check(bs, func(tag byte, val []byte) (any, error) { return decodeValue[[]byte]("k", tag, val) })
	})
}

func equalValues(a, b any) bool {
	if ab, ok := a.([]byte); ok {
		bb, _ := b.([]byte)
		return bytes.Equal(ab, bb)
	}
	return a == b
}

func TestApplyOps(t *testing.T) {
	base := []entry{
		{key: []byte("a"), tag: tagString, val: []byte("1")},
		{key: []byte("c"), tag: tagString, val: []byte("3")},
	}
	got := applyOps(nil, base, []op{
		{key: "b", kind: opSet, tag: tagString, val: []byte("2")},
		{key: "a", kind: opDel},
		{key: "c", kind: opDelIf, tag: tagString, val: []byte("other")}, // changed meanwhile: kept
		{key: "d", kind: opDelIf, tag: tagString, val: []byte("x")},     // absent: nothing
		{key: "0", kind: opSet, tag: tagInt, val: []byte{2}},
	})
	var keys []string
	for _, e := range got {
		keys = append(keys, string(e.key))
	}
	if strings.Join(keys, ",") != "0,b,c" {
		t.Errorf("keys %v", keys)
	}
	if string(base[0].key) != "a" || len(base) != 2 {
		t.Error("base modified")
	}
	got = applyOps(nil, base, []op{{key: "c", kind: opDelIf, tag: tagString, val: []byte("3")}})
	if len(got) != 1 || string(got[0].key) != "a" {
		t.Errorf("conditional delete of an unchanged value: %v", got)
	}
}

func TestIDAndKey(t *testing.T) {
	id := newID()
	if !validID(string(id)) {
		t.Fatalf("invalid ID %q", id)
	}
	if newID() == id {
		t.Fatal("repeated ID")
	}
	k := id.key()
	if !strings.HasPrefix(string(k), sessionPrefix) || len(k) != len(sessionPrefix)+43 || strings.Contains(string(k), string(id)) {
		t.Errorf("key %q", k)
	}
	if id.key() != k {
		t.Error("key not deterministic")
	}
	for _, bad := range []string{"", strings.Repeat("a", 42), strings.Repeat("a", 44), strings.Repeat("a", 42) + "=", strings.Repeat("a", 42) + "+"} {
		if validID(bad) {
			t.Errorf("validID(%q)", bad)
		}
	}
}

func TestTruncateUTF8(t *testing.T) {
	s := strings.Repeat("é", 200) // 400 bytes
	got := truncateUTF8(s, maxUserAgentLen)
	if len(got) > maxUserAgentLen || len(got) < maxUserAgentLen-1 || !strings.HasPrefix(s, got) {
		t.Errorf("truncated to %d bytes", len(got))
	}
	if got := truncateUTF8("ok\xff", 10); got != "ok" {
		t.Errorf("invalid UTF-8 kept: %q", got)
	}
}

func TestTombstone(t *testing.T) {
	succ := newID().key()
	b := appendTombstone(nil, succ, 1_700_000_000_000)
	got, deadline, err := decodeTombstone(b)
	if err != nil || got != succ || deadline != 1_700_000_000_000 {
		t.Fatalf("decodeTombstone = %q, %d, %v", got, deadline, err)
	}
	if got, _, err := decodeTombstone([]byte{tombstoneByte}); err != nil || got != "" {
		t.Errorf("a lone tombstone byte: %q, %v", got, err)
	}
	for _, bad := range [][]byte{
		nil,
		revokedMarker,
		b[:len(b)-1],
		append(slices.Clone(b), 0),
		appendTombstone(nil, "sess:short", 1),
		appendTombstone(nil, storeKey("tok:"+strings.Repeat("a", idLen+1)), 1),
		appendTombstone(nil, succ, 0),
		appendTombstone(nil, storeKey("sess:"+strings.Repeat("!", idLen)), 1),
	} {
		if _, _, err := decodeTombstone(bad); err == nil {
			t.Errorf("decodeTombstone(%x) accepted", bad)
		}
	}
	if isRevoked(b) || !isTombstone(b) || isTombstone(revokedMarker) || !isRevoked(revokedMarker) {
		t.Error("marker and tombstone confused")
	}
	var r record
	if decodeRecord(b, &r, nil) == nil || decodeRecord(revokedMarker, &r, nil) == nil {
		t.Error("a tombstone or marker decodes as a record")
	}
}

func FuzzDecodeTombstone(f *testing.F) {
	f.Add(appendTombstone(nil, newID().key(), 1_700_000_000_000))
	f.Add([]byte{tombstoneByte})
	f.Add([]byte{tombstoneByte, 48})
	f.Fuzz(func(t *testing.T, b []byte) {
		succ, deadline, err := decodeTombstone(b)
		if err != nil || len(b) == 1 {
			return
		}
		if !strings.HasPrefix(string(succ), sessionPrefix) || !validID(succ.handle()) || deadline <= 0 {
			t.Fatalf("successor %q", succ)
		}
		if enc := appendTombstone(nil, succ, deadline); !bytes.Equal(enc, b) {
			t.Fatalf("re-encoding differs")
		}
	})
}

// FuzzScanCookie checks the Manager's cookie reader against
// cookie.Template.Read, which it replaces on the request path: the same
// cookie is found, a duplicate is a duplicate, and a value Read refuses is
// never a valid session ID.
func FuzzScanCookie(f *testing.F) {
	id := string(newID())
	for _, s := range []string{
		"__Host-session=" + id,
		"a=1; __Host-session=" + id + "; b=2",
		"__Host-session=\"" + id + "\"",
		"__Host-session=" + id + "; __Host-session=" + id,
		" __Host-session = " + id + " ",
		"__Host-session",
		"__Host-session=a;b",
		"__host-session=" + id,
		"",
	} {
		f.Add(s, "")
	}
	f.Add("__Host-session="+id, "__Host-session=x")
	tmpl := cookie.New(DefaultCookieName)
	f.Fuzz(func(t *testing.T, line1, line2 string) {
		h := http.Header{}
		h.Add("Cookie", line1)
		if line2 != "" {
			h.Add("Cookie", line2)
		}
		v, n := scanCookie(h["Cookie"], tmpl.Name)
		want, err := tmpl.Read(&http.Request{Header: h})
		switch {
		case errors.Is(err, cookie.ErrNotFound):
			if n != 0 {
				t.Fatalf("found %d where Read found none", n)
			}
		case errors.Is(err, cookie.ErrDuplicate):
			if n < 2 {
				t.Fatalf("found %d where Read found a duplicate", n)
			}
		case err == nil:
			if n != 1 || v != want {
				t.Fatalf("found %d, %q where Read found %q", n, v, want)
			}
		default:
			if n != 1 || validID(v) {
				t.Fatalf("found %d, %q (valid) where Read refused: %v", n, v, err)
			}
		}
	})
}
