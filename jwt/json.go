package jwt

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds a small strict JSON reader for JWT headers and claims sets.
// It accepts a subset of what encoding/json accepts (RFC 8259 exactly, plus):
//
//   - invalid UTF-8 and unpaired surrogate escapes are errors, not U+FFFD;
//   - an object that repeats a key is an error, keys compared after
//     unescaping and under Unicode case folding, because encoding/json
//     matches struct fields case-insensitively and keeps the last
//     duplicate: {"role":"user","ROLE":"admin"} would otherwise mean one
//     thing to one parser and another to the next;
//   - nesting is limited to maxDepth.
//
// It reads a string and slices it, so values without escapes cost no
// allocation. FuzzJSONDifferential (json_test.go) holds it to
// github.com/go-json-experiment/json, the basis of Go's encoding/json/v2,
// which is as strict by default: both accept and refuse the same documents
// but for the two stricter rules above (case folding, depth), and read the
// same strings, claims and NumericDates. That decoder is not used here
// because it allocates for every claims set (5 allocations and 376 bytes
// for a typical one, against none: BenchmarkClaimsReader).

const maxDepth = 32

type scanner struct {
	s string
	i int
}

func (sc *scanner) ws() {
	for sc.i < len(sc.s) {
		switch sc.s[sc.i] {
		case ' ', '\t', '\n', '\r':
			sc.i++
		default:
			return
		}
	}
}

func (sc *scanner) peek() byte {
	if sc.i < len(sc.s) {
		return sc.s[sc.i]
	}
	return 0
}

// expect consumes c after optional white space.
func (sc *scanner) expect(c byte) bool {
	sc.ws()
	if sc.peek() != c {
		return false
	}
	sc.i++
	return true
}

// atEnd reports whether only white space remains.
func (sc *scanner) atEnd() bool {
	sc.ws()
	return sc.i == len(sc.s)
}

// str reads a string at the current position and returns its unescaped
// value. Strings without escapes are returned as a slice of the input.
func (sc *scanner) str() (string, bool) {
	if sc.peek() != '"' {
		return "", false
	}
	sc.i++
	start := sc.i
	for sc.i < len(sc.s) {
		c := sc.s[sc.i]
		switch {
		case c == '"':
			v := sc.s[start:sc.i]
			sc.i++
			return v, true
		case c == '\\':
			return sc.escaped(start)
		case c < 0x20:
			return "", false
		case c < utf8.RuneSelf:
			sc.i++
		default:
			r, size := utf8.DecodeRuneInString(sc.s[sc.i:])
			if r == utf8.RuneError && size == 1 {
				return "", false
			}
			sc.i += size
		}
	}
	return "", false
}

// escaped continues str from the first backslash, building the value.
func (sc *scanner) escaped(start int) (string, bool) {
	b := make([]byte, 0, sc.i-start+16)
	b = append(b, sc.s[start:sc.i]...)
	for sc.i < len(sc.s) {
		c := sc.s[sc.i]
		switch {
		case c == '"':
			sc.i++
			return string(b), true
		case c == '\\':
			if sc.i+1 >= len(sc.s) {
				return "", false
			}
			e := sc.s[sc.i+1]
			sc.i += 2
			switch e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, ok := sc.hex4()
				if !ok {
					return "", false
				}
				if utf16.IsSurrogate(r) {
					if r >= 0xDC00 || sc.i+2 > len(sc.s) || sc.s[sc.i] != '\\' || sc.s[sc.i+1] != 'u' {
						return "", false
					}
					sc.i += 2
					r2, ok := sc.hex4()
					if !ok || r2 < 0xDC00 || r2 > 0xDFFF {
						return "", false
					}
					r = utf16.DecodeRune(r, r2)
				}
				b = utf8.AppendRune(b, r)
			default:
				return "", false
			}
		case c < 0x20:
			return "", false
		case c < utf8.RuneSelf:
			b = append(b, c)
			sc.i++
		default:
			r, size := utf8.DecodeRuneInString(sc.s[sc.i:])
			if r == utf8.RuneError && size == 1 {
				return "", false
			}
			b = append(b, sc.s[sc.i:sc.i+size]...)
			sc.i += size
		}
	}
	return "", false
}

