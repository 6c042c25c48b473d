package keyring

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Record format, version 1. One record per purpose, under "kring:" + the
// purpose name:
//
//	[0]     version (1)
//	[1]     kind (1 cookie, 2 JWT)
//	[2]     length p of the purpose name, then the name (p bytes)
//	[.]     length a of the JWT algorithm (0 for cookies), then the algorithm
//	[.]     sequence number (8): incremented by every write
//	[.]     key count n
//	n ×     key:
//	          length of the key ID, then the ID
//	          flags (1): 1 revoked, 2 early (signed before it was published
//	          for the whole prepublish time: the first key, or a replacement
//	          for a revoked signing key)
//	          created, activates, deactivates, removes, revoked (8 each,
//	          Unix ms; 0 for "not yet")
//	          KEK ID (8), zero for a revoked key
//	          length s (2) of the sealed key, then nonce (24) || ciphertext
//	          || tag (16); s = 0 for a revoked key, whose material is erased
//
// Integers are big-endian. Keys are in order of activation. The key
// material is encrypted with XChaCha20-Poly1305 under the KEK; the
// additional data binds it to the purpose, the kind, the algorithm and the
// key ID, so a sealed key moved to another entry or another record does not
// decrypt. Everything else is in clear: dates and IDs are not secret, and an
// operator can read them from a dump.

const (
	recordVersion = 1

	kindCookie byte = 1
	kindJWT    byte = 2

	flagRevoked byte = 1
	flagEarly   byte = 2
	knownFlags       = flagRevoked | flagEarly

	// MaxKeys is the most keys one keyring record holds, revoked ones
	// included.
	MaxKeys = 32

	maxSealed    = 16 << 10 // an RSA-8192 private key in PEM is under 7 KiB
	minSealed    = 24 + 1 + 16
	maxIDLen     = 255
	keyFixedLen  = 1 + 5*8 + 8 + 2 // flags, times, KEK ID, sealed length
	maxRecordLen = 3 + 255 + 1 + 255 + 8 + 1 + MaxKeys*(1+maxIDLen+keyFixedLen+maxSealed)
)

// entry is one key of a record.
type entry struct {
	id          string
	flags       byte
	created     int64 // Unix ms: added to the record, and so published
	activates   int64 // signs from
	deactivates int64 // a successor signs from; 0 while there is none
	removes     int64 // leaves the verify set; 0 while it has no successor
	revoked     int64 // 0 unless revoked
	kek         [8]byte
	sealed      []byte
}

func (e *entry) isRevoked() bool { return e.flags&flagRevoked != 0 }

// record is a decoded keyring record.
type record struct {
	kind    byte
	purpose string
	alg     string
	seq     uint64
	keys    []entry
}

func (r *record) clone() *record {
	c := *r
	c.keys = slices.Clone(r.keys)
	return &c
}

// encode returns the wire form of r.
func (r *record) encode() []byte {
	n := 3 + len(r.purpose) + len(r.alg) + 8 + 1
	for _, e := range r.keys {
		n += 1 + len(e.id) + keyFixedLen + len(e.sealed)
	}
	b := make([]byte, 0, n)
	b = append(b, recordVersion, r.kind, byte(len(r.purpose)))
	b = append(b, r.purpose...)
	b = append(b, byte(len(r.alg)))
	b = append(b, r.alg...)
	b = binary.BigEndian.AppendUint64(b, r.seq)
	b = append(b, byte(len(r.keys)))
	for _, e := range r.keys {
		b = append(b, byte(len(e.id)))
		b = append(b, e.id...)
		b = append(b, e.flags)
		for _, t := range []int64{e.created, e.activates, e.deactivates, e.removes, e.revoked} {
			b = binary.BigEndian.AppendUint64(b, uint64(t))
		}
		b = append(b, e.kek[:]...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(e.sealed)))
		b = append(b, e.sealed...)
	}
	return b
}

