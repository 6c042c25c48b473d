// Package httpsyntax holds the checks of HTTP's grammar that several
// authkit packages share, so that each rule is written once.
package httpsyntax

// IsTchar reports whether c is an RFC 9110 §5.6.2 tchar: a letter, a digit
// or one of !#$%&'*+-.^_`|~ — the characters of a token, such as a header
// field name, an authentication scheme or a cookie name.
func IsTchar(c byte) bool { return tchar[c] }

// IsToken reports whether s is an RFC 9110 token: one or more tchars.
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tchar[s[i]] {
			return false
		}
	}
	return true
}

// tchar[c] reports whether c is a tchar; a table, since cookie names and
// schemes are checked on every request that carries one.
var tchar = func() (t [256]bool) {
	for c := range 256 {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
	}
	for _, c := range []byte("!#$%&'*+-.^_`|~") {
		t[c] = true
	}
	return t
}()
