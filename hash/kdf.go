package hash

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/scrypt"
)

// prehash is a transformation another system applies to the password
// before its hash function.
type prehash uint8

const (
	prehashNone prehash = iota
	// prehashSHA256Hex is Django's bcrypt_sha256: bcrypt(hex(sha256(pw))).
	prehashSHA256Hex
)

// stored is a parsed encoded hash.
type stored struct {
	params
	salt    []byte
	tag     []byte
	keyID   string  // pepper ID, "" for none
	bcrypt  []byte  // the whole bcrypt string, for golang.org/x/crypto/bcrypt
	prehash prehash // applied to the password before the hash function
	foreign bool    // Django's wrapping of the format: always rehashed
}

var (
	// b64 is the PHC string format's B64: standard alphabet, no padding,
	// trailing bits zero.
	b64 = base64.RawStdEncoding.Strict()
	// stdB64 is Django's encoding of hashes: standard, padded.
	stdB64 = base64.StdEncoding.Strict()
	// bcryptB64 is bcrypt's own alphabet, used here for the dummy hash.
	bcryptB64 = base64.NewEncoding("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789").WithPadding(base64.NoPadding)
)

// ab64Encode is passlib's "adapted base64": standard base64 without padding,
// with "." in place of "+".
func ab64Encode(b []byte) string {
	return strings.ReplaceAll(base64.RawStdEncoding.EncodeToString(b), "+", ".")
}

// ab64Decode reverses ab64Encode strictly: "+" and "=" are rejected, and the
// trailing bits must be zero.
func ab64Decode(s string) ([]byte, error) {
	if strings.ContainsAny(s, "+=") {
		return nil, errors.New("not ab64")
	}
	return b64.DecodeString(strings.ReplaceAll(s, ".", "+"))
}

// input is what the hash function of s receives for password pw: pw itself,
// or HMAC-SHA256(pepper, pw) in unpadded base64 (43 bytes, no NUL, under
// bcrypt's 72), or Django's SHA-256 prehash.
func (h *Hasher) input(pw []byte, s *stored, pep *Pepper) []byte {
	if pep != nil {
		mac := hmac.New(sha256.New, pep.Key)
		mac.Write(pw)
		sum := mac.Sum(nil)
		out := make([]byte, base64.RawStdEncoding.EncodedLen(len(sum)))
		base64.RawStdEncoding.Encode(out, sum)
		pw = out
	}
	if s.prehash == prehashSHA256Hex {
		sum := sha256.Sum256(pw)
		pw = []byte(hex.EncodeToString(sum[:]))
	}
	return pw
}

// derive runs the hash function of s (all but bcrypt) and returns keyLen
// bytes. Parameters have been bounded by the parser or New.
func derive(s *stored, input []byte, keyLen int) ([]byte, error) {
	switch s.alg {
	case algArgon2id:
		return argon2.IDKey(input, s.salt, uint32(s.t), uint32(s.m), uint8(s.p), uint32(keyLen)), nil
	case algArgon2i:
		return argon2.Key(input, s.salt, uint32(s.t), uint32(s.m), uint8(s.p), uint32(keyLen)), nil
	case algScrypt:
		return scrypt.Key(input, s.salt, 1<<uint(s.logN), s.r, s.p, keyLen)
	case algPBKDF2SHA256:
		return pbkdf2.Key(sha256.New, string(input), s.salt, s.iter, keyLen)
	}
	return nil, fmt.Errorf("no key derivation for %v", s.alg)
}

// compare reports in constant time whether input hashes to s.
func compare(s *stored, input []byte) (bool, error) {
	if s.alg == algBcrypt {
		err := bcrypt.CompareHashAndPassword(s.bcrypt, input)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
			return false, nil
		}
		return false, fmt.Errorf("%w: bcrypt: %v", ErrInvalidHash, err)
	}
	tag, err := derive(s, input, len(s.tag))
	if err != nil {
		return false, fmt.Errorf("hash: %w", err)
	}
	return subtle.ConstantTimeCompare(tag, s.tag) == 1, nil
}

func bcryptGenerate(input []byte, cost int) ([]byte, error) {
	return bcrypt.GenerateFromPassword(input, cost)
}

// newDummy returns a hash at the policy's parameters that no password
// matches: random salt, random tag.
func (h *Hasher) newDummy() stored {
	d := stored{params: h.policy}
	if len(h.peppers) > 0 {
		d.keyID = h.peppers[0].ID
	}
	if d.alg == algBcrypt {
		salt := make([]byte, 16)
		sum := make([]byte, 23)
		rand.Read(salt)
		rand.Read(sum)
		d.bcrypt = []byte(fmt.Sprintf("$2a$%02d$%s%s", d.cost, bcryptB64.EncodeToString(salt), bcryptB64.EncodeToString(sum)))
		return d
	}
	d.salt = make([]byte, d.saltLen)
	d.tag = make([]byte, d.keyLen)
	rand.Read(d.salt)
	rand.Read(d.tag)
	return d
}

// encode writes s in its format. For every string the parser accepts,
// encode(parse(x)) == x.
func (s *stored) encode() string {
	var b strings.Builder
	switch s.alg {
	case algArgon2id, algArgon2i:
		if s.foreign {
			b.WriteString("argon2")
		}
		fmt.Fprintf(&b, "$%v$v=19$m=%d,t=%d,p=%d", s.alg, s.m, s.t, s.p)
		s.writeKeyID(&b)
		b.WriteString("$" + b64.EncodeToString(s.salt) + "$" + b64.EncodeToString(s.tag))
	case algScrypt:
		if s.foreign {
			fmt.Fprintf(&b, "scrypt$%d$%s$%d$%d$%s", 1<<uint(s.logN), s.salt, s.r, s.p, stdB64.EncodeToString(s.tag))
			break
		}
		fmt.Fprintf(&b, "$scrypt$ln=%d,r=%d,p=%d", s.logN, s.r, s.p)
		s.writeKeyID(&b)
		b.WriteString("$" + b64.EncodeToString(s.salt) + "$" + b64.EncodeToString(s.tag))
	case algBcrypt:
		switch {
		case s.prehash == prehashSHA256Hex:
			b.WriteString("bcrypt_sha256$")
		case s.foreign:
			b.WriteString("bcrypt$")
		}
		b.Write(s.bcrypt)
	case algPBKDF2SHA256:
		if s.foreign {
			fmt.Fprintf(&b, "pbkdf2_sha256$%d$%s$%s", s.iter, s.salt, stdB64.EncodeToString(s.tag))
			break
		}
		b.WriteString("$pbkdf2-sha256$" + strconv.Itoa(s.iter) + "$" + ab64Encode(s.salt) + "$" + ab64Encode(s.tag))
	}
	return b.String()
}

func (s *stored) writeKeyID(b *strings.Builder) {
	if s.keyID != "" {
		b.WriteString(",keyid=" + b64.EncodeToString([]byte(s.keyID)))
	}
}
