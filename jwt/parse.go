package jwt

import (
	"encoding/base64"
	"strings"
	"unsafe"
)

var strict = base64.RawURLEncoding.Strict()

// b64url marks the bytes of the base64url alphabet.
var b64url = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
		t[c] = true
	}
	return t
}()

// split returns the positions of the two dots of a compact JWS, header and
// payload non-empty. It looks for at most three dots, so 10,000 dots cost
// no more than three. The segments' alphabet is left to the strict base64
// decoding, except for CR and LF, which Go's decoder skips.
func split(tok string) (d1, d2 int, ok bool) {
	d1 = strings.IndexByte(tok, '.')
	if d1 <= 0 {
		return 0, 0, false
	}
	d2 = strings.IndexByte(tok[d1+1:], '.')
	if d2 <= 0 {
		return 0, 0, false
	}
	d2 += d1 + 1
	if strings.IndexByte(tok[d2+1:], '.') >= 0 {
		return 0, 0, false
	}
	return d1, d2, true
}

// base64URLOnly reports whether every byte of s, dots aside, is in the
// base64url alphabet.
func base64URLOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !b64url[c] && c != '.' {
			return false
		}
	}
	return true
}

// jws is a compact JWS decoded by decodeJWS.
type jws struct {
	input     []byte // the signing input: the header and payload segments and the dot between
	headerSeg string // the header segment, still encoded
	claims    string // the decoded payload (JSON)
	sigLen    int    // the length of the decoded signature
}

// decodeJWS splits token into its three segments and decodes the payload
// and the signature as canonical unpadded base64url; the header is left to
// decodeHeader, so that a verifier can skip it when it is the header it
// saw last. The payload is decoded into one new buffer; the signature into
// sig, so that it costs no allocation. It returns errShape for anything
// but three segments with a non-empty header and payload, and errBase64
// for a segment that is not canonical base64url (including a signature too
// long for any key).
func decodeJWS(token string, sig *[MaxRSABits / 8]byte) (jws, *rejection) {
	d1, d2, ok := split(token)
	if !ok {
		return jws{}, errShape
	}
	// Go's decoder skips CR and LF; a canonical segment has neither.
	if strings.IndexByte(token, '\n') >= 0 || strings.IndexByte(token, '\r') >= 0 {
		return jws{}, errBase64
	}
	buf := make([]byte, strict.DecodedLen(d2-d1-1))
	pn, err1 := strict.Decode(buf, stringBytes(token[d1+1:d2]))
	var sn int
	var err2 error
	if strict.DecodedLen(len(token)-d2-1) > len(sig) {
		err2 = errSignature
	} else {
		sn, err2 = strict.Decode(sig[:], stringBytes(token[d2+1:]))
	}
	if err1 != nil || err2 != nil {
		return jws{}, errBase64
	}
	return jws{
		input:     stringBytes(token[:d2]),
		headerSeg: token[:d1],
		// buf is written once, above, and never again: the string can
		// share its bytes instead of copying them.
		claims: unsafe.String(unsafe.SliceData(buf), pn),
		sigLen: sn,
	}, nil
}

// decodeHeader decodes and parses a header segment. A segment that is not
// canonical base64url is errBase64.
func decodeHeader(seg string) (header, *rejection) {
	var buf [256]byte
	if strict.DecodedLen(len(seg)) > len(buf) {
		// Longer than any header this package reads is worth a
		// buffer of its own; it is rare, and refused by most keys.
		b, err := strict.DecodeString(seg)
		if err != nil {
			return header{}, errBase64
		}
		return parseHeader(string(b))
	}
	n, err := strict.Decode(buf[:], stringBytes(seg))
	if err != nil {
		return header{}, errBase64
	}
	return parseHeader(string(buf[:n]))
}

// stringBytes returns the bytes of s without copying them. The slice is
// read-only: it is handed only to the base64 decoder as its source and to
// hashes and signature checks as their input, none of which writes to or
// keeps it. It saves copying the whole token on every first-seen
// verification.
func stringBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// header is the part of a JOSE header the verifier reads.
type header struct {
	alg, kid, typ          string
	hasAlg, hasKID, hasTyp bool
}

