package token

import (
	"crypto/sha256"
	"maps"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/authkit/authkit/internal/binrec"
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

	// maxFamilyAccess bounds the live access tokens a family record
	// tracks, and maxFamilyEnding those it is ending (see familyRecord).
	maxFamilyAccess = 64
	maxFamilyEnding = 2 * maxFamilyAccess

	// Family record flags. A record with neither flagNotify nor
	// flagEnding is read by every version of this package.
	flagRevoked = 1 << 0 // the family is revoked
	flagNotify  = 1 << 1 // revoked, and the listeners have not all succeeded yet
	flagEnding  = 1 << 2 // a list of access tokens being ended follows
)

// A revoked marker is what the store holds under the key of a credential
// that was revoked, until the credential's own expiry: one byte, a version
// no record uses. It overwrites a live record, and it makes a creation that
// has not happened yet (create only if absent) fail, so a credential being
// issued while its subject is revoked is never handed out. Every reader
// treats it as revoked; the decoders refuse it as corrupt, so a reader that
// forgot to check it fails closed.
const markerByte = 0

var revokedMarker = []byte{markerByte}

// isMarker reports whether a stored value is a revoked marker.
func isMarker(b []byte) bool { return len(b) == 1 && b[0] == markerByte }

// accessRecord is what the store holds for an access token.
type accessRecord struct {
	created, expires, lastUsed, authTime time.Time
	subject, clientID, familyID          string
	scopes                               []string
	metadata                             map[string]string
}

