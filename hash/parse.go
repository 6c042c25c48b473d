package hash

import (
	"fmt"
	"math"
	"strings"
)

// Salt and hash lengths accepted from stored hashes, in bytes. Argon2's salt
// range is the PHC string format's; scrypt and PBKDF2 accept the short and
// even empty salts passlib and old Django versions wrote (they are rehashed).
const (
	minArgon2Salt = 8
	maxSalt       = 64
	minTag        = 12
	maxTag        = 64
)

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidHash}, a...)...)
}

func unsupported(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUnsupportedHash}, a...)...)
}

// parse decodes an encoded hash and bounds its parameters. It does no
// expensive work, and allocates at most a few times len(encoded), which is
// itself bounded.
func (h *Hasher) parse(encoded string) (stored, error) {
	var (
		s   stored
		err error
	)
	switch {
	case encoded == "":
		return s, invalid("empty")
	case len(encoded) > maxEncodedLen:
		return s, invalid("longer than %d bytes", maxEncodedLen)
	case !printable(encoded):
		// Also guards the base64 decoders, which skip "\r" and "\n".
		return s, invalid("characters outside printable ASCII")
	case strings.HasPrefix(encoded, "$argon2"):
		s, err = parseArgon2(encoded)
	case strings.HasPrefix(encoded, "$scrypt$"):
		s, err = parseScrypt(encoded)
	case strings.HasPrefix(encoded, "$2"):
		s, err = parseBcrypt(encoded)
	case strings.HasPrefix(encoded, "$pbkdf2-sha256$"):
		s, err = parsePBKDF2(encoded)
	// Django's formats: "<algorithm>$<its fields>".
	case strings.HasPrefix(encoded, "argon2$"):
		s, err = parseArgon2(encoded[len("argon2"):])
		s.foreign = true
	case strings.HasPrefix(encoded, "pbkdf2_sha256$"):
		s, err = parseDjangoPBKDF2(encoded)
	case strings.HasPrefix(encoded, "scrypt$"):
		s, err = parseDjangoScrypt(encoded)
	case strings.HasPrefix(encoded, "bcrypt$"):
		s, err = parseBcrypt(encoded[len("bcrypt$"):])
		s.foreign = true
	case strings.HasPrefix(encoded, "bcrypt_sha256$"):
		s, err = parseBcrypt(encoded[len("bcrypt_sha256$"):])
		s.foreign, s.prehash = true, prehashSHA256Hex
	default:
		return s, unsupported("unrecognized format")
	}
	if err != nil {
		return stored{}, err
	}
	if s.alg != algBcrypt {
		s.keyLen = len(s.tag) // the limits weigh PBKDF2's work by its output length
	}
	if err := h.checkLimits(&s.params); err != nil {
		return stored{}, err
	}
	return s, nil
}

// maxUint32 is the largest Argon2 m or t, and the largest decimal read.
const maxUint32 = 1<<32 - 1

