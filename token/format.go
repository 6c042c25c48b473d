package token

import (
	"crypto/sha256"
	"encoding/base64"
	"hash/crc32"
	"log/slog"
	"strings"
	"unsafe"

	"github.com/authkit/authkit/internal/keyhash"
	"github.com/authkit/authkit/internal/secret"
)

// Token is a token as its holder sees it: a prefix naming its kind, random
// base62 characters and a base62 CRC32 checksum, e.g.
//
//	ak_at_4Q7vX0mN2c9TgKfZ1pLrYw8sBdHe3jUa0F2Kx1
//
// It is a secret: send it to its holder once, and never log or store it.
// The store only ever sees its SHA-256, under a key of another (unexported)
// type, so a token and its store key cannot be confused. Convert a received
// string with Token(s); the methods that take a Token check its format before
// anything else.
type Token string

// LogValue implements [slog.LogValuer]: a Token passed to slog logs as its
// prefix only.
func (t Token) LogValue() slog.Value {
	s := string(t)
	if i := strings.LastIndexByte(s, '_'); i >= 0 && checkPrefix(s[:i+1]) {
		return slog.StringValue(s[:i+1] + "REDACTED")
	}
	return slog.StringValue("REDACTED")
}

// Kind is the kind of a token, told by its prefix.
type Kind uint8

// The kinds of token a [Manager] issues.
const (
	KindUnknown Kind = iota // not a token of this Manager (a JWT, another issuer's token)
	KindAccess              // an access token: a bearer credential, see [Manager.Issue]
	KindRefresh             // a refresh token, see [Manager.IssueRefresh]
	KindOneTime             // a one-time token, see [Manager.IssueOneTime]
)

// String returns "access", "refresh", "one-time" or "unknown".
func (k Kind) String() string {
	switch k {
	case KindAccess:
		return "access"
	case KindRefresh:
		return "refresh"
	case KindOneTime:
		return "one-time"
	}
	return "unknown"
}

// Layout of a token after its prefix. The random part is base62 from
// crypto/rand: secretLen characters carry about 190 bits. A refresh token
// also carries a locator, constant across a family's rotations, which names
// the family record; it adds about 131 bits and is never stored in clear.
const (
	secretLen   = 32
	locatorLen  = 22
	checksumLen = secret.Uint32Base62Len

	// MaxPrefixLen is the longest prefix a [Config] accepts.
	MaxPrefixLen = 16

	// maxTokenLen bounds every token this package can issue.
	maxTokenLen = MaxPrefixLen + locatorLen + secretLen + checksumLen
)

// Store key namespaces.
const (
	accessNS   = "tok:"    // access token records: tok: + SHA-256(token)
	oneTimeNS  = "ott:"    // one-time token records: ott: + SHA-256(purpose, token)
	familyNS   = "rtf:"    // refresh families: rtf: + SHA-256(locator)
	tokenIdx   = "tidx:"   // per-subject index of access tokens from Issue
	oneTimeIdx = "otidx:"  // per-subject index of one-time tokens
	familyIdx  = "rtfidx:" // per-subject index of refresh families
)

// storeKey is the store key of a record. It is derived from a Token by
// hashing and can never be one.
type storeKey string

// id returns the key without its namespace: the public, non-secret
// identifier of a token or family.
func (k storeKey) id() string {
	if i := strings.IndexByte(string(k), ':'); i >= 0 {
		return string(k)[i+1:]
	}
	return string(k)
}

func accessKey(t Token) storeKey { return storeKey(keyhash.Key(accessNS, string(t))) }

func familyKey(locator string) storeKey { return storeKey(keyhash.Key(familyNS, locator)) }

func oneTimeKey(purpose string, t Token) storeKey {
	// The purpose is bound into the key: a token issued for one purpose is
	// simply absent under another. Purposes hold no NUL byte.
	return storeKey(keyhash.Key(oneTimeNS, purpose+"\x00"+string(t)))
}

// validID reports whether id has the shape of a token or family ID: an
// unpadded base64url SHA-256.
func validID(id string) bool {
	if len(id) != keyhash.EncodedLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	var sum [sha256.Size]byte
	n, err := base64.RawURLEncoding.Decode(sum[:], []byte(id))
	return err == nil && n == sha256.Size
}

// checkPrefix reports whether p is a valid token prefix: 2..MaxPrefixLen
// characters of [a-z0-9_], ending in "_", not all underscores.
func checkPrefix(p string) bool {
	if len(p) < 2 || len(p) > MaxPrefixLen || p[len(p)-1] != '_' {
		return false
	}
	letters := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			letters = true
		case c == '_':
		default:
			return false
		}
	}
	return letters
}

// checksum is crc32.ChecksumIEEE of s. It reads the string's bytes in place
// (crc32 only reads its input) so that checking a token costs no allocation
// and keeps the hardware CRC32 path.
func checksum(s string) uint32 {
	return crc32.ChecksumIEEE(unsafe.Slice(unsafe.StringData(s), len(s)))
}

// wellFormed reports whether t is prefix followed by exactly bodyLen base62
// characters and their checksum. The checksum covers the prefix too, so a
// token relabelled as another kind fails it. It reads nothing but t.
func wellFormed(t Token, prefix string, bodyLen int) bool {
	s := string(t)
	if len(s) != len(prefix)+bodyLen+checksumLen || !strings.HasPrefix(s, prefix) {
		return false
	}
	end := len(s) - checksumLen
	if !secret.IsBase62(s[len(prefix):end]) {
		return false
	}
	sum, err := secret.ParseUint32Base62(s[end:])
	return err == nil && sum == checksum(s[:end])
}

// newToken returns prefix + middle + secretLen random base62 characters + the
// checksum.
func newToken(prefix, middle string) Token {
	b := make([]byte, 0, len(prefix)+len(middle)+secretLen+checksumLen)
	b = append(b, prefix...)
	b = append(b, middle...)
	b = secret.AppendBase62(b, secretLen)
	b = secret.AppendUint32Base62(b, crc32.ChecksumIEEE(b))
	return Token(b)
}

// accessKeyFromHash is accessKey for a token known only by its SHA-256.
func accessKeyFromHash(h [sha256.Size]byte) storeKey {
	b := make([]byte, 0, len(accessNS)+keyhash.EncodedLen)
	b = append(b, accessNS...)
	b = base64.RawURLEncoding.AppendEncode(b, h[:])
	return storeKey(b)
}