func parseHeader(s string) (header, *rejection) {
	var h header
	sc := scanner{s: s}
	if !sc.expect('{') {
		return h, errHeaderJSON
	}
	var keys dupCheck
	for first := true; ; first = false {
		k, done, ok := sc.next(first, &keys)
		if !ok {
			return h, errHeaderJSON
		}
		if done {
			break
		}
		var str *string
		var has *bool
		switch k {
		case "alg":
			str, has = &h.alg, &h.hasAlg
		case "kid":
			str, has = &h.kid, &h.hasKID
		case "typ":
			str, has = &h.typ, &h.hasTyp
		case "crit":
			return h, errCrit
		case "b64":
			return h, errB64
		case "cty":
			return h, errCty
		}
		if str != nil {
			if sc.peek() != '"' {
				if k == "alg" {
					return h, errNoAlg
				}
				return h, errHeaderJSON
			}
			if *str, ok = sc.str(); !ok {
				return h, errHeaderJSON
			}
			*has = true
			continue
		}
		if !sc.skipValue(1) {
			return h, errHeaderJSON
		}
	}
	if !sc.atEnd() {
		return h, errHeaderJSON
	}
	return h, nil
}

// rawClaims is what parseClaims reads.
type rawClaims struct {
	iss, sub, jti, scope, fid string
	hasIss, hasSub, hasScope  bool
	aud                       []string
	audOne                    string
	audKind                   uint8 // 0 absent, 1 string, 2 array
	exp, nbf, iat, auth       int64 // ms; 0 when absent
	extras                    []member
}

func (c *rawClaims) hasAudience(a string) bool {
	switch c.audKind {
	case 1:
		return c.audOne == a
	case 2:
		for _, x := range c.aud {
			if x == a {
				return true
			}
		}
	}
	return false
}

// parseClaims reads the claims set s into c: the registered claims it
// knows, and the raw JSON of the members named in extras. Each member's
// destination is picked once, by its name, as in parseHeader.
func parseClaims(s string, extras []string, c *rawClaims) *rejection {
	sc := scanner{s: s}
	if !sc.expect('{') {
		return errClaimsJSON
	}
	var keys dupCheck
	var unused bool
	for first := true; ; first = false {
		k, done, ok := sc.next(first, &keys)
		if !ok {
			return errClaimsJSON
		}
		if done {
			break
		}
		start := sc.i
		var str *string
		var has *bool
		var date *int64
		switch k {
		case "iss":
			str, has = &c.iss, &c.hasIss
		case "sub":
			str, has = &c.sub, &c.hasSub
		case "jti":
			str, has = &c.jti, &unused
		case "scope":
			str, has = &c.scope, &c.hasScope
		case "fid":
			str, has = &c.fid, &unused
		case "exp":
			date = &c.exp
		case "nbf":
			date = &c.nbf
		case "iat":
			date = &c.iat
		case "auth_time":
			date = &c.auth
		}
		var rej *rejection
		switch {
		case str != nil:
			rej = sc.claimString(str, has)
		case date != nil:
			rej = sc.claimDate(date)
		case k == "aud":
			rej = sc.claimAudience(c)
		case !sc.skipValue(1):
			rej = errClaimsJSON
		}
		if rej != nil {
			return rej
		}
		for _, x := range extras {
			if x == k {
				c.extras = append(c.extras, member{name: k, raw: s[start:sc.i]})
				break
			}
		}
	}
	if !sc.atEnd() {
		return errClaimsJSON
	}
	return nil
}

// claimString reads a string claim into dst and sets has. Another type is
// errClaimType.
func (sc *scanner) claimString(dst *string, has *bool) *rejection {
	if sc.peek() != '"' {
		return errClaimType
	}
	val, ok := sc.str()
	if !ok {
		return errClaimsJSON
	}
	*dst, *has = val, true
	return nil
}

// claimDate reads a NumericDate claim into dst, in Unix milliseconds.
// Another type, or a number out of range, is errClaimType.
func (sc *scanner) claimDate(dst *int64) *rejection {
	if ch := sc.peek(); ch != '-' && (ch < '0' || ch > '9') {
		return errClaimType
	}
	lit, ok := sc.number()
	if !ok {
		return errClaimsJSON
	}
	ms, ok := numericDate(lit)
	if !ok {
		return errClaimType
	}
	*dst = ms
	return nil
}

// claimAudience reads aud: a string, or an array of strings.
func (sc *scanner) claimAudience(c *rawClaims) *rejection {
	switch sc.peek() {
	case '"':
		var ok bool
		if c.audOne, ok = sc.str(); !ok {
			return errClaimsJSON
		}
		c.audKind = 1
		return nil
	case '[':
	default:
		return errClaimType
	}
	sc.i++
	c.audKind = 2
	c.aud = []string{}
	for n := 0; ; n++ {
		sc.ws()
		if n == 0 && sc.peek() == ']' {
			sc.i++
			return nil
		}
		if sc.peek() != '"' {
			return errClaimType
		}
		a, ok := sc.str()
		if !ok {
			return errClaimsJSON
		}
		c.aud = append(c.aud, a)
		sc.ws()
		switch sc.peek() {
		case ',':
			sc.i++
		case ']':
			sc.i++
			return nil
		default:
			return errClaimsJSON
		}
	}
}
