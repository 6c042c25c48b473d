package cookie

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// MinKeySize is the shortest [Key.Secret] accepted, in bytes.
const MinKeySize = 32

// Wire format. Every encoded value is base64url (RFC 4648 §5, no padding,
// canonical) of:
//
//	sealed: format(1)=0x01 | key ID(4) | expiry(8) | nonce(24) | ciphertext | tag(16)
//	signed: format(1)=0x02 | key ID(4) | expiry(8) | payload | HMAC-SHA256(32)
//
// Integers are big-endian; the expiry is Unix milliseconds. The first 13
// bytes (the header) are authenticated, not encrypted. The cookie name is
// authenticated but not transmitted: for sealed values the AEAD additional
// data is header || name; for signed values the MAC covers
// len(name) (2 bytes) || name || header || payload.
const (
	formatSealed byte = 0x01
	formatSigned byte = 0x02

	headerLen    = 1 + 4 + 8
	nonceLen     = chacha20poly1305.NonceSizeX
	tagLen       = chacha20poly1305.Overhead
	macLen       = sha256.Size
	sealOverhead = headerLen + nonceLen + tagLen
	signOverhead = headerLen + macLen
)

// HKDF-SHA256 info strings deriving the per-purpose subkeys from a secret.
const (
	infoSeal = "authkit/cookie v1 seal XChaCha20-Poly1305"
	infoSign = "authkit/cookie v1 sign HMAC-SHA256"
)

// b64 is strict base64url without padding: it rejects non-zero trailing bits.
// It still skips CR and LF, so callers also check the decoded length.
var b64 = base64.RawURLEncoding.Strict()

// Rejections that happen before authentication are preallocated: a flood of
// garbage costs no allocations for errors.
var (
	errNoKeys      = fmt.Errorf("%w: the Codec has no keys; use NewCodec", ErrInvalidKey)
	errInputLong   = fmt.Errorf("%w: name=value exceeds %d bytes", ErrTooLong, MaxLine)
	errMalformed   = fmt.Errorf("%w: not canonical base64url of a possible length", ErrInvalid)
	errWrongFormat = fmt.Errorf("%w: unknown format, or a value of the other mode", ErrInvalid)
	errAuth        = fmt.Errorf("%w: authentication failed", ErrInvalid)
	errUnknownKey  = fmt.Errorf("%w: the value names a key this Codec does not hold", ErrUnknownKey)
)

// Key is one secret of a [Codec] key list.
type Key struct {
	// ID names the key inside every value it seals or signs, so that opening
	// picks the key directly. IDs must be unique within a Codec; any uint32
	// works, for example 1, 2, 3 or a date such as 20261101.
	ID uint32

	// Secret is the key material: at least MinKeySize (32) bytes, ideally
	// read from crypto/rand. NewCodec derives subkeys from it and keeps no
	// reference to it.
	Secret []byte
}

// Codec turns a []byte payload into a cookie-safe string that only holders
// of its keys can produce, bound to one cookie name and valid until an
// expiry. [Codec.Seal] encrypts (XChaCha20-Poly1305); [Codec.Sign]
// authenticates but leaves the payload readable (HMAC-SHA256). The two modes
// use different subkeys and formats, so a value made by one never opens in
// the other.
//
// Make a Codec with [NewCodec]. It is safe for concurrent use, including
// [Codec.SetKeys] while values are being sealed and opened. Set the exported
// fields, if at all, before first use and do not change them afterwards.
type Codec struct {
	// Now returns the current time, used to stamp and check expiries. Nil
	// means time.Now. Tests inject a fixed clock here.
	Now func() time.Time

	// MaxTTL, when positive, is the longest ttl Seal and Sign accept; a
	// longer one is an error wrapping [ErrInvalidTTL]. Set it to the time a
	// retired key is kept for opening, so that no value outlives its key.
	// Zero means no limit.
	MaxTTL time.Duration

	// OnUnknownKey, when set, is called by Open and Verify when a value names
	// a key ID the Codec does not hold, before refusing it. If it returns
	// true — it has installed newer keys with [Codec.SetKeys] — the key is
	// looked up once more. It runs on the request path for every such value,
	// forged ones included, so it must be cheap or rate-limited. A key
	// manager shared by several servers (package keyring) sets it to reload
	// the keys another server has just added.
	OnUnknownKey func(id uint32) bool

	keys atomic.Pointer[[]*codecKey] // [0] seals and signs; all open and verify
}
type codecKey struct {
	id   uint32
	aead cipher.AEAD // XChaCha20-Poly1305 under the derived seal subkey
	mac  sync.Pool   // of hash.Hash: HMAC-SHA256 under the derived sign subkey
}

