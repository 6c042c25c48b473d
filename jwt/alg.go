package jwt

import (
	"crypto"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
)

// Algorithm is a JWS signature algorithm (RFC 7518 §3, RFC 8037). A [Key]
// has exactly one. "none" is not an Algorithm: there is no way to make or
// accept an unsigned token.
type Algorithm string

// The algorithms authkit signs and verifies.
const (
	HS256 Algorithm = "HS256" // HMAC with SHA-256; secret of at least 32 bytes
	HS384 Algorithm = "HS384" // HMAC with SHA-384; secret of at least 48 bytes
	HS512 Algorithm = "HS512" // HMAC with SHA-512; secret of at least 64 bytes
	RS256 Algorithm = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256; modulus of at least 2048 bits
	PS256 Algorithm = "PS256" // RSASSA-PSS with SHA-256, salt as long as the hash; modulus of at least 2048 bits
	ES256 Algorithm = "ES256" // ECDSA on P-256 with SHA-256
	ES384 Algorithm = "ES384" // ECDSA on P-384 with SHA-384
	EdDSA Algorithm = "EdDSA" // Ed25519 (RFC 8037), under its original, polymorphic name

	// Ed25519 is EdDSA on Ed25519 under its fully specified name (RFC
	// 9864). authkit's EdDSA keys are all Ed25519, so the two names are one
	// algorithm: a key of either verifies a token whose header names either
	// (and signs with its own), and a RemoteConfig allowlist naming one
	// allows the other.
	Ed25519 Algorithm = "Ed25519"
)

// allAlgorithms lists every supported algorithm.
var allAlgorithms = []Algorithm{HS256, HS384, HS512, RS256, PS256, ES256, ES384, EdDSA, Ed25519}

// asymmetricAlgorithms is the default allowlist of a RemoteKeySet.
var asymmetricAlgorithms = []Algorithm{RS256, PS256, ES256, ES384, EdDSA, Ed25519}

type algKind uint8

const (
	kindHMAC algKind = iota + 1
	kindRSA
	kindRSAPSS
	kindECDSA
	kindEdDSA
)

type algInfo struct {
	kind    algKind
	hash    crypto.Hash
	newHash func() hash.Hash
	size    int // HMAC output / minimum secret size; ECDSA coordinate size
}

func (a Algorithm) info() (algInfo, bool) {
	switch a {
	case HS256:
		return algInfo{kindHMAC, crypto.SHA256, sha256.New, 32}, true
	case HS384:
		return algInfo{kindHMAC, crypto.SHA384, sha512.New384, 48}, true
	case HS512:
		return algInfo{kindHMAC, crypto.SHA512, sha512.New, 64}, true
	case RS256:
		return algInfo{kindRSA, crypto.SHA256, sha256.New, 0}, true
	case PS256:
		return algInfo{kindRSAPSS, crypto.SHA256, sha256.New, 0}, true
	case ES256:
		return algInfo{kindECDSA, crypto.SHA256, sha256.New, 32}, true
	case ES384:
		return algInfo{kindECDSA, crypto.SHA384, sha512.New384, 48}, true
	case EdDSA, Ed25519:
		return algInfo{kindEdDSA, 0, nil, 0}, true
	}
	return algInfo{}, false
}

// verifies reports whether a key of algorithm a verifies a token whose
// header alg is alg: the same name, or EdDSA and Ed25519 for each other.
func (a Algorithm) verifies(alg string) bool {
	if string(a) == alg {
		return true
	}
	return (a == EdDSA || a == Ed25519) && (alg == string(EdDSA) || alg == string(Ed25519))
}

// Symmetric reports whether a is an HMAC algorithm, whose key is a shared
// secret that must never be published.
func (a Algorithm) Symmetric() bool {
	inf, ok := a.info()
	return ok && inf.kind == kindHMAC
}

// digest hashes msg with h into dst (at least 64 bytes) and returns the
// digest, without allocating for the common hashes.
func digest(h crypto.Hash, msg []byte, dst *[64]byte) []byte {
	switch h {
	case crypto.SHA256:
		*(*[32]byte)(dst[:32]) = sha256.Sum256(msg)
		return dst[:32]
	case crypto.SHA384:
		*(*[48]byte)(dst[:48]) = sha512.Sum384(msg)
		return dst[:48]
	case crypto.SHA512:
		*dst = sha512.Sum512(msg)
		return dst[:64]
	}
	panic("jwt: unsupported hash")
}
