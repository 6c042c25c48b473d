package token

import (
	"crypto/sha256"
	"encoding/binary"
	"maps"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/authkit/authkit/internal/keyhash"
)

// Bounds on what a token record may carry. Issuing beyond them is
// ErrInvalidOptions; a stored record beyond them is ErrCorrupt.
const (
	MaxSubjectLen       = 256  // bytes of a subject (user or client ID), UTF-8
	MaxClientIDLen      = 256  // bytes of a client ID, UTF-8
	MaxScopes           = 64   // scopes per token
	MaxScopeLen         = 128  // bytes of one scope (an RFC 6749 scope-token)
	MaxMetadata         = 32   // metadata entries per token
	MaxMetadataKeyLen   = 64   // bytes of a metadata key, UTF-8, non-empty
	MaxMetadataValueLen = 1024 // bytes of a metadata value, UTF-8
	MaxPurposeLen       = 64   // bytes of a one-time token purpose
	MaxOneTimeData      = 4096 // bytes of data carried by a one-time token
)

const (
	recordVersion = 1

	kindByteAccess  = 'A'
	kindByteFamily  = 'F'
	kindByteOneTime = 'O'

	// maxHistory is how many rotated-out refresh tokens before the previous
	// one a family remembers (a 16-byte truncated hash each), so that
	// presenting any of them is detected as reuse.
	maxHistory = 64
	historyLen = 16

	// maxFamilyAccess bounds the access tokens a family record tracks.
	maxFamilyAccess = 64

	flagRevoked = 1
)

// accessRecord is what the store holds for an access token.
type accessRecord struct {
	created, expires, lastUsed, authTime time.Time
	subject, clientID, familyID          string
	scopes                               []string
	metadata                             map[string]string
}

// familyRecord is what the store holds for a refresh token family. A revoked
// family keeps its identity and deadlines but none of its hashes, sealed
// successor or access tokens.
type familyRecord struct {
	revoked                                          bool
	gen                                              uint64 // rotations so far
	created, authTime, rotated, idleExpires, expires time.Time
	subject, clientID                                string
	scopes                                           []string
	metadata                                         map[string]string
	cur, prev                                        [sha256.Size]byte // hashes of the current and previous refresh tokens
	history                                          [][historyLen]byte
	sealed                                           []byte // the current token sealed under the previous one's key, or nil
	access                                           []accessRef
}

// accessRef is an access token issued from a family.
type accessRef struct {
	hash    [sha256.Size]byte // SHA-256 of the access token: its store key's hash
	expires time.Time
}

// oneTimeRecord is what the store holds for a one-time token.
type oneTimeRecord struct {
	created, expires time.Time
	purpose, subject string
	data             []byte
}

// storeExpiry is when the family record may leave the store.
func (f *familyRecord) storeExpiry() time.Time {
	if f.idleExpires.Before(f.expires) {
		return f.idleExpires
	}
	return f.expires
}

// ---- encoding ----

type writer struct{ b []byte }

func (w *writer) uvarint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *writer) time(t time.Time) {
	if t.IsZero() {
		w.b = binary.AppendVarint(w.b, 0)
		return
	}
	w.b = binary.AppendVarint(w.b, t.UnixMilli())
}
func (w *writer) bytes(p []byte) { w.uvarint(uint64(len(p))); w.b = append(w.b, p...) }
func (w *writer) str(s string)   { w.uvarint(uint64(len(s))); w.b = append(w.b, s...) }
func (w *writer) strs(ss []string) {
	w.uvarint(uint64(len(ss)))
	for _, s := range ss {
		w.str(s)
	}
}
func (w *writer) meta(m map[string]string) {
	w.uvarint(uint64(len(m)))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		w.str(k)
		w.str(m[k])
	}
}

func encodeAccess(r *accessRecord) []byte {
	w := writer{make([]byte, 0, 96+len(r.subject)+len(r.clientID))}
	w.b = append(w.b, recordVersion, kindByteAccess)
	w.time(r.created)
	w.time(r.expires)
	w.time(r.lastUsed)
	w.time(r.authTime)
	w.str(r.subject)
	w.str(r.clientID)
	w.str(r.familyID)
	w.strs(r.scopes)
	w.meta(r.metadata)
	return w.b
}

func encodeFamily(f *familyRecord) []byte {
	w := writer{make([]byte, 0, 160+len(f.subject)+len(f.history)*historyLen+len(f.sealed)+len(f.access)*40)}
	var flags byte
	if f.revoked {
		flags |= flagRevoked
	}
	w.b = append(w.b, recordVersion, kindByteFamily, flags)
	w.uvarint(f.gen)
	w.time(f.created)
	w.time(f.authTime)
	w.time(f.rotated)
	w.time(f.idleExpires)
	w.time(f.expires)
	w.str(f.subject)
	w.str(f.clientID)
	w.strs(f.scopes)
	w.meta(f.metadata)
	if f.revoked {
		return w.b
	}
	w.b = append(w.b, f.cur[:]...)
	if f.gen > 0 {
		w.b = append(w.b, f.prev[:]...)
	}
	w.uvarint(uint64(len(f.history)))
	for _, h := range f.history {
		w.b = append(w.b, h[:]...)
	}
	w.bytes(f.sealed)
	w.uvarint(uint64(len(f.access)))
	for _, a := range f.access {
		w.b = append(w.b, a.hash[:]...)
		w.time(a.expires)
	}
	return w.b
}