// familyRecord is what the store holds for a refresh token family.
//
// It is also the index of the access tokens issued from the family: access
// lists the live ones, and ending those being ended — revoked by the
// family's revocation or by the MaxFamilyAccess cap — whose markers are not
// yet known to be written. A token leaves ending only once its marker is
// written (or it has expired), so a revocation that failed half-way is
// finished by the next one.
//
// A revoked family (a tombstone) keeps its identity and deadlines, and its
// ending list until that is empty, but none of its hashes or its sealed
// successor; notify stays set until the family-revoked listeners have all
// succeeded once.
type familyRecord struct {
	revoked, notify                                  bool
	gen                                              uint64 // rotations so far
	created, authTime, rotated, idleExpires, expires time.Time
	subject, clientID                                string
	scopes                                           []string
	metadata                                         map[string]string
	cur, prev                                        [sha256.Size]byte // hashes of the current and previous refresh tokens
	history                                          [][historyLen]byte
	sealed                                           []byte // the current token sealed under the previous one's key, or nil
	access, ending                                   []accessRef
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

// unfinished reports whether a revoked family still has work pending:
// access tokens to end or listeners to tell.
func (f *familyRecord) unfinished() bool { return f.revoked && (f.notify || len(f.ending) > 0) }

// ---- encoding ----

type writer struct{ b []byte }

func (w *writer) uvarint(v uint64) { w.b = binrec.AppendUvarint(w.b, v) }
func (w *writer) time(t time.Time) {
	if t.IsZero() {
		w.b = binrec.AppendVarint(w.b, 0)
		return
	}
	w.b = binrec.AppendVarint(w.b, t.UnixMilli())
}
func (w *writer) bytes(p []byte) { w.b = binrec.AppendBytes(w.b, p) }
func (w *writer) str(s string)   { w.b = binrec.AppendString(w.b, s) }
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
func (w *writer) refs(refs []accessRef) {
	w.uvarint(uint64(len(refs)))
	for _, a := range refs {
		w.b = append(w.b, a.hash[:]...)
		w.time(a.expires)
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
	w := writer{make([]byte, 0, 160+len(f.subject)+len(f.history)*historyLen+len(f.sealed)+(len(f.access)+len(f.ending))*40)}
	var flags byte
	if f.revoked {
		flags |= flagRevoked
		if f.notify {
			flags |= flagNotify
		}
	}
	if len(f.ending) > 0 {
		flags |= flagEnding
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
	if !f.revoked {
		w.b = append(w.b, f.cur[:]...)
		if f.gen > 0 {
			w.b = append(w.b, f.prev[:]...)
		}
		w.uvarint(uint64(len(f.history)))
		for _, h := range f.history {
			w.b = append(w.b, h[:]...)
		}
		w.bytes(f.sealed)
		w.refs(f.access)
	}
	if len(f.ending) > 0 {
		w.refs(f.ending)
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

// reader adds authkit's token fields to the shared bounded record reader:
// every length is checked against its limit and the bytes left before
// anything is allocated, and the first failure sticks.
type reader struct {
	binrec.Reader
	bad bool // a field was read whole but is invalid
}

func newReader(b []byte) reader {
	var r reader
	r.Reset(b)
	return r
}

// ok reports whether every field was well formed and nothing is left over.
func (r *reader) ok() bool { return !r.bad && r.Err() == nil }

func (r *reader) time() time.Time {
	v := r.Varint()
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}

// str reads a UTF-8 string of at most max bytes.
func (r *reader) str(max int) string {
	p := r.Bytes(max)
	if !utf8.Valid(p) {
		r.bad = true
		return ""
	}
	return string(p)
}

func (r *reader) scopes() []string {
	n := r.Count(MaxScopes, 2) // each scope takes at least 2 bytes
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for range n {
		s := r.str(MaxScopeLen)
		if !validScope(s) {
			r.bad = true
			return nil
		}
		out = append(out, s)
	}
	return out
}

func (r *reader) meta() map[string]string {
	n := r.Count(MaxMetadata, 3) // each entry takes at least 3 bytes
	if n == 0 {
		return nil
	}
	m := make(map[string]string, n)
	for range n {
		k := r.str(MaxMetadataKeyLen)
		v := r.str(MaxMetadataValueLen)
		if _, dup := m[k]; r.Failed() || k == "" || dup {
			r.bad = true
			return nil
		}
		m[k] = v
	}
	return m
}

// refs reads a list of at most max access references; a list that must
// not be empty (allowEmpty false) is refused when it is.
func (r *reader) refs(max int, allowEmpty bool) []accessRef {
	n := r.Count(max, sha256.Size+1)
	if n == 0 {
		if !allowEmpty {
			r.bad = true
		}
		return nil
	}
	out := make([]accessRef, n)
	for i := range out {
		copy(out[i].hash[:], r.Fixed(sha256.Size))
		out[i].expires = r.time()
	}
	return out
}

func (r *reader) header(kind byte) {
	if r.Byte() != recordVersion || r.Byte() != kind {
		r.bad = true
	}
}

func decodeAccess(b []byte) (*accessRecord, error) {
	r := newReader(b)
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
	if !r.ok() || a.subject == "" || (a.familyID != "" && !validID(a.familyID)) {
		return nil, ErrCorrupt
	}
	return &a, nil
}

func decodeFamily(b []byte) (*familyRecord, error) {
	r := newReader(b)
	r.header(kindByteFamily)
	var f familyRecord
	flags := r.Byte()
	f.revoked = flags&flagRevoked != 0
	f.notify = flags&flagNotify != 0
	if flags&^(flagRevoked|flagNotify|flagEnding) != 0 || f.notify && !f.revoked {
		r.bad = true
	}
	f.gen = r.UvarintMax(1<<63 - 1)
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
		copy(f.cur[:], r.Fixed(sha256.Size))
		if f.gen > 0 {
			copy(f.prev[:], r.Fixed(sha256.Size))
		}
		if n := r.Count(maxHistory, historyLen); n > 0 {
			f.history = make([][historyLen]byte, n)
			for i := range f.history {
				copy(f.history[i][:], r.Fixed(historyLen))
			}
		}
		if s := r.Bytes(maxSealedLen); len(s) > 0 {
			if len(s) < minSealedLen {
				r.bad = true
			}
			f.sealed = slices.Clone(s)
		}
		f.access = r.refs(maxFamilyAccess, true)
	}
	if flags&flagEnding != 0 {
		f.ending = r.refs(maxFamilyEnding, false)
	}
	if !r.ok() || f.subject == "" {
		return nil, ErrCorrupt
	}
	return &f, nil
}

func decodeOneTime(b []byte) (*oneTimeRecord, error) {
	r := newReader(b)
	r.header(kindByteOneTime)
	var o oneTimeRecord
	o.created = r.time()
	o.expires = r.time()
	o.purpose = r.str(MaxPurposeLen)
	o.subject = r.str(MaxSubjectLen)
	if d := r.Bytes(MaxOneTimeData); len(d) > 0 {
		o.data = slices.Clone(d)
	}
	if !r.ok() || !validPurpose(o.purpose) || o.subject == "" {
		return nil, ErrCorrupt
	}
	return &o, nil
}
