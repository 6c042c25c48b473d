package cookie

import "errors"

// Errors returned by [Template]. Each is wrapped with a message naming the rule
// that failed; test for them with [errors.Is].
var (
	// ErrInvalidName means a cookie name is empty or is not an RFC 7230 token
	// (letters, digits and !#$%&'*+-.^_`|~ only).
	ErrInvalidName = errors.New("cookie: invalid name")
	// ErrInvalidAttribute means Path, Domain, MaxAge, Expires or SameSite holds
	// a value a browser would reject or reinterpret.
	ErrInvalidAttribute = errors.New("cookie: invalid attribute")
	// ErrInsecure means the template turns off a protection without the
	// matching opt-in: Secure off without InsecureAllowHTTP, HttpOnly off
	// without AllowScriptAccess, or SameSite=None or Partitioned without Secure.
	ErrInsecure = errors.New("cookie: insecure settings")
	// ErrPrefix means the name carries a __Host-, __Secure- or __Http- prefix
	// whose requirements the template does not meet; the browser would drop
	// the cookie.
	ErrPrefix = errors.New("cookie: name prefix requirements not met")
	// ErrInvalidValue means a value to set contains a byte outside the
	// RFC 6265 cookie-octet set, or a value read from a request does.
	ErrInvalidValue = errors.New("cookie: invalid value")
	// ErrTooLong means a Set-Cookie line, or name=value for an encoded value,
	// would exceed [MaxLine] bytes; from [Codec.Open] and [Codec.Verify] it
	// means the input was refused before any decoding.
	ErrTooLong = errors.New("cookie: too long")
	// ErrNotFound means the request carries no cookie with the template's name.
	ErrNotFound = errors.New("cookie: not found")
	// ErrDuplicate means the request carries the template's name more than
	// once: another cookie with the same name was planted by a sibling
	// subdomain or set on a narrower path (cookie tossing). No copy is trusted.
	ErrDuplicate = errors.New("cookie: name sent more than once")
)

// Errors returned by [Codec]. Every error from Open, Verify and their helpers
// means the value must be treated as absent; the distinctions exist for logs
// and metrics.
var (
	// ErrInvalid means an encoded value is malformed, was produced for another
	// cookie name or by the other mode, or failed authentication (it was
	// tampered with, truncated, or made with a different key).
	ErrInvalid = errors.New("cookie: invalid encoded value")
	// ErrExpired means an authentic value is past the expiry sealed into it.
	ErrExpired = errors.New("cookie: encoded value expired")
	// ErrUnknownKey means the value names a key ID the Codec does not hold:
	// a retired key, or a forgery.
	ErrUnknownKey = errors.New("cookie: unknown key ID")
	// ErrInvalidKey means the key list given to [NewCodec] is unusable: empty,
	// a secret shorter than [MinKeySize] bytes, or a repeated key ID.
	ErrInvalidKey = errors.New("cookie: invalid key")
	// ErrInvalidTTL means Seal or Sign was called with a lifetime that is not
	// positive.
	ErrInvalidTTL = errors.New("cookie: invalid ttl")
)
