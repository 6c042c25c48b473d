// Package secret generates the random secrets authkit hands out — session IDs,
// token bodies, salts — and encodes them in base62.
//
// Every byte comes from crypto/rand, which on the supported platforms never
// fails (Go 1.24+ crashes the program rather than return weak randomness).
package secret

import (
	"crypto/rand"
	"errors"
)

// Base62Alphabet is the alphabet of [Base62]: digits, then upper, then lower
// case letters, as GitHub's token format uses.
const Base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Bytes returns n bytes from crypto/rand.
func Bytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error since Go 1.24.
	return b
}

// Base62 returns n characters drawn uniformly and independently from
// [Base62Alphabet]: about 5.954 bits of entropy each, so 27 characters carry
// more than 160 bits and 43 more than 256. Uniformity comes from rejection
// sampling: random bytes at or above 248 (4×62) are discarded, so no
// character is more likely than another.
func Base62(n int) string {
	return string(AppendBase62(make([]byte, 0, n), n))
}

// AppendBase62 appends n characters from [Base62] to dst and returns it.
func AppendBase62(dst []byte, n int) []byte {
	var buf [64]byte
	for n > 0 {
		_, _ = rand.Read(buf[:])
		for _, b := range buf {
			if b >= 248 {
				continue
			}
			dst = append(dst, Base62Alphabet[b%62])
			n--
			if n == 0 {
				break
			}
		}
	}
	return dst
}

// IsBase62 reports whether s is non-empty and every byte is in [Base62Alphabet].
func IsBase62(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if base62Value[s[i]] < 0 {
			return false
		}
	}
	return true
}

var base62Value = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(Base62Alphabet); i++ {
		t[Base62Alphabet[i]] = int8(i)
	}
	return t
}()

// Uint32Base62Len is the fixed width of a uint32 in base62: 62^6 > 2^32.
const Uint32Base62Len = 6

// AppendUint32Base62 appends v as exactly [Uint32Base62Len] base62 digits,
// most significant first, zero-padded.
func AppendUint32Base62(dst []byte, v uint32) []byte {
	var d [Uint32Base62Len]byte
	for i := Uint32Base62Len - 1; i >= 0; i-- {
		d[i] = Base62Alphabet[v%62]
		v /= 62
	}
	return append(dst, d[:]...)
}

// ErrBase62 is returned by [ParseUint32Base62] for input that is not a
// fixed-width base62 uint32.
var ErrBase62 = errors.New("secret: invalid base62 number")

// ParseUint32Base62 decodes exactly [Uint32Base62Len] base62 digits written by
// [AppendUint32Base62]. Values above 2^32-1 are an error.
func ParseUint32Base62(s string) (uint32, error) {
	if len(s) != Uint32Base62Len {
		return 0, ErrBase62
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		d := base62Value[s[i]]
		if d < 0 {
			return 0, ErrBase62
		}
		v = v*62 + uint64(d)
	}
	if v > 1<<32-1 {
		return 0, ErrBase62
	}
	return uint32(v), nil
}