func printable(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x21 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

// parseDecimal reads a PHC decimal: 1 to 10 digits, no sign, no leading
// zero, at most maxUint32.
func parseDecimal(v string) (int64, bool) {
	if v == "" || len(v) > 10 || (v[0] == '0' && len(v) > 1) {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, n <= maxUint32
}

// parseCount reads a decimal that must be at least 1. A value beyond the
// platform's int is a cost problem: every limit is an int.
func parseCount(v, name string) (int, error) {
	n, ok := parseDecimal(v)
	switch {
	case !ok:
		return 0, invalid("%s is not a canonical decimal up to 2^32-1", name)
	case n < 1:
		return 0, invalid("%s must be at least 1", name)
	case n > math.MaxInt:
		return 0, fmt.Errorf("%w: %s too large", ErrCostLimit, name)
	}
	return int(n), nil
}

// phcParam reads "name=<decimal>", at least 1 and at most hi.
func phcParam(field, name string, hi int64) (int, error) {
	v, ok := strings.CutPrefix(field, name+"=")
	if !ok {
		return 0, invalid("expected parameter %q", name)
	}
	n, err := parseCount(v, name)
	if err != nil {
		return 0, err
	}
	if int64(n) > hi {
		return 0, invalid("parameter %s=%d above %d", name, n, hi)
	}
	return n, nil
}

// phcTail reads the optional ",keyid=<B64>" after the required parameters,
// and refuses anything else.
func phcTail(rest []string, s *stored) error {
	if len(rest) > 0 {
		if v, ok := strings.CutPrefix(rest[0], "keyid="); ok {
			id, err := b64.DecodeString(v)
			if err != nil || len(id) < 1 || len(id) > 8 {
				return invalid("keyid must be 1 to 8 bytes in canonical base64")
			}
			s.keyID = string(id)
			rest = rest[1:]
		}
	}
	if len(rest) > 0 {
		if strings.HasPrefix(rest[0], "data=") {
			return unsupported("associated data (data=) parameter")
		}
		return invalid("unexpected parameter")
	}
	return nil
}

func decodeB64(v, what string, lo, hi int) ([]byte, error) {
	// Bound before decoding: 4 characters per 3 bytes.
	if len(v) > (hi*4+2)/3 {
		return nil, invalid("%s longer than %d bytes", what, hi)
	}
	b, err := b64.DecodeString(v)
	if err != nil {
		return nil, invalid("%s is not canonical unpadded base64", what)
	}
	if len(b) < lo || len(b) > hi {
		return nil, invalid("%s is %d bytes, want %d..%d", what, len(b), lo, hi)
	}
	return b, nil
}

// parseArgon2 reads $argon2{id,i}$v=19$m=M,t=T,p=P[,keyid=K]$salt$hash.
func parseArgon2(e string) (stored, error) {
	var s stored
	parts := strings.Split(e, "$")
	if len(parts) < 2 || parts[0] != "" {
		return s, invalid("argon2: malformed")
	}
	switch parts[1] {
	case "argon2id":
		s.alg = algArgon2id
	case "argon2i":
		s.alg = algArgon2i
	case "argon2d":
		return s, unsupported("argon2d")
	default:
		return s, invalid("argon2: unknown variant")
	}
	if len(parts) == 5 && strings.HasPrefix(parts[2], "m=") {
		return s, unsupported("argon2 version 16 (no v= field)")
	}
	if len(parts) != 6 {
		return s, invalid("argon2: want 6 $-separated fields, got %d", len(parts))
	}
	switch parts[2] {
	case "v=19":
	case "v=16":
		return s, unsupported("argon2 version 16")
	default:
		return s, invalid("argon2: bad version field")
	}
	fields := strings.Split(parts[3], ",")
	if len(fields) < 3 {
		return s, invalid("argon2: want m, t and p")
	}
	var err error
	if s.m, err = phcParam(fields[0], "m", maxUint32); err != nil {
		return s, err
	}
	if s.t, err = phcParam(fields[1], "t", maxUint32); err != nil {
		return s, err
	}
	if s.p, err = phcParam(fields[2], "p", 255); err != nil {
		return s, err
	}
	if int64(s.m) < 8*int64(s.p) {
		return s, invalid("argon2: m=%d is below 8·p=%d", s.m, 8*s.p)
	}
	if err := phcTail(fields[3:], &s); err != nil {
		return s, err
	}
	if s.salt, err = decodeB64(parts[4], "salt", minArgon2Salt, 48); err != nil {
		return s, err
	}
	if s.tag, err = decodeB64(parts[5], "hash", minTag, maxTag); err != nil {
		return s, err
	}
	return s, nil
}

// parseScrypt reads passlib's $scrypt$ln=L,r=R,p=P[,keyid=K]$salt$hash.
func parseScrypt(e string) (stored, error) {
	s := stored{params: params{alg: algScrypt}}
	parts := strings.Split(e, "$")
	if len(parts) != 5 {
		return s, invalid("scrypt: want 5 $-separated fields, got %d", len(parts))
	}
	fields := strings.Split(parts[2], ",")
	if len(fields) < 3 {
		return s, invalid("scrypt: want ln, r and p")
	}
	var err error
	if s.logN, err = phcParam(fields[0], "ln", maxUint32); err != nil {
		return s, err
	}
	if s.r, err = phcParam(fields[1], "r", maxUint32); err != nil {
		return s, err
	}
	if s.p, err = phcParam(fields[2], "p", maxUint32); err != nil {
		return s, err
	}
	if err := checkScrypt(&s); err != nil {
		return s, err
	}
	if err := phcTail(fields[3:], &s); err != nil {
		return s, err
	}
	if s.salt, err = decodeB64(parts[3], "salt", 0, maxSalt); err != nil {
		return s, err
	}
	if s.tag, err = decodeB64(parts[4], "hash", minTag, maxTag); err != nil {
		return s, err
	}
	return s, nil
}

// checkScrypt applies scrypt's own constraints (RFC 7914 §2; r·p < 2^30).
// A log2 N above 30 is a cost, not a syntax, problem.
func checkScrypt(s *stored) error {
	if s.logN > 30 {
		return fmt.Errorf("%w: scrypt ln=%d, N above 2^30", ErrCostLimit, s.logN)
	}
	if int64(s.r)*int64(s.p) >= 1<<30 {
		return invalid("scrypt: r·p must be below 2^30")
	}
	return nil
}

// parseBcrypt reads $2a$, $2b$ or $2y$ followed by a two-digit cost, a
// 22-character salt and a 31-character hash in bcrypt's alphabet.
func parseBcrypt(e string) (stored, error) {
	s := stored{params: params{alg: algBcrypt}}
	if len(e) >= 4 && e[0] == '$' && e[1] == '2' && (e[2] == '$' || e[3] == '$') {
		switch e[2] {
		case 'a', 'b', 'y':
		case '$', 'x':
			return s, unsupported("bcrypt variant %q", e[:3])
		default:
			return s, invalid("bcrypt: unknown variant")
		}
	} else {
		return s, invalid("bcrypt: malformed")
	}
	if len(e) != 60 {
		return s, invalid("bcrypt: want 60 characters, got %d", len(e))
	}
	if e[6] != '$' || e[4] < '0' || e[4] > '9' || e[5] < '0' || e[5] > '9' {
		return s, invalid("bcrypt: cost must be two digits")
	}
	s.cost = int(e[4]-'0')*10 + int(e[5]-'0')
	if s.cost < 4 {
		return s, invalid("bcrypt: cost %d below 4", s.cost)
	}
	if s.cost > 31 {
		return s, invalid("bcrypt: cost %d above 31", s.cost)
	}
	for i := 7; i < 60; i++ {
		if bcryptIndex(e[i]) < 0 {
			return s, invalid("bcrypt: character outside its alphabet")
		}
	}
	// The salt's 4 unused bits are ignored, as by OpenBSD and passlib. The
	// hash's 2 unused bits must be zero: every implementation writes them so.
	if bcryptIndex(e[59])&3 != 0 {
		return s, invalid("bcrypt: hash is not canonical")
	}
	s.bcrypt = []byte(e)
	return s, nil
}

func bcryptIndex(c byte) int {
	switch {
	case c == '.':
		return 0
	case c == '/':
		return 1
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 2
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 28
	case c >= '0' && c <= '9':
		return int(c-'0') + 54
	}
	return -1
}

// parsePBKDF2 reads passlib's $pbkdf2-sha256$<rounds>$<ab64 salt>$<ab64 hash>.
func parsePBKDF2(e string) (stored, error) {
	s := stored{params: params{alg: algPBKDF2SHA256}}
	parts := strings.Split(e, "$")
	if len(parts) != 5 {
		return s, invalid("pbkdf2: want 5 $-separated fields, got %d", len(parts))
	}
	var err error
	if s.iter, err = parseCount(parts[2], "pbkdf2 rounds"); err != nil {
		return s, err
	}
	if len(parts[3]) > (maxSalt*4+2)/3 || len(parts[4]) > (maxTag*4+2)/3 {
		return s, invalid("pbkdf2: salt or hash too long")
	}
	if s.salt, err = ab64Decode(parts[3]); err != nil {
		return s, invalid("pbkdf2: salt is not canonical ab64")
	}
	if s.tag, err = ab64Decode(parts[4]); err != nil {
		return s, invalid("pbkdf2: hash is not canonical ab64")
	}
	if len(s.tag) < minTag {
		return s, invalid("pbkdf2: hash shorter than %d bytes", minTag)
	}
	return s, nil
}

// djangoSalt checks a salt Django stores as text: printable ASCII, no "$".
func djangoSalt(v string) ([]byte, error) {
	if v == "" || len(v) > maxSalt || !printable(v) {
		return nil, invalid("django: salt must be 1..%d printable characters", maxSalt)
	}
	return []byte(v), nil
}

func djangoHash(v string) ([]byte, error) {
	if len(v) > (maxTag+2)/3*4 {
		return nil, invalid("django: hash too long")
	}
	b, err := stdB64.DecodeString(v)
	if err != nil || len(b) < minTag || len(b) > maxTag {
		return nil, invalid("django: hash must be %d..%d bytes of canonical padded base64", minTag, maxTag)
	}
	return b, nil
}

// parseDjangoPBKDF2 reads Django's pbkdf2_sha256$<iterations>$<salt>$<base64 hash>.
func parseDjangoPBKDF2(e string) (stored, error) {
	s := stored{params: params{alg: algPBKDF2SHA256}, foreign: true}
	parts := strings.Split(e, "$")
	if len(parts) != 4 {
		return s, invalid("django pbkdf2: want 4 $-separated fields, got %d", len(parts))
	}
	var err error
	if s.iter, err = parseCount(parts[1], "django pbkdf2 iterations"); err != nil {
		return s, err
	}
	if s.salt, err = djangoSalt(parts[2]); err != nil {
		return s, err
	}
	if s.tag, err = djangoHash(parts[3]); err != nil {
		return s, err
	}
	return s, nil
}

// parseDjangoScrypt reads Django's scrypt$<N>$<salt>$<r>$<p>$<base64 hash>.
func parseDjangoScrypt(e string) (stored, error) {
	s := stored{params: params{alg: algScrypt}, foreign: true}
	parts := strings.Split(e, "$")
	if len(parts) != 6 {
		return s, invalid("django scrypt: want 6 $-separated fields, got %d", len(parts))
	}
	n, ok := parseDecimal(parts[1])
	if !ok || n < 2 || n&(n-1) != 0 {
		return s, invalid("django scrypt: N must be a power of 2 above 1")
	}
	for n > 1 {
		n >>= 1
		s.logN++
	}
	var err error
	if s.r, err = phcParam("r="+parts[3], "r", maxUint32); err != nil {
		return s, err
	}
	if s.p, err = phcParam("p="+parts[4], "p", maxUint32); err != nil {
		return s, err
	}
	if err := checkScrypt(&s); err != nil {
		return s, err
	}
	if s.salt, err = djangoSalt(parts[2]); err != nil {
		return s, err
	}
	if s.tag, err = djangoHash(parts[5]); err != nil {
		return s, err
	}
	return s, nil
}
