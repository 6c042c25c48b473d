// Package keyhash turns secrets and variable identifiers into store keys.
//
// A store key is a fixed prefix (the component's namespace, such as "sess:")
// followed by the unpadded base64url SHA-256 of the input: 43 printable
// characters whatever the input, so keys stay short and valid for every
// store, and a dump of the store shows no secret and no user identifier.
//
// SHA-256 without salt or stretching is the right tool here: the secrets are
// 160 bits or more from crypto/rand, so there is nothing to brute-force, and
// a lookup must cost nanoseconds, not the milliseconds of a password hash.
package keyhash

import (
	"crypto/sha256"
	"encoding/base64"
)

// EncodedLen is the length of the hash part of a key.
const EncodedLen = 43

// Key returns prefix followed by the base64url SHA-256 of s.
func Key(prefix, s string) string {
	sum := sha256.Sum256([]byte(s))
	b := make([]byte, 0, len(prefix)+EncodedLen)
	b = append(b, prefix...)
	b = base64.RawURLEncoding.AppendEncode(b, sum[:])
	return string(b)
}

// KeyBytes is [Key] for a secret held as bytes.
func KeyBytes(prefix string, secret []byte) string {
	sum := sha256.Sum256(secret)
	b := make([]byte, 0, len(prefix)+EncodedLen)
	b = append(b, prefix...)
	b = base64.RawURLEncoding.AppendEncode(b, sum[:])
	return string(b)
}
