package token

import (
	"errors"

	"github.com/authkit/authkit"
)

// credError is a sentinel that also matches [authkit.ErrInvalidCredentials],
// so a caller can branch on the precise reason or on "bad credential" alone.
type credError struct{ msg string }

func (e *credError) Error() string { return e.msg }

// Is reports whether target is authkit.ErrInvalidCredentials.
func (e *credError) Is(target error) bool { return target == authkit.ErrInvalidCredentials }

// Errors for a presented token. Each one also matches
// [authkit.ErrInvalidCredentials] with [errors.Is], and none carries the
// token or anything derived from it.
var (
	// ErrMalformed means the token is not of the expected kind or fails the
	// format check: wrong prefix, length, alphabet or checksum. It is decided
	// without touching the store.
	ErrMalformed error = &credError{"token: malformed token"}
	// ErrNotFound means no live record matches the token: never issued,
	// revoked, consumed, or expired and removed.
	ErrNotFound error = &credError{"token: unknown token"}
	// ErrExpired means the token's record exists but is past its deadline —
	// for a refresh token, the family's idle or absolute lifetime.
	ErrExpired error = &credError{"token: expired"}
	// ErrRevoked means the refresh token's family was revoked.
	ErrRevoked error = &credError{"token: refresh family revoked"}
	// ErrReused means an already-rotated refresh token was presented: the
	// family has just been revoked, with the access tokens issued from it.
	ErrReused error = &credError{"token: refresh token reused; family revoked"}
	// ErrClientMismatch means the token was issued to another client.
	ErrClientMismatch error = &credError{"token: token issued to another client"}
)

// ErrInvalidOptions is returned when issuing with arguments out of bounds: an
// empty or oversized subject, a scope that is not an RFC 6749 scope token,
// too much metadata, a negative lifetime, an unknown family ID.
var ErrInvalidOptions = errors.New("token: invalid options")

// ErrCorrupt is returned when a stored record cannot be decoded: written by a
// newer version of this package, or damaged. It is a server-side failure, not
// a bad credential, so an [authkit.Guard] answers 503 rather than logging the
// client out.
var ErrCorrupt = errors.New("token: corrupt record")