// NewCodec returns a Codec that seals and signs with keys[0] and opens and
// verifies with any of keys. To rotate: put a new key first and keep the old
// one after it until every value it made has expired, then remove it; values
// made with a removed key fail with [ErrUnknownKey].
//
// From each secret NewCodec derives two independent 256-bit subkeys with
// HKDF-SHA256 (RFC 5869, empty salt, a distinct info string per purpose), so
// one secret can serve both modes without the keys crossing over.
//
// It returns an error wrapping [ErrInvalidKey] for an empty list, a secret
// shorter than [MinKeySize] bytes, or a repeated ID.
func NewCodec(keys ...Key) (*Codec, error) {
	c := &Codec{}
	if err := c.SetKeys(keys...); err != nil {
		return nil, err
	}
	return c, nil
}

// SetKeys replaces the Codec's keys, with the rules of [NewCodec]: keys[0]
// seals and signs from now on, and every key of the list opens and
// verifies. The swap is atomic: a call in progress finishes with the keys it
// started with, and no call sees a mixture. On error the keys are left as
// they were.
//
// It is how keys change on a running server, for example when a key manager
// shared by a fleet rotates them; each call derives the subkeys afresh.
func (c *Codec) SetKeys(keys ...Key) error {
	if len(keys) == 0 {
		return fmt.Errorf("%w: no keys", ErrInvalidKey)
	}
	list := make([]*codecKey, 0, len(keys))
	for i, k := range keys {
		if len(k.Secret) < MinKeySize {
			return fmt.Errorf("%w: key %d (ID %d) is %d bytes, want at least %d", ErrInvalidKey, i, k.ID, len(k.Secret), MinKeySize)
		}
		for _, prev := range keys[:i] {
			if prev.ID == k.ID {
				return fmt.Errorf("%w: key ID %d appears more than once", ErrInvalidKey, k.ID)
			}
		}
		ck, err := deriveKey(k)
		if err != nil {
			return err
		}
		list = append(list, ck)
	}
	c.keys.Store(&list)
	return nil
}

// KeyIDs returns the IDs of the keys the Codec holds, the sealing key first.
func (c *Codec) KeyIDs() []uint32 {
	list := c.keys.Load()
	if list == nil {
		return nil
	}
	ids := make([]uint32, len(*list))
	for i, k := range *list {
		ids[i] = k.id
	}
	return ids
}

// deriveKey derives the seal and sign subkeys of k.
func deriveKey(k Key) (*codecKey, error) {
	sealKey, err := hkdf.Key(sha256.New, k.Secret, nil, infoSeal, chacha20poly1305.KeySize)
	if err != nil {
		return nil, fmt.Errorf("cookie: deriving a subkey: %w", err)
	}
	aead, err := chacha20poly1305.NewX(sealKey)
	clear(sealKey)
	if err != nil {
		return nil, fmt.Errorf("cookie: %w", err)
	}
	signKey, err := hkdf.Key(sha256.New, k.Secret, nil, infoSign, sha256.Size)
	if err != nil {
		return nil, fmt.Errorf("cookie: deriving a subkey: %w", err)
	}
	ck := &codecKey{id: k.ID, aead: aead}
	ck.mac.New = func() any { return hmac.New(sha256.New, signKey) }
	return ck, nil
}

// Seal encrypts and authenticates payload for the cookie called name, valid
// for ttl from now. The result is base64url and fits in a cookie value.
//
// The error wraps [ErrInvalidName] for a name that is not a cookie name,
// [ErrInvalidTTL] for a ttl under one millisecond (expiries are kept in whole
// milliseconds, so a shorter one would make a value already expired) or over
// [Codec.MaxTTL], and [ErrTooLong] when name=value would exceed
// [MaxLine] bytes: the payload may be at most about
// (MaxLine-len(name)-1)*3/4 - 53 bytes.
func (c *Codec) Seal(name string, payload []byte, ttl time.Duration) (string, error) {
	k, exp, err := c.prepare(name, ttl)
	if err != nil {
		return "", err
	}
	rawLen := sealOverhead + len(payload)
	if err := checkEncodedLen(name, rawLen); err != nil {
		return "", err
	}
	// One allocation: the raw value, then the additional data header||name.
	buf := make([]byte, rawLen+headerLen+len(name))
	raw, aad := buf[:rawLen], buf[rawLen:]
	putHeader(raw, formatSealed, k.id, exp)
	nonce := raw[headerLen : headerLen+nonceLen]
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("cookie: reading a random nonce: %w", err)
	}
	copy(aad, raw[:headerLen])
	copy(aad[headerLen:], name)
	k.aead.Seal(raw[:headerLen+nonceLen], nonce, payload, aad)
	return encode(raw), nil
}

