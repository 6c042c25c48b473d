package session

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"time"

	"github.com/authkit/authkit/store"
)

// Record layout (all integers varint-encoded, times in Unix milliseconds):
//
//	version(1)=1 | flags(1) | created | touched | idle timeout (ms, uvarint) |
//	absolute deadline | [authTime | len(subject) | subject]  if flagSubject |
//	entry count (uvarint) | entries…
//
// and each entry, in strictly increasing byte order of keys:
//
//	len(key) (uvarint) | key | tag(1) | len(value) (uvarint) | value
//
// The record carries its own deadlines: the session is over at
// min(touched+idle, absolute), whatever the store's own expiry says.
const recordVersion = 1

const (
	flagRemember byte = 1 << 0 // persistent cookie, remember-me lifetimes
	flagSubject  byte = 1 << 1 // bound to a subject by Login
	knownFlags        = flagRemember | flagSubject
)

// Bounds on decoded records. A stored record beyond them is corrupt.
const (
	// MaxKeyLen is the longest data key accepted by [Set], in bytes.
	MaxKeyLen = 255
	// MaxSubjectLen is the longest subject accepted by [Manager.Login], in bytes.
	MaxSubjectLen = 1024
	// maxTimeout bounds a record's idle timeout: 400 days, the longest a
	// browser keeps a cookie.
	maxTimeoutMS = 400 * 24 * 3600 * 1000
)

// Value tags: how an entry's bytes encode its Go value.
const (
	tagString byte = 's' // string, raw bytes
	tagBytes  byte = 'b' // []byte, raw bytes
	tagInt    byte = 'i' // int or int64, zigzag varint
	tagFloat  byte = 'f' // float64, 8 bytes little-endian IEEE 754
	tagBool   byte = 't' // bool, 1 byte 0 or 1
	tagJSON   byte = 'j' // anything else, encoding/json
)

var errCorrupt = errors.New("session: corrupt record")

// A tombstone is what Login and RenewID leave under the old ID's key for
// renewGrace: one byte that is not a record version. A request presenting
// the old ID meanwhile is anonymous, but it was most likely sent in
// parallel with the renewing request by the same browser, so its response
// must not delete the cookie or set a new one — either would overwrite the
// renewed cookie if it arrived last.
const (
	tombstoneByte = 0xff
	renewGrace    = time.Minute
)

var tombstone = []byte{tombstoneByte}

func isTombstone(b []byte) bool { return len(b) == 1 && b[0] == tombstoneByte }

// The revoked marker is what a revocation writes under the key of each
// session it ends, until the latest moment that session could have been
// valid: one byte that is not a record version. It replaces a live record
// and, written before a record that has not been created yet, makes that
// creation (a create-only-if-absent swap) fail, so a session being issued
// while its subject is revoked never becomes valid. Readers treat it as a
// revoked session.
const revokedByte = 0xfe

var revokedMarker = []byte{revokedByte}

func isRevoked(b []byte) bool { return len(b) == 1 && b[0] == revokedByte }

// record is a decoded session record. Its byte slices alias the buffer it
// was decoded from.
type record struct {
	flags    byte
	created  int64 // Unix ms
	touched  int64 // Unix ms: when the idle deadline was last extended
	idle     int64 // ms
	absolute int64 // Unix ms
	authTime int64 // Unix ms, 0 when no subject
	subject  []byte
	entries  []entry // sorted by key, no duplicates
}

type entry struct {
	key []byte
	tag byte
	val []byte
}

// deadline is when the session ends, in Unix ms.
func (r *record) deadline() int64 {
	return min(r.touched+r.idle, r.absolute)
}

func (r *record) hasSubject() bool { return r.flags&flagSubject != 0 }

// find returns the index of key in r.entries, or -1.
func (r *record) find(key string) int {
	i, ok := slices.BinarySearchFunc(r.entries, key, func(e entry, k string) int {
		return bytes.Compare(e.key, []byte(k))
	})
	if !ok {
		return -1
	}
	return i
}

// appendRecord appends the encoding of r to dst.
func appendRecord(dst []byte, r *record) []byte {
	dst = append(dst, recordVersion, r.flags)
	dst = binary.AppendVarint(dst, r.created)
	dst = binary.AppendVarint(dst, r.touched)
	dst = binary.AppendUvarint(dst, uint64(r.idle))
	dst = binary.AppendVarint(dst, r.absolute)
	if r.flags&flagSubject != 0 {
		dst = binary.AppendVarint(dst, r.authTime)
		dst = binary.AppendUvarint(dst, uint64(len(r.subject)))
		dst = append(dst, r.subject...)
	}
	dst = binary.AppendUvarint(dst, uint64(len(r.entries)))
	for _, e := range r.entries {
		dst = binary.AppendUvarint(dst, uint64(len(e.key)))
		dst = append(dst, e.key...)
		dst = append(dst, e.tag)
		dst = binary.AppendUvarint(dst, uint64(len(e.val)))
		dst = append(dst, e.val...)
	}
	return dst
}

