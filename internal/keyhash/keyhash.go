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
	"strings"
)

// EncodedLen is the length of the hash part of a key.
const EncodedLen = 43

// Key returns prefix followed by the base64url SHA-256 of s. It allocates
// only the result: short inputs (every secret authkit issues) are hashed
// from a stack copy, since converting a string to a slice for the hash
// would otherwise allocate.
func Key(prefix, s string) string {
	var sum [sha256.Size]byte
	if len(s) <= stackLen {
		var buf [stackLen]byte
		n := copy(buf[:], s)
		sum = sha256.Sum256(buf[:n])
	} else {
		sum = sha256.Sum256([]byte(s))
	}
	return encode(prefix, &sum)
}

// KeyBytes is [Key] for a secret held as bytes.
func KeyBytes(prefix string, secret []byte) string {
	sum := sha256.Sum256(secret)
	return encode(prefix, &sum)
}

const stackLen = 128

func encode(prefix string, sum *[sha256.Size]byte) string {
	var enc [EncodedLen]byte
	base64.RawURLEncoding.Encode(enc[:], sum[:])
	// A Builder grown once hands its buffer over as the string: one
	// allocation, where concatenation takes two.
	var b strings.Builder
	b.Grow(len(prefix) + EncodedLen)
	b.WriteString(prefix)
	b.Write(enc[:])
	return b.String()
}