// Open decrypts a value made by [Codec.Seal] for the cookie called name. The
// returned slice is fresh and belongs to the caller.
//
// Every error means the value must be treated as absent: [ErrTooLong] (more
// than [MaxLine] bytes with the name, refused before decoding), [ErrInvalid]
// (malformed, tampered, truncated, sealed for another name, or signed rather
// than sealed), [ErrUnknownKey] (its key is not in the list) or [ErrExpired]
// (authentic but past its expiry). [ErrInvalidName] means name itself is not a
// cookie name.
func (c *Codec) Open(name, value string) ([]byte, error) {
	pt, _, err := c.open(name, value)
	return pt, err
}

// OpenWithExpiry is [Codec.Open] that also returns the expiry sealed into the
// value, to the millisecond: for sliding renewal, seal a fresh value when
// little of the lifetime is left. On error the time is zero.
func (c *Codec) OpenWithExpiry(name, value string) ([]byte, time.Time, error) {
	pt, exp, err := c.open(name, value)
	if err != nil {
		return nil, time.Time{}, err
	}
	return pt, time.UnixMilli(exp), nil
}

func (c *Codec) open(name, value string) ([]byte, int64, error) {
	raw, scratch, k, err := c.decode(name, value, formatSealed, sealOverhead, headerLen+len(name))
	if err != nil {
		return nil, 0, err
	}
	copy(scratch, raw[:headerLen])
	copy(scratch[headerLen:], name)
	ct := raw[headerLen+nonceLen:]
	pt, err := k.aead.Open(ct[:0], raw[headerLen:headerLen+nonceLen], ct, scratch)
	if err != nil {
		return nil, 0, errAuth
	}
	exp, err := c.checkExpiry(raw)
	if err != nil {
		return nil, 0, err
	}
	return pt[:len(pt):len(pt)], exp, nil
}

// Sign authenticates payload for the cookie called name, valid for ttl from
// now, without encrypting it: anyone holding the value can read the payload,
// but only key holders can produce or change it. Errors are as for
// [Codec.Seal]; the payload may be about 8 bytes longer than there.
func (c *Codec) Sign(name string, payload []byte, ttl time.Duration) (string, error) {
	k, exp, err := c.prepare(name, ttl)
	if err != nil {
		return "", err
	}
	rawLen := signOverhead + len(payload)
	if err := checkEncodedLen(name, rawLen); err != nil {
		return "", err
	}
	// One allocation: the raw value, then scratch for len(name)||name.
	buf := make([]byte, rawLen+2+len(name))
	raw := buf[:rawLen]
	putHeader(raw, formatSigned, k.id, exp)
	msg := raw[:headerLen+copy(raw[headerLen:], payload)]
	k.appendMAC(msg, buf[rawLen:], name, msg)
	return encode(raw), nil
}

// Verify checks a value made by [Codec.Sign] for the cookie called name and
// returns its payload, a fresh slice that belongs to the caller. Errors are
// as for [Codec.Open].
func (c *Codec) Verify(name, value string) ([]byte, error) {
	p, _, err := c.verify(name, value)
	return p, err
}

// VerifyWithExpiry is [Codec.Verify] that also returns the expiry signed
// into the value, as [Codec.OpenWithExpiry] does.
func (c *Codec) VerifyWithExpiry(name, value string) ([]byte, time.Time, error) {
	p, exp, err := c.verify(name, value)
	if err != nil {
		return nil, time.Time{}, err
	}
	return p, time.UnixMilli(exp), nil
}