// encodedLen is len(appendRecord(nil, r)) without encoding.
func encodedLen(r *record) int {
	n := 2 + varintLen(r.created) + varintLen(r.touched) + uvarintLen(uint64(r.idle)) + varintLen(r.absolute)
	if r.flags&flagSubject != 0 {
		n += varintLen(r.authTime) + uvarintLen(uint64(len(r.subject))) + len(r.subject)
	}
	n += uvarintLen(uint64(len(r.entries)))
	for _, e := range r.entries {
		n += entryLen(len(e.key), len(e.val))
	}
	return n
}

func entryLen(klen, vlen int) int {
	return uvarintLen(uint64(klen)) + klen + 1 + uvarintLen(uint64(vlen)) + vlen
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func varintLen(v int64) int {
	u := uint64(v) << 1
	if v < 0 {
		u = ^u
	}
	return uvarintLen(u)
}

// decodeRecord parses b into r. Entries are appended to buf[:0], so a caller
// with a large enough buf decodes without allocating; r's slices alias b.
// Every length is checked against the remaining input before use, and the
// record must be canonical (known flags and tags, sorted unique keys, no
// trailing bytes), so decoding never panics and never allocates more than
// the input justifies.
func decodeRecord(b []byte, r *record, buf []entry) error {
	if len(b) < 2 || len(b) > store.MaxValueSize {
		return errCorrupt
	}
	if b[0] != recordVersion {
		return errCorrupt
	}
	*r = record{flags: b[1]}
	if r.flags&^knownFlags != 0 {
		return errCorrupt
	}
	d := decoder{b: b[2:]}
	r.created = d.varint()
	r.touched = d.varint()
	idle := d.uvarint()
	r.absolute = d.varint()
	if d.bad || idle == 0 || idle > maxTimeoutMS || r.created <= 0 || r.touched < r.created || r.absolute <= r.created {
		return errCorrupt
	}
	r.idle = int64(idle)
	if r.flags&flagSubject != 0 {
		r.authTime = d.varint()
		r.subject = d.bytes(MaxSubjectLen)
		if d.bad || r.authTime <= 0 || len(r.subject) == 0 {
			return errCorrupt
		}
	}
	n := d.uvarint()
	// Each entry takes at least 4 bytes, which bounds n by the input.
	if d.bad || n > uint64(len(d.b)/4) {
		return errCorrupt
	}
	entries := buf[:0]
	for i := uint64(0); i < n; i++ {
		var e entry
		e.key = d.bytes(MaxKeyLen)
		if len(d.b) == 0 {
			return errCorrupt
		}
		e.tag, d.b = d.b[0], d.b[1:]
		e.val = d.bytes(store.MaxValueSize)
		if d.bad || len(e.key) == 0 || !validValue(e.tag, e.val) {
			return errCorrupt
		}
		if len(entries) > 0 && bytes.Compare(entries[len(entries)-1].key, e.key) >= 0 {
			return errCorrupt
		}
		entries = append(entries, e)
	}
	if len(d.b) != 0 {
		return errCorrupt
	}
	r.entries = entries
	return nil
}

// validValue checks that val is a well-formed encoding for tag.
func validValue(tag byte, val []byte) bool {
	switch tag {
	case tagString, tagBytes:
		return true
	case tagJSON:
		return len(val) > 0
	case tagInt:
		v, n := binary.Varint(val)
		return n > 0 && n == len(val) && n == varintLen(v)
	case tagFloat:
		return len(val) == 8
	case tagBool:
		return len(val) == 1 && val[0] <= 1
	}
	return false
}

type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) uvarint() uint64 {
	if d.bad {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || n != uvarintLen(v) { // malformed, overflowing or not minimal
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.bad {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 || n != varintLen(v) {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

// bytes reads a length-prefixed byte string of at most max bytes.
func (d *decoder) bytes(max int) []byte {
	l := d.uvarint()
	if d.bad || l > uint64(max) || l > uint64(len(d.b)) {
		d.bad = true
		return nil
	}
	v := d.b[:l:l]
	d.b = d.b[l:]
	return v
}
