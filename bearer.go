package authkit

import (
	"fmt"
	"mime"
	"net/http"
	"strings"
)

// BearerToken returns the bearer token sent with r (RFC 6750).
//
// Inside a [Guard], it returns the token the Guard extracted from the
// transports it allows (the Authorization header by default; the query string
// or form body only when opted in). Outside a Guard it reads the
// Authorization header alone. It returns ErrNoCredentials when no bearer
// token was sent (a header with another scheme, such as Basic, is not a
// bearer token), and an error wrapping ErrInvalidRequest when the header is
// malformed or repeated, or the token was sent in more than one way.
//
// Authenticators of bearer credentials call it so that every mechanism agrees
// on where a token comes from.
func BearerToken(r *http.Request) (string, error) {
	if s := stateFrom(r.Context()); s != nil && s.bearerSet {
		if s.bearer == "" {
			return "", ErrNoCredentials
		}
		return s.bearer, nil
	}
	return headerToken(r)
}

// headerToken reads a bearer token from the Authorization header.
func headerToken(r *http.Request) (string, error) {
	vals := r.Header["Authorization"]
	switch len(vals) {
	case 0:
		return "", ErrNoCredentials
	case 1:
	default:
		return "", fmt.Errorf("%w: more than one Authorization header", ErrInvalidRequest)
	}
	v := vals[0]
	// RFC 7235: credentials = auth-scheme [ 1*SP token68 ]; the scheme is
	// case-insensitive.
	scheme, rest := v, ""
	if i := strings.IndexAny(v, " \t"); i >= 0 {
		scheme, rest = v[:i], v[i:]
	}
	if !strings.EqualFold(scheme, "Bearer") {
		return "", ErrNoCredentials
	}
	// Only spaces may separate the scheme from the token; a tab or nothing at
	// all makes the credentials malformed.
	tok := strings.TrimLeft(rest, " ")
	if len(tok) == len(rest) {
		return "", fmt.Errorf("%w: malformed Bearer credentials", ErrInvalidRequest)
	}
	if !isToken68(tok) {
		return "", fmt.Errorf("%w: malformed Bearer credentials", ErrInvalidRequest)
	}
	return tok, nil
}

// isToken68 reports whether s is an RFC 6750 b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isToken68(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' {
			continue
		}
		break
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// extractBearer finds the bearer token in the transports g allows. It returns
// "" and nil when none was sent.
func (g *Guard) extractBearer(r *http.Request) (string, error) {
	var buf [3]string
	found := buf[:0]
	tok, err := headerToken(r)
	switch {
	case err == nil:
		found = append(found, tok)
	case err != ErrNoCredentials:
		return "", err
	}
	if g.InsecureAllowQueryToken {
		vals, ok := r.URL.Query()["access_token"]
		if ok {
			if len(vals) != 1 || !isToken68(vals[0]) {
				return "", fmt.Errorf("%w: malformed access_token query parameter", ErrInvalidRequest)
			}
			found = append(found, vals[0])
		}
	}
	if (g.InsecureAllowFormToken || g.AllowFormToken) && r.Method != http.MethodGet && r.Method != http.MethodHead && r.Body != nil {
		if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
			// ParseForm reads at most 10 MB of body; a larger body is a bad request.
			if err := r.ParseForm(); err != nil {
				return "", fmt.Errorf("%w: unreadable form body", ErrInvalidRequest)
			}
			if vals, ok := r.PostForm["access_token"]; ok {
				if len(vals) != 1 || !isToken68(vals[0]) {
					return "", fmt.Errorf("%w: malformed access_token form field", ErrInvalidRequest)
				}
				found = append(found, vals[0])
			}
		}
	}
	switch len(found) {
	case 0:
		return "", nil
	case 1:
		return found[0], nil
	default:
		// RFC 6750 §2: clients MUST NOT use more than one method.
		return "", fmt.Errorf("%w: bearer token sent in more than one way", ErrInvalidRequest)
	}
}