func (c *Codec) verify(name, value string) ([]byte, int64, error) {
	raw, scratch, k, err := c.decode(name, value, formatSigned, signOverhead, 2+len(name)+macLen)
	if err != nil {
		return nil, 0, err
	}
	msg, tag := raw[:len(raw)-macLen], raw[len(raw)-macLen:]
	want := k.appendMAC(scratch[2+len(name):2+len(name)], scratch, name, msg)
	if !hmac.Equal(want, tag) {
		return nil, 0, errAuth
	}
	exp, err := c.checkExpiry(raw)
	if err != nil {
		return nil, 0, err
	}
	return msg[headerLen:len(msg):len(msg)], exp, nil
}

// SealString is [Codec.Seal] for a string payload.
func (c *Codec) SealString(name, payload string, ttl time.Duration) (string, error) {
	return c.Seal(name, []byte(payload), ttl)
}

// OpenString is [Codec.Open] returning the payload as a string.
func (c *Codec) OpenString(name, value string) (string, error) {
	b, err := c.Open(name, value)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// SignString is [Codec.Sign] for a string payload.
func (c *Codec) SignString(name, payload string, ttl time.Duration) (string, error) {
	return c.Sign(name, []byte(payload), ttl)
}

// VerifyString is [Codec.Verify] returning the payload as a string.
func (c *Codec) VerifyString(name, value string) (string, error) {
	b, err := c.Verify(name, value)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// SealJSON seals the JSON encoding (encoding/json) of v. See [Codec.Seal].
func (c *Codec) SealJSON(name string, v any, ttl time.Duration) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("cookie: encoding JSON: %w", err)
	}
	return c.Seal(name, b, ttl)
}

// OpenJSON opens value like [Codec.Open] and decodes the payload as JSON into
// dst, a non-nil pointer. A payload that is authentic but does not decode into
// dst (after a change of type, say) is reported as [ErrInvalid].
func (c *Codec) OpenJSON(name, value string, dst any) error {
	b, err := c.Open(name, value)
	if err != nil {
		return err
	}
	return decodeJSON(b, dst)
}

// SignJSON signs the JSON encoding (encoding/json) of v. See [Codec.Sign].
func (c *Codec) SignJSON(name string, v any, ttl time.Duration) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("cookie: encoding JSON: %w", err)
	}
	return c.Sign(name, b, ttl)
}

// VerifyJSON verifies value like [Codec.Verify] and decodes the payload as
// JSON into dst, as [Codec.OpenJSON] does.
func (c *Codec) VerifyJSON(name, value string, dst any) error {
	b, err := c.Verify(name, value)
	if err != nil {
		return err
	}
	return decodeJSON(b, dst)
}

func decodeJSON(b []byte, dst any) error {
	if err := json.Unmarshal(b, dst); err != nil {
		// The decoder's message may quote the payload; it stays out of the error.
		return fmt.Errorf("%w: payload does not decode as JSON into %T", ErrInvalid, dst)
	}
	return nil
}

// prepare checks the arguments common to Seal and Sign and returns the
// current key and the expiry in Unix milliseconds.
func (c *Codec) prepare(name string, ttl time.Duration) (*codecKey, int64, error) {
	if err := checkName(name); err != nil {
		return nil, 0, err
	}
	list := c.keys.Load()
	if list == nil {
		return nil, 0, errNoKeys
	}
	switch {
	case ttl < time.Millisecond:
		return nil, 0, fmt.Errorf("%w: %v is under one millisecond", ErrInvalidTTL, ttl)
	case c.MaxTTL > 0 && ttl > c.MaxTTL:
		return nil, 0, fmt.Errorf("%w: %v is over the Codec's MaxTTL of %v", ErrInvalidTTL, ttl, c.MaxTTL)
	}
	return (*list)[0], c.now().Add(ttl).UnixMilli(), nil
}

