package jwt

import (
	"errors"

	"github.com/authkit/authkit"
)

// Errors a [Verifier] returns for a token it refuses. Each refusal is an
// error that matches one of these with [errors.Is] and also matches
// [authkit.ErrInvalidCredentials], so a [authkit.Guard] answers 401
// invalid_token. The messages never contain any part of the token.
var (
	// ErrMalformed means the token is not a compact JWS with canonical
	// base64url segments and a strict JSON header and claims set: wrong
	// number of segments, padding or the +/ alphabet, invalid or duplicate
	// JSON keys, a claim of the wrong type, a time out of range.
	ErrMalformed = errors.New("jwt: malformed token")
	// ErrTooLarge means the token is longer than [Config].MaxTokenSize. It is
	// refused before any decoding.
	ErrTooLarge = errors.New("jwt: token too large")
	// ErrUnsupported means the header asks for something the verifier does not
	// do: a crit extension, an unencoded payload (b64), a nested token (cty).
	ErrUnsupported = errors.New("jwt: unsupported header")
	// ErrAlgorithm means the header alg is missing or is not the algorithm of
	// the key selected by kid. Each key has exactly one algorithm.
	ErrAlgorithm = errors.New("jwt: algorithm not allowed for key")
	// ErrUnknownKey means no key matches the header kid, or the header has no
	// kid and the key set holds more than one key. A retired key is unknown.
	ErrUnknownKey = errors.New("jwt: unknown signing key")
	// ErrSignature means the signature does not verify with the selected key.
	ErrSignature = errors.New("jwt: invalid signature")
	// ErrExpired means the token's exp (plus leeway) has passed.
	ErrExpired = errors.New("jwt: token expired")
	// ErrNotYetValid means the token's nbf or iat is in the future (beyond the
	// leeway).
	ErrNotYetValid = errors.New("jwt: token not valid yet")
	// ErrInvalidClaims means a required claim is missing or does not match the
	// configuration: exp, iat or sub missing; iss, aud or typ wrong; exp - iat
	// over the maximum lifetime.
	ErrInvalidClaims = errors.New("jwt: invalid claims")
	// ErrRevoked means the token was revoked: its jti, its refresh family, or
	// every token its subject held when [Verifier.RevokeSubject] was called.
	ErrRevoked = errors.New("jwt: token revoked")
)

// Errors that are not a verdict on a token.
var (
	// ErrKeysUnavailable means a [RemoteKeySet] has never fetched its key set
	// successfully, so no token can be checked. It does not match
	// authkit.ErrInvalidCredentials: a Guard answers 503, not 401.
	ErrKeysUnavailable = errors.New("jwt: keys unavailable")
	// ErrInvalidKey means key material is unusable: an unsupported type, an
	// algorithm that does not fit the key, an HMAC secret shorter than the
	// hash output, an RSA modulus under 2048 bits, a repeated kid, or a
	// key that cannot sign used where one must.
	ErrInvalidKey = errors.New("jwt: invalid key")
	// ErrKeyInUse means [KeySet.Retire] was asked to retire the signing key.
	ErrKeyInUse = errors.New("jwt: key is the signing key")
	// ErrRevocationDisabled is returned by the Revoke methods of a Verifier
	// whose Config.InsecureDisableRevocation is set.
	ErrRevocationDisabled = errors.New("jwt: revocation is disabled")
	// ErrConflict means a revocation record kept changing under concurrent
	// writers and the update gave up after its retries. Retrying later is safe.
	ErrConflict = errors.New("jwt: revocation record update conflict")
	// ErrInvalidGrant means [Issuer.Issue] was given an unusable Grant: no
	// subject, invalid UTF-8, a non-positive lifetime, or custom claims that
	// are not a JSON object or reuse a registered claim name.
	ErrInvalidGrant = errors.New("jwt: invalid grant")
)

// rejection is a token refusal. Values are package-level and immutable, so a
// flood of bad tokens costs no allocation per error.
type rejection struct {
	kind   error  // one of the sentinels above
	msg    string // the full message, starting "jwt: "
	reason string // short machine-readable reason for events
}

func (e *rejection) Error() string { return e.msg }

// Unwrap lets errors.Is match both the jwt sentinel and
// authkit.ErrInvalidCredentials.
func (e *rejection) Unwrap() []error { return []error{e.kind, authkit.ErrInvalidCredentials} }

func reject(kind error, reason, detail string) *rejection {
	msg := kind.Error()
	if detail != "" {
		msg += ": " + detail
	}
	return &rejection{kind: kind, msg: msg, reason: reason}
}

var (
	errTooLarge        = reject(ErrTooLarge, "too_large", "")
	errShape           = reject(ErrMalformed, authkit.ReasonMalformed, "not a compact JWS of three base64url segments")
	errBase64          = reject(ErrMalformed, authkit.ReasonMalformed, "non-canonical base64url")
	errHeaderJSON      = reject(ErrMalformed, authkit.ReasonMalformed, "header is not a strict JSON object")
	errClaimsJSON      = reject(ErrMalformed, authkit.ReasonMalformed, "claims are not a strict JSON object")
	errClaimType       = reject(ErrMalformed, authkit.ReasonMalformed, "registered claim has the wrong type or range")
	errCustomClaims    = reject(ErrMalformed, authkit.ReasonMalformed, "claims do not decode into the custom claims type")
	errCrit            = reject(ErrUnsupported, "unsupported", "crit header")
	errB64             = reject(ErrUnsupported, "unsupported", "b64 header")
	errCty             = reject(ErrUnsupported, "unsupported", "cty header")
	errNoAlg           = reject(ErrAlgorithm, "algorithm", "header has no alg")
	errAlgMismatch     = reject(ErrAlgorithm, "algorithm", "header alg is not the key's algorithm")
	errUnknownKID      = reject(ErrUnknownKey, "unknown_key", "no key with this kid")
	errNeedKID         = reject(ErrUnknownKey, "unknown_key", "header has no kid and the key set has several keys")
	errNoKeys          = reject(ErrUnknownKey, "unknown_key", "key set is empty")
	errSignature       = reject(ErrSignature, authkit.ReasonSignature, "")
	errExpired         = reject(ErrExpired, authkit.ReasonExpired, "")
	errNotBefore       = reject(ErrNotYetValid, "not_yet_valid", "nbf is in the future")
	errIssuedInFuture  = reject(ErrNotYetValid, "not_yet_valid", "iat is in the future")
	errAuthTimeFuture  = reject(ErrNotYetValid, "not_yet_valid", "auth_time is in the future")
	errNoExp           = reject(ErrInvalidClaims, "claims", "exp is missing")
	errNoIat           = reject(ErrInvalidClaims, "claims", "iat is missing")
	errNoSub           = reject(ErrInvalidClaims, "claims", "sub is missing")
	errIssuer          = reject(ErrInvalidClaims, "claims", "iss is missing or wrong")
	errAudience        = reject(ErrInvalidClaims, "claims", "aud is missing or does not contain this audience")
	errType            = reject(ErrInvalidClaims, "claims", "typ is missing or not accepted")
	errLifetime        = reject(ErrInvalidClaims, "claims", "exp - iat exceeds the maximum lifetime")
	errRevokedJTI      = reject(ErrRevoked, authkit.ReasonRevoked, "jti revoked")
	errRevokedFamily   = reject(ErrRevoked, authkit.ReasonRevoked, "refresh family revoked")
	errRevokedSubject  = reject(ErrRevoked, authkit.ReasonRevoked, "issued before the subject's revocation")
	errRevocationNoJTI = reject(ErrInvalidClaims, "claims", "token has no jti to revoke")
)
