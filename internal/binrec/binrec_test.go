package binrec

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	var b []byte
	b = append(b, 7)
	b = AppendUvarint(b, math.MaxUint64)
	b = AppendVarint(b, math.MinInt64)
	b = AppendVarint(b, -1)
	b = AppendBytes(b, []byte("hello"))
	b = AppendString(b, "")
	b = append(b, "fix"...)
	r := NewReader(b)
	if r.Byte() != 7 || r.Uvarint() != math.MaxUint64 || r.Varint() != math.MinInt64 || r.Varint() != -1 ||
		string(r.Bytes(5)) != "hello" || len(r.Bytes(0)) != 0 || string(r.Fixed(3)) != "fix" || r.Err() != nil {
		t.Fatal("round trip failed")
	}
}

func TestRefuses(t *testing.T) {
	for name, tc := range map[string]struct {
		in   []byte
		read func(*Reader)
	}{
		"non-minimal uvarint":  {[]byte{0x80, 0x00}, func(r *Reader) { r.Uvarint() }},
		"non-minimal varint":   {[]byte{0x81, 0x00}, func(r *Reader) { r.Varint() }},
		"truncated uvarint":    {[]byte{0x80}, func(r *Reader) { r.Uvarint() }},
		"overflowing uvarint":  {bytes.Repeat([]byte{0xff}, 11), func(r *Reader) { r.Uvarint() }},
		"bytes over max":       {[]byte{3, 'a', 'b', 'c'}, func(r *Reader) { r.Bytes(2) }},
		"bytes past the end":   {[]byte{4, 'a', 'b', 'c'}, func(r *Reader) { r.Bytes(10) }},
		"count over input":     {[]byte{3, 0, 0}, func(r *Reader) { r.Count(100, 1) }},
		"count over max":       {[]byte{3, 0, 0, 0}, func(r *Reader) { r.Count(2, 1) }},
		"uvarint over max":     {[]byte{9}, func(r *Reader) { r.UvarintMax(8) }},
		"byte past the end":    {nil, func(r *Reader) { r.Byte() }},
		"fixed past the end":   {[]byte{1, 2}, func(r *Reader) { r.Fixed(3) }},
		"input left over":      {[]byte{1, 2}, func(r *Reader) { r.Byte() }},
		"sticky after failure": {[]byte{0x80, 0x00, 1}, func(r *Reader) { r.Uvarint(); r.Byte(); r.Byte() }},
	} {
		r := NewReader(tc.in)
		tc.read(r)
		if !errors.Is(r.Err(), ErrMalformed) {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzReader checks that no input makes the reader panic, read past its
// input, or accept a varint that does not re-encode to the same bytes.
func FuzzReader(f *testing.F) {
	f.Add([]byte{1, 0x80, 0x01, 3, 'a', 'b', 'c'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(in)
		for r.Len() > 0 && !r.Failed() {
			start := r.Len()
			switch in[len(in)-start] % 4 {
			case 0:
				r.Byte()
			case 1:
				v := r.Uvarint()
				if !r.Failed() && UvarintLen(v) != start-r.Len() {
					t.Fatalf("uvarint %d read from %d bytes", v, start-r.Len())
				}
			case 2:
				v := r.Varint()
				if !r.Failed() && !bytes.Equal(AppendVarint(nil, v), in[len(in)-start:len(in)-r.Len()]) {
					t.Fatalf("varint %d does not re-encode to its input", v)
				}
			case 3:
				p := r.Bytes(64)
				if len(p) > 64 || cap(p) != len(p) {
					t.Fatal("Bytes broke its bound")
				}
			}
			if r.Len() > start {
				t.Fatal("reader moved backwards")
			}
		}
	})
}