// decode runs every check that needs no key work, in order of cost, then
// decodes value into a fresh buffer with scratch bytes after the raw value.
// The format byte and the key ID are read from the first 8 characters and
// checked before anything is allocated, so every refusal up to that point —
// the usual ones for forged values — allocates nothing.
func (c *Codec) decode(name, value string, format byte, overhead, scratch int) (raw, tail []byte, k *codecKey, err error) {
	if err := checkName(name); err != nil {
		return nil, nil, nil, err
	}
	list := c.keys.Load()
	if list == nil {
		return nil, nil, nil, errNoKeys
	}
	if len(name)+1+len(value) > MaxLine {
		return nil, nil, nil, errInputLong
	}
	if len(value) < b64.EncodedLen(overhead) {
		return nil, nil, nil, errMalformed
	}
	head, ok := decodeHead(value)
	if !ok {
		return nil, nil, nil, errMalformed
	}
	if byte(head>>40) != format {
		return nil, nil, nil, errWrongFormat
	}
	id := uint32(head >> 8)
	if k = findKey(*list, id); k == nil {
		if c.OnUnknownKey == nil || !c.OnUnknownKey(id) {
			return nil, nil, nil, errUnknownKey
		}
		if k = findKey(*c.keys.Load(), id); k == nil {
			return nil, nil, nil, errUnknownKey
		}
	}
	rawLen := b64.DecodedLen(len(value))
	buf := make([]byte, rawLen+scratch)
	// Strict decoding rejects non-zero trailing bits and a length of 4n+1;
	// the length check rejects the CR and LF the decoder would skip: only
	// the canonical encoding of n bytes has EncodedLen(n) characters. The
	// header decodes as it did above: the same characters, the same bytes.
	n, err := b64.Decode(buf[:rawLen], []byte(value))
	if err != nil || b64.EncodedLen(n) != len(value) {
		return nil, nil, nil, errMalformed
	}
	return buf[:n], buf[rawLen:], k, nil // scratch starts after the decoding room
}

// decodeHead decodes the first 8 characters of value (at least 8 long),
// the format byte, the key ID and the first byte of the expiry, into the low
// 48 bits of a uint64. It reports false if one of them is not a base64url
// character.
func decodeHead(value string) (uint64, bool) {
	var v uint64
	for i := range 8 {
		d := b64Values[value[i]]
		if d == 0xff {
			return 0, false
		}
		v = v<<6 | uint64(d)
	}
	return v, true
}

// b64Values maps each base64url character to its value and every other byte
// to 0xff.
var b64Values = func() (t [256]byte) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range t {
		t[i] = 0xff
	}
	for i := range len(alphabet) {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

func findKey(list []*codecKey, id uint32) *codecKey {
	for _, k := range list {
		if k.id == id {
			return k
		}
	}
	return nil
}

// checkExpiry returns the header's expiry in Unix milliseconds, or ErrExpired
// once the clock has reached it. It is called only after authentication.
func (c *Codec) checkExpiry(raw []byte) (int64, error) {
	exp := int64(binary.BigEndian.Uint64(raw[5:headerLen]))
	if c.now().UnixMilli() >= exp {
		return 0, ErrExpired
	}
	return exp, nil
}

func (c *Codec) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// appendMAC appends HMAC-SHA256(len(name) || name || msg) to dst, using
// scratch (at least 2+len(name) bytes) to lay out the name.
func (k *codecKey) appendMAC(dst, scratch []byte, name string, msg []byte) []byte {
	binary.BigEndian.PutUint16(scratch, uint16(len(name)))
	copy(scratch[2:], name)
	h := k.mac.Get().(hash.Hash)
	h.Reset()
	h.Write(scratch[:2+len(name)])
	h.Write(msg)
	out := h.Sum(dst)
	k.mac.Put(h)
	return out
}

func putHeader(raw []byte, format byte, id uint32, exp int64) {
	raw[0] = format
	binary.BigEndian.PutUint32(raw[1:5], id)
	binary.BigEndian.PutUint64(raw[5:headerLen], uint64(exp))
}

// checkEncodedLen reports ErrTooLong when name=value would exceed MaxLine
// for a raw value of rawLen bytes.
func checkEncodedLen(name string, rawLen int) error {
	if n := len(name) + 1 + b64.EncodedLen(rawLen); n > MaxLine {
		return fmt.Errorf("%w: name=value would be %d bytes, over %d", ErrTooLong, n, MaxLine)
	}
	return nil
}

// encode returns the base64url form of raw with a single allocation.
func encode(raw []byte) string {
	var sb strings.Builder
	sb.Grow(b64.EncodedLen(len(raw)))
	var chunk [512]byte // 384 input bytes encode to exactly 512
	for len(raw) > 0 {
		n := min(len(raw), 384)
		b64.Encode(chunk[:], raw[:n])
		sb.Write(chunk[:b64.EncodedLen(n)])
		raw = raw[n:]
	}
	return sb.String()
}
