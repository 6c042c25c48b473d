// Package binrec reads and writes the compact binary records authkit keeps
// in a store: sessions, tokens, refresh families and per-subject indexes.
//
// A record is a sequence of fields: single bytes, unsigned and signed
// varints, and length-prefixed byte strings. [Reader] is the one bounded
// decoder for all of them: every varint must be minimal (one encoding per
// value, so a record cannot be altered without changing its bytes), every
// length is checked against a caller's bound and the remaining input before
// anything is sliced, and the first error sticks, so a caller reads every
// field and checks [Reader.Err] once at the end.
package binrec

import (
	"encoding/binary"
	"errors"
)

// ErrMalformed is the error of a Reader that met a truncated, non-minimal or
// out-of-bounds field, or input left over at the end.
var ErrMalformed = errors.New("binrec: malformed record")

// Reader decodes fields from a byte slice. The zero Reader reads nothing.
type Reader struct {
	b   []byte
	bad bool
}

// NewReader returns a Reader over b. The byte strings it returns alias b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Reset makes r read b, clearing any error.
func (r *Reader) Reset(b []byte) { r.b, r.bad = b, false }

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if r.bad || len(r.b) == 0 {
		r.bad = true
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

// Uvarint reads a minimal unsigned varint.
func (r *Reader) Uvarint() uint64 {
	if r.bad {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || n != UvarintLen(v) { // truncated, overflowing or not minimal
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

// UvarintMax reads a minimal unsigned varint of at most max.
func (r *Reader) UvarintMax(max uint64) uint64 {
	v := r.Uvarint()
	if v > max {
		r.bad = true
		return 0
	}
	return v
}

// Varint reads a minimal signed varint.
func (r *Reader) Varint() int64 {
	if r.bad {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 || n != VarintLen(v) {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Bytes reads a length-prefixed byte string of at most max bytes. The
// result aliases the input and has no spare capacity.
func (r *Reader) Bytes(max int) []byte {
	l := r.Uvarint()
	if r.bad || l > uint64(max) || l > uint64(len(r.b)) {
		r.bad = true
		return nil
	}
	v := r.b[:l:l]
	r.b = r.b[l:]
	return v
}

// Fixed reads a field of exactly n bytes with no length prefix (a hash,
// say). The result aliases the input and has no spare capacity.
func (r *Reader) Fixed(n int) []byte {
	if r.bad || n < 0 || n > len(r.b) {
		r.bad = true
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// Count reads an element count of at most max, each element taking at
// least minSize bytes, so a hostile count cannot make the caller allocate
// more than the input justifies.
func (r *Reader) Count(max, minSize int) int {
	n := r.Uvarint()
	if r.bad || n > uint64(max) || minSize > 0 && n > uint64(len(r.b)/minSize) {
		r.bad = true
		return 0
	}
	return int(n)
}

// Len returns the number of unread bytes.
func (r *Reader) Len() int { return len(r.b) }

// Err returns ErrMalformed if any read failed or input is left over, and
// nil otherwise. Call it after the last field.
func (r *Reader) Err() error {
	if r.bad || len(r.b) != 0 {
		return ErrMalformed
	}
	return nil
}

// Failed reports whether a read failed so far (leftover input not counted).
func (r *Reader) Failed() bool { return r.bad }

// AppendUvarint appends v as an unsigned varint.
func AppendUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

// AppendVarint appends v as a signed varint.
func AppendVarint(b []byte, v int64) []byte { return binary.AppendVarint(b, v) }

// AppendBytes appends p with its length prefix.
func AppendBytes(b, p []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(p))), p...)
}

// AppendString appends s with its length prefix.
func AppendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// UvarintLen returns the encoded length of v as an unsigned varint.
func UvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// VarintLen returns the encoded length of v as a signed varint.
func VarintLen(v int64) int {
	u := uint64(v) << 1
	if v < 0 {
		u = ^u
	}
	return UvarintLen(u)
}