func encodeOneTime(r *oneTimeRecord) []byte {
	w := writer{make([]byte, 0, 32+len(r.purpose)+len(r.subject)+len(r.data))}
	w.b = append(w.b, recordVersion, kindByteOneTime)
	w.time(r.created)
	w.time(r.expires)
	w.str(r.purpose)
	w.str(r.subject)
	w.bytes(r.data)
	return w.b
}

// ---- decoding ----

// reader decodes a record. Every length is checked against its limit and
// against the bytes left before anything is allocated; after the first
// failure every method returns zero values and bad stays set.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) fail() { r.bad, r.b = true, nil }

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint(max uint64) uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > max {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) time() time.Time {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return time.Time{}
	}
	r.b = r.b[n:]
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}

func (r *reader) fixed(n int) []byte {
	if len(r.b) < n {
		r.fail()
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

// raw reads a length-prefixed byte string of at most max bytes, aliasing the
// input.
func (r *reader) raw(max int) []byte {
	n := r.uvarint(uint64(max))
	if r.bad {
		return nil
	}
	return r.fixed(int(n))
}

// str reads a UTF-8 string of at most max bytes.
func (r *reader) str(max int) string {
	p := r.raw(max)
	if !utf8.Valid(p) {
		r.fail()
		return ""
	}
	return string(p)
}

func (r *reader) scopes() []string {
	n := r.uvarint(MaxScopes)
	if r.bad || n == 0 {
		return nil
	}
	if n > uint64(len(r.b)) { // each scope takes at least 2 bytes
		r.fail()
		return nil
	}
	out := make([]string, 0, n)
	for range n {
		s := r.str(MaxScopeLen)
		if r.bad || !validScope(s) {
			r.fail()
			return nil
		}
		out = append(out, s)
	}
	return out
}

func (r *reader) meta() map[string]string {
	n := r.uvarint(MaxMetadata)
	if r.bad || n == 0 {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail()
		return nil
	}
	m := make(map[string]string, n)
	for range n {
		k := r.str(MaxMetadataKeyLen)
		v := r.str(MaxMetadataValueLen)
		if _, dup := m[k]; r.bad || k == "" || dup {
			r.fail()
			return nil
		}
		m[k] = v
	}
	return m
}

func (r *reader) header(kind byte) {
	if r.byte() != recordVersion || r.byte() != kind {
		r.fail()
	}
}

func decodeAccess(b []byte) (*accessRecord, error) {
	r := reader{b: b}
	r.header(kindByteAccess)
	var a accessRecord
	a.created = r.time()
	a.expires = r.time()
	a.lastUsed = r.time()
	a.authTime = r.time()
	a.subject = r.str(MaxSubjectLen)
	a.clientID = r.str(MaxClientIDLen)
	a.familyID = r.str(keyhash.EncodedLen)
	a.scopes = r.scopes()
	a.metadata = r.meta()
	if r.bad || len(r.b) != 0 || a.subject == "" || (a.familyID != "" && !validID(a.familyID)) {
		return nil, ErrCorrupt
	}
	return &a, nil
}

func decodeFamily(b []byte) (*familyRecord, error) {
	r := reader{b: b}
	r.header(kindByteFamily)
	var f familyRecord
	flags := r.byte()
	if flags&^flagRevoked != 0 {
		r.fail()
	}
	f.revoked = flags&flagRevoked != 0
	f.gen = r.uvarint(1<<63 - 1)
	f.created = r.time()
	f.authTime = r.time()
	f.rotated = r.time()
	f.idleExpires = r.time()
	f.expires = r.time()
	f.subject = r.str(MaxSubjectLen)
	f.clientID = r.str(MaxClientIDLen)
	f.scopes = r.scopes()
	f.metadata = r.meta()
	if !f.revoked {
		copy(f.cur[:], r.fixed(sha256.Size))
		if f.gen > 0 {
			copy(f.prev[:], r.fixed(sha256.Size))
		}
		n := r.uvarint(maxHistory)
		if !r.bad && n > 0 {
			if n*historyLen > uint64(len(r.b)) {
				r.fail()
			} else {
				f.history = make([][historyLen]byte, n)
				for i := range f.history {
					copy(f.history[i][:], r.fixed(historyLen))
				}
			}
		}
		if s := r.raw(maxSealedLen); len(s) > 0 {
			if len(s) < minSealedLen {
				r.fail()
			}
			f.sealed = slices.Clone(s)
		}
		n = r.uvarint(maxFamilyAccess)
		if !r.bad && n > 0 {
			if n*(sha256.Size+1) > uint64(len(r.b)) {
				r.fail()
			} else {
				f.access = make([]accessRef, n)
				for i := range f.access {
					copy(f.access[i].hash[:], r.fixed(sha256.Size))
					f.access[i].expires = r.time()
				}
			}
		}
	}
	if r.bad || len(r.b) != 0 || f.subject == "" {
		return nil, ErrCorrupt
	}
	return &f, nil
}

func decodeOneTime(b []byte) (*oneTimeRecord, error) {
	r := reader{b: b}
	r.header(kindByteOneTime)
	var o oneTimeRecord
	o.created = r.time()
	o.expires = r.time()
	o.purpose = r.str(MaxPurposeLen)
	o.subject = r.str(MaxSubjectLen)
	if d := r.raw(MaxOneTimeData); len(d) > 0 {
		o.data = slices.Clone(d)
	}
	if r.bad || len(r.b) != 0 || !validPurpose(o.purpose) || o.subject == "" {
		return nil, ErrCorrupt
	}
	return &o, nil
}