func (sc *scanner) hex4() (rune, bool) {
	if sc.i+4 > len(sc.s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(sc.s[sc.i : sc.i+4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	sc.i += 4
	return r, true
}

// number reads a number and returns its literal text.
func (sc *scanner) number() (string, bool) {
	start := sc.i
	if sc.peek() == '-' {
		sc.i++
	}
	switch c := sc.peek(); {
	case c == '0':
		sc.i++
	case '1' <= c && c <= '9':
		sc.digits()
	default:
		return "", false
	}
	if sc.peek() == '.' {
		sc.i++
		if !sc.digits() {
			return "", false
		}
	}
	if c := sc.peek(); c == 'e' || c == 'E' {
		sc.i++
		if c := sc.peek(); c == '+' || c == '-' {
			sc.i++
		}
		if !sc.digits() {
			return "", false
		}
	}
	return sc.s[start:sc.i], true
}

func (sc *scanner) digits() bool {
	start := sc.i
	for sc.i < len(sc.s) && '0' <= sc.s[sc.i] && sc.s[sc.i] <= '9' {
		sc.i++
	}
	return sc.i > start
}

func (sc *scanner) literal(lit string) bool {
	if strings.HasPrefix(sc.s[sc.i:], lit) {
		sc.i += len(lit)
		return true
	}
	return false
}

// skipValue validates and skips one value (white space before it already
// skipped). depth counts the enclosing containers.
func (sc *scanner) skipValue(depth int) bool {
	switch sc.peek() {
	case '{':
		if depth >= maxDepth {
			return false
		}
		return sc.skipObject(depth + 1)
	case '[':
		if depth >= maxDepth {
			return false
		}
		sc.i++
		sc.ws()
		if sc.peek() == ']' {
			sc.i++
			return true
		}
		for {
			sc.ws()
			if !sc.skipValue(depth + 1) {
				return false
			}
			sc.ws()
			switch sc.peek() {
			case ',':
				sc.i++
			case ']':
				sc.i++
				return true
			default:
				return false
			}
		}
	case '"':
		_, ok := sc.str()
		return ok
	case 't':
		return sc.literal("true")
	case 'f':
		return sc.literal("false")
	case 'n':
		return sc.literal("null")
	}
	_, ok := sc.number()
	return ok
}

func (sc *scanner) skipObject(depth int) bool {
	sc.i++ // '{'
	var keys dupCheck
	sc.ws()
	if sc.peek() == '}' {
		sc.i++
		return true
	}
	for {
		sc.ws()
		k, ok := sc.str()
		if !ok || keys.seen(k) || !sc.expect(':') {
			return false
		}
		sc.ws()
		if !sc.skipValue(depth) {
			return false
		}
		sc.ws()
		switch sc.peek() {
		case ',':
			sc.i++
		case '}':
			sc.i++
			return true
		default:
			return false
		}
	}
}

// next moves to the next member of an object whose '{' has been consumed,
// returning its key with the scanner on the value. first is true for the
// first call. It returns done when the object closes.
func (sc *scanner) next(first bool, keys *dupCheck) (key string, done, ok bool) {
	sc.ws()
	if first {
		if sc.peek() == '}' {
			sc.i++
			return "", true, true
		}
	} else {
		switch sc.peek() {
		case ',':
			sc.i++
			sc.ws()
		case '}':
			sc.i++
			return "", true, true
		default:
			return "", false, false
		}
	}
	key, ok = sc.str()
	if !ok || keys.seen(key) || !sc.expect(':') {
		return "", false, false
	}
	sc.ws()
	return key, false, true
}

// dupCheck detects a repeated object key under Unicode simple case folding.
// Up to 16 keys are compared pairwise (ASCII keys of different lengths or
// first letters without a full comparison); beyond that a map of folded
// keys is used, so a hostile object with thousands of keys costs linear
// time.
type dupCheck struct {
	small [16]foldable
	n     int
	big   map[string]struct{}
}

type foldable struct {
	s     string
	first byte // lower-cased first byte, for ASCII keys
	ascii bool
}

func newFoldable(s string) foldable {
	f := foldable{s: s, ascii: isASCII(s)}
	if f.ascii && s != "" {
		f.first = lower(s[0])
	}
	return f
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func (d *dupCheck) seen(k string) bool {
	if d.big != nil {
		f := foldKey(k)
		if _, ok := d.big[f]; ok {
			return true
		}
		d.big[f] = struct{}{}
		return false
	}
	fk := newFoldable(k)
	for i := range d.n {
		o := &d.small[i]
		if o.ascii && fk.ascii {
			if len(o.s) == len(k) && o.first == fk.first && strings.EqualFold(o.s, k) {
				return true
			}
			continue
		}
		if strings.EqualFold(o.s, k) {
			return true
		}
	}
	if d.n < len(d.small) {
		d.small[d.n] = fk
		d.n++
		return false
	}
	d.big = make(map[string]struct{}, 2*len(d.small))
	for _, o := range d.small[:d.n] {
		d.big[foldKey(o.s)] = struct{}{}
	}
	d.big[foldKey(k)] = struct{}{}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// foldKey maps s to a canonical representative of its case-folding class:
// each rune becomes the smallest rune of its simple folding orbit, so
// foldKey(a) == foldKey(b) exactly when strings.EqualFold(a, b).
func foldKey(s string) string {
	return strings.Map(func(r rune) rune {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < m {
				m = f
			}
		}
		return m
	}, s)
}

// maxNumericDate is 9999-12-31T23:59:59Z: a later time is not a real
// expiry, and bounding it keeps every computation on milliseconds far from
// overflow.
const maxNumericDate = 253402300799

// numericDate parses a JSON number literal (as scanner.number returns it)
// as an RFC 7519 NumericDate and returns Unix milliseconds, rounded down
// exactly: the literal's decimal value is never rounded to a float64 first,
// so "1.9999999999999999999" is 1999 ms whatever its form. It refuses a
// time whose milliseconds are not in (0, maxNumericDate×1000]: negative
// numbers, zero, under a millisecond, 1e300.
func numericDate(lit string) (int64, bool) {
	if lit == "" || lit[0] == '-' {
		return 0, false
	}
	// The common forms, without an exponent: whole seconds, then at most
	// three digits of fraction count (the rest is below a millisecond).
	// A literal with an exponent goes to numericDateExp.
	i := 0
	var sec int64
	for i < len(lit) && '0' <= lit[i] && lit[i] <= '9' {
		sec = sec*10 + int64(lit[i]-'0')
		if sec > maxNumericDate {
			if strings.ContainsAny(lit, "eE") {
				return numericDateExp(lit)
			}
			return 0, false
		}
		i++
	}
	ms := sec * 1000
	if i < len(lit) && lit[i] == '.' {
		i++
		for mult := int64(100); i < len(lit) && '0' <= lit[i] && lit[i] <= '9'; i++ {
			ms += int64(lit[i]-'0') * mult
			mult /= 10
		}
	}
	if i < len(lit) {
		if lit[i] == 'e' || lit[i] == 'E' {
			return numericDateExp(lit)
		}
		return 0, false
	}
	if ms <= 0 || ms > maxNumericDate*1000 {
		return 0, false
	}
	return ms, true
}

// numericDateExp is numericDate for a literal with an exponent, computed
// on its decimal digits.
func numericDateExp(lit string) (int64, bool) {
	// lit is D × 10^(exp − nf): D the digits of the integer and fraction
	// parts, nf the number of fraction digits.
	i := 0
	for i < len(lit) && lit[i] >= '0' && lit[i] <= '9' {
		i++
	}
	intDigits := lit[:i]
	var fracDigits string
	if i < len(lit) && lit[i] == '.' {
		j := i + 1
		for j < len(lit) && lit[j] >= '0' && lit[j] <= '9' {
			j++
		}
		fracDigits, i = lit[i+1:j], j
	}
	exp := 0
	if i < len(lit) { // 'e' or 'E', then an optional sign and digits
		if lit[i] != 'e' && lit[i] != 'E' {
			return 0, false
		}
		i++
		neg := i < len(lit) && lit[i] == '-'
		if i < len(lit) && (lit[i] == '-' || lit[i] == '+') {
			i++
		}
		if i == len(lit) {
			return 0, false
		}
		for ; i < len(lit); i++ {
			if lit[i] < '0' || lit[i] > '9' {
				return 0, false
			}
			// Beyond a million the value is out of range whatever the
			// digits (at most a token's length of them).
			exp = min(exp*10+int(lit[i]-'0'), 1<<20)
		}
		if neg {
			exp = -exp
		}
	}
	// ms = floor(D × 10^shift); D's leading zeros do not count.
	shift := exp - len(fracDigits) + 3
	digit := func(k int) int64 { // the k-th digit of D
		if k < len(intDigits) {
			return int64(intDigits[k] - '0')
		}
		return int64(fracDigits[k-len(intDigits)] - '0')
	}
	nd, first := len(intDigits)+len(fracDigits), 0
	for first < nd && digit(first) == 0 {
		first++
	}
	// The integer part of D × 10^shift has nd − first + shift digits;
	// maxNumericDate×1000 has 15.
	n := nd - first + shift
	if first == nd || n <= 0 || n > 15 {
		return 0, false
	}
	var ms int64
	for k := first; k < first+n; k++ {
		ms *= 10
		if k < nd {
			ms += digit(k)
		}
	}
	if ms <= 0 || ms > maxNumericDate*1000 {
		return 0, false
	}
	return ms, true
}

// appendString appends s as a JSON string. It reports false if s is not
// valid UTF-8.
func appendString(b []byte, s string) ([]byte, bool) {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				return b, false
			}
			if r == '\u2028' || r == '\u2029' {
				b = append(b, s[start:i]...)
				b = append(b, `\u202`...)
				b = append(b, hex[r&0xf])
				start = i + size
			}
			i += size
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
			i++
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"'), true
}

// appendNumericDate appends Unix milliseconds as a NumericDate: whole
// seconds, with a fraction of up to three digits when ms is not a whole
// second.
func appendNumericDate(b []byte, ms int64) []byte {
	b = strconv.AppendInt(b, ms/1000, 10)
	if frac := ms % 1000; frac != 0 {
		b = append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
		for b[len(b)-1] == '0' {
			b = b[:len(b)-1]
		}
	}
	return b
}
