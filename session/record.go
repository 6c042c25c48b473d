package session

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"time"

	"github.com/authkit/authkit/internal/binrec"
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

// Values under a session key that are not records. Their first byte is
// not a record version, so a server that only knows records reads them as
// corrupt, never as a session.
const (
	// revokedByte is the revoked marker: what a revocation writes under
	// the key of each session it ends, until the latest moment that session
	// could have been valid. It replaces a live record and, written before
	// a record that has not been created yet, makes that creation (a
	// create-only-if-absent swap) fail, so a session being issued while its
	// subject is revoked never becomes valid. Readers treat it as revoked.
	revokedByte = 0xfe

	// tombstoneByte starts what Login and RenewID leave under the old ID's
	// key for renewGrace: the old ID is dead, but a request presenting it
	// meanwhile was most likely sent in parallel with the renewing request
	// by the same browser, so its response must not delete the cookie or
	// set a new one — either would overwrite the renewed cookie if it
	// arrived last. After the byte, the tombstone names the successor: the
	// new ID's store key and the deadline its record is created with, so
	// that a Logout that loaded the old session before the renewal ends the
	// new one too. A lone tombstone byte (written by earlier versions) names
	// no successor.
	tombstoneByte = 0xff
	renewGrace    = time.Minute
)

var revokedMarker = []byte{revokedByte}

func isRevoked(b []byte) bool { return len(b) == 1 && b[0] == revokedByte }

func isTombstone(b []byte) bool { return len(b) > 0 && b[0] == tombstoneByte }

// appendTombstone appends a tombstone naming successor, whose record ends
// at deadline (Unix ms).
func appendTombstone(dst []byte, successor storeKey, deadline int64) []byte {
	dst = append(dst, tombstoneByte)
	dst = binrec.AppendString(dst, string(successor))
	return binrec.AppendVarint(dst, deadline)
}

// decodeTombstone returns the successor a tombstone names, "" if none.
func decodeTombstone(b []byte) (successor storeKey, deadline int64, err error) {
	if !isTombstone(b) {
		return "", 0, errCorrupt
	}
	if len(b) == 1 {
		return "", 0, nil
	}
	var r binrec.Reader
	r.Reset(b[1:])
	k := r.Bytes(len(sessionPrefix) + idLen)
	deadline = r.Varint()
	if r.Err() != nil || len(k) != len(sessionPrefix)+idLen || string(k[:len(sessionPrefix)]) != sessionPrefix ||
		!validID(string(k[len(sessionPrefix):])) || deadline <= 0 {
		return "", 0, errCorrupt
	}
	return storeKey(k), deadline, nil
}

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
	dst = binrec.AppendVarint(dst, r.created)
	dst = binrec.AppendVarint(dst, r.touched)
	dst = binrec.AppendUvarint(dst, uint64(r.idle))
	dst = binrec.AppendVarint(dst, r.absolute)
	if r.flags&flagSubject != 0 {
		dst = binrec.AppendVarint(dst, r.authTime)
		dst = binrec.AppendBytes(dst, r.subject)
	}
	dst = binrec.AppendUvarint(dst, uint64(len(r.entries)))
	for _, e := range r.entries {
		dst = binrec.AppendBytes(dst, e.key)
		dst = append(dst, e.tag)
		dst = binrec.AppendBytes(dst, e.val)
	}
	return dst
}

// encode returns the encoding of r in a buffer of its exact size.
func encode(r *record) []byte { return appendRecord(make([]byte, 0, encodedLen(r)), r) }

// encodedLen is len(appendRecord(nil, r)) without encoding.
func encodedLen(r *record) int {
	n := 2 + binrec.VarintLen(r.created) + binrec.VarintLen(r.touched) + binrec.UvarintLen(uint64(r.idle)) + binrec.VarintLen(r.absolute)
	if r.flags&flagSubject != 0 {
		n += binrec.VarintLen(r.authTime) + binrec.UvarintLen(uint64(len(r.subject))) + len(r.subject)
	}
	n += binrec.UvarintLen(uint64(len(r.entries)))
	for _, e := range r.entries {
		n += entryLen(len(e.key), len(e.val))
	}
	return n
}

func entryLen(klen, vlen int) int {
	return binrec.UvarintLen(uint64(klen)) + klen + 1 + binrec.UvarintLen(uint64(vlen)) + vlen
}

// decodeRecord parses b into r. Entries are appended to buf[:0], so a caller
// with a large enough buf decodes without allocating; r's slices alias b.
// Every length is checked against the remaining input before use, and the
// record must be canonical (known flags and tags, sorted unique keys,
// minimal varints, no trailing bytes), so decoding never panics and never
// allocates more than the input justifies.
func decodeRecord(b []byte, r *record, buf []entry) error {
	return decode(b, r, buf, true)
}

// decodeHeader is decodeRecord for a caller that needs no entries: they
// are checked as strictly, but not kept, and nothing is allocated.
func decodeHeader(b []byte, r *record) error {
	return decode(b, r, nil, false)
}

func decode(b []byte, r *record, buf []entry, keep bool) error {
	if len(b) < 2 || len(b) > store.MaxValueSize || b[0] != recordVersion {
		return errCorrupt
	}
	*r = record{flags: b[1]}
	if r.flags&^knownFlags != 0 {
		return errCorrupt
	}
	var d binrec.Reader
	d.Reset(b[2:])
	r.created = d.Varint()
	r.touched = d.Varint()
	idle := d.Uvarint()
	r.absolute = d.Varint()
	if d.Failed() || idle == 0 || idle > maxTimeoutMS || r.created <= 0 || r.touched < r.created || r.absolute <= r.created {
		return errCorrupt
	}
	r.idle = int64(idle)
	if r.flags&flagSubject != 0 {
		r.authTime = d.Varint()
		r.subject = d.Bytes(MaxSubjectLen)
		if d.Failed() || r.authTime <= 0 || len(r.subject) == 0 {
			return errCorrupt
		}
	}
	// Each entry takes at least 4 bytes, which bounds n by the input.
	n := d.Count(len(b), 4)
	if d.Failed() {
		return errCorrupt
	}
	entries := buf[:0]
	var prev []byte
	for range n {
		key := d.Bytes(MaxKeyLen)
		e := entry{key: key, tag: d.Byte(), val: d.Bytes(store.MaxValueSize)}
		if d.Failed() || len(key) == 0 || !validValue(e.tag, e.val) || prev != nil && bytes.Compare(prev, key) >= 0 {
			return errCorrupt
		}
		prev = key
		if keep {
			entries = append(entries, e)
		}
	}
	if d.Err() != nil {
		return errCorrupt
	}
	if keep {
		r.entries = entries
	}
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
		return n > 0 && n == len(val) && n == binrec.VarintLen(v)
	case tagFloat:
		return len(val) == 8
	case tagBool:
		return len(val) == 1 && val[0] <= 1
	}
	return false
}