// reader consumes a record; any read past the end sets bad.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) bytes(n int) []byte {
	if r.bad || n > len(r.b) {
		r.bad = true
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if v := r.bytes(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) u16() int {
	if v := r.bytes(2); v != nil {
		return int(binary.BigEndian.Uint16(v))
	}
	return 0
}

func (r *reader) u64() uint64 {
	if v := r.bytes(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (r *reader) str() string { return string(r.bytes(int(r.byte()))) }

func corrupt(why string) error { return fmt.Errorf("%w: %s", ErrCorrupt, why) }

// decodeRecord parses and validates a record. Every length and count is
// bounded before use, every field is checked, and trailing bytes are an
// error, so that a record has one encoding: decodeRecord(b).encode() == b.
// It returns sealed keys as sub-slices of b.
func decodeRecord(b []byte) (*record, error) {
	if len(b) > maxRecordLen {
		return nil, corrupt("too long")
	}
	rd := &reader{b: b}
	if v := rd.byte(); v != recordVersion {
		if rd.bad {
			return nil, corrupt("empty")
		}
		return nil, corrupt("unknown version " + strconv.Itoa(int(v)))
	}
	r := &record{kind: rd.byte(), purpose: rd.str(), alg: rd.str(), seq: rd.u64()}
	n := int(rd.byte())
	switch {
	case rd.bad:
		return nil, corrupt("truncated header")
	case r.kind == kindCookie && r.alg != "", r.kind == kindJWT && !knownAlg(r.alg), r.kind != kindCookie && r.kind != kindJWT:
		return nil, corrupt("unknown kind or algorithm")
	case validPurpose(r.purpose) != nil:
		return nil, corrupt("invalid purpose name")
	case r.kind == kindJWT && r.purpose != "jwt-"+r.alg, r.kind == kindCookie && strings.HasPrefix(r.purpose, "jwt-"):
		return nil, corrupt("purpose name does not match the kind")
	case n > MaxKeys:
		return nil, corrupt("too many keys")
	}
	r.keys = make([]entry, n)
	for i := range r.keys {
		e := &r.keys[i]
		e.id = rd.str()
		e.flags = rd.byte()
		e.created, e.activates = int64(rd.u64()), int64(rd.u64())
		e.deactivates, e.removes, e.revoked = int64(rd.u64()), int64(rd.u64()), int64(rd.u64())
		copy(e.kek[:], rd.bytes(8))
		e.sealed = rd.bytes(rd.u16())
		if rd.bad {
			return nil, corrupt("truncated key")
		}
		if err := r.checkEntry(i); err != nil {
			return nil, err
		}
	}
	if rd.bad || len(rd.b) != 0 {
		return nil, corrupt("trailing bytes")
	}
	return r, nil
}

// checkEntry validates key i against the rules of the format and against
// the keys before it.
func (r *record) checkEntry(i int) error {
	e := &r.keys[i]
	if !r.validID(e.id) {
		return corrupt("invalid key ID")
	}
	for _, prev := range r.keys[:i] {
		if prev.id == e.id {
			return corrupt("repeated key ID")
		}
	}
	if e.flags&^knownFlags != 0 {
		return corrupt("unknown flags")
	}
	for _, t := range []int64{e.created, e.activates, e.deactivates, e.removes, e.revoked} {
		if t < 0 {
			return corrupt("negative time")
		}
	}
	if i > 0 && e.activates < r.keys[i-1].activates {
		return corrupt("keys out of order")
	}
	if e.isRevoked() {
		if e.revoked == 0 || e.removes == 0 || e.kek != [8]byte{} || len(e.sealed) != 0 {
			return corrupt("revoked key with material or without dates")
		}
		return nil
	}
	switch {
	case e.revoked != 0:
		return corrupt("revocation time on a live key")
	case len(e.sealed) < minSealed || len(e.sealed) > maxSealed:
		return corrupt("sealed key of an impossible length")
	case e.created > e.activates:
		return corrupt("key activates before it was created")
	case (e.deactivates == 0) != (e.removes == 0):
		return corrupt("deactivation and removal not set together")
	case e.deactivates != 0 && (e.deactivates < e.activates || e.removes < e.deactivates):
		return corrupt("key dates out of order")
	}
	return nil
}

// validID reports whether id is a key ID of the record's kind: for cookies
// the canonical decimal form of a non-zero uint32, for JWTs 1 to 255
// printable ASCII characters.
func (r *record) validID(id string) bool {
	if r.kind == kindCookie {
		_, ok := cookieID(id)
		return ok
	}
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// cookieID parses a cookie key ID: the canonical decimal form of a non-zero
// uint32.
func cookieID(id string) (uint32, bool) {
	v, err := strconv.ParseUint(id, 10, 32)
	if err != nil || v == 0 || strconv.FormatUint(v, 10) != id {
		return 0, false
	}
	return uint32(v), true
}

// additionalData binds a sealed key to its purpose, kind, algorithm and ID.
func (r *record) additionalData(id string) []byte {
	ad := make([]byte, 0, 32+len(r.purpose)+len(r.alg)+len(id))
	ad = append(ad, "authkit/keyring v1"...)
	ad = append(ad, 0, byte(len(r.purpose)))
	ad = append(ad, r.purpose...)
	ad = append(ad, r.kind, byte(len(r.alg)))
	ad = append(ad, r.alg...)
	ad = append(ad, byte(len(id)))
	return append(ad, id...)
}
