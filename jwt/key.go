package jwt

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"math/big"
	"os"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/authkit/authkit/internal/secret"
)

// Bounds on RSA keys. Under 2048 bits is refused (RFC 7518 §3.3); over
// 8192 bits only makes every verify slower (a hostile JWKS could publish one).
const (
	MinRSABits = 2048
	MaxRSABits = 8192
)

// maxKIDLen bounds a key ID; a longer kid in a header is simply unknown.
const maxKIDLen = 255

// Key is one signing or verification key with exactly one [Algorithm] and a
// key ID (kid). A Key is immutable and safe for concurrent use.
//
// A key that holds private material (an HMAC secret or a private key) can
// sign and verify; a key built from a public key can only verify.
type Key struct {
	alg    Algorithm
	info   algInfo
	kid    string
	secret []byte           // HMAC secret
	signer crypto.Signer    // asymmetric private key; nil when verify-only
	public crypto.PublicKey // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
	sigLen int              // exact signature length in bytes
	macs   *sync.Pool       // *macState, for HMAC keys
	pubJWK jwk.Key          // the public JWK (kid, alg, use=sig); nil for HMAC
}

// String describes k by algorithm and key ID only. It, GoString, Format
// and LogValue keep key material out of logs and formatted output, where
// printing the struct's fields would show an HMAC secret or a private key.
// They have value receivers, so that a Key value is as safe to print as a
// *Key.
func (k Key) String() string {
	kind := "verify-only"
	if k.secret != nil || k.signer != nil {
		kind = "signing"
	}
	return "jwt.Key{alg: " + string(k.alg) + ", kid: " + strconv.Quote(k.kid) + ", " + kind + "}"
}

// GoString implements fmt.GoStringer, for %#v; see [Key.String].
func (k Key) GoString() string { return k.String() }

// Format implements fmt.Formatter: every verb prints [Key.String], so that
// no verb (%x, %d, %+v) reaches the fields.
func (k Key) Format(f fmt.State, verb rune) { formatRedacted(f, verb, k.String()) }

// LogValue implements slog.LogValuer; see [Key.String].
func (k Key) LogValue() slog.Value {
	return slog.GroupValue(slog.String("alg", string(k.alg)), slog.String("kid", k.kid), slog.Bool("can_sign", k.secret != nil || k.signer != nil))
}

// formatRedacted writes s, the redacted description of a value, for any
// verb: quoted for %q, as is for every other.
func formatRedacted(f fmt.State, verb rune, s string) {
	if verb == 'q' {
		s = strconv.Quote(s)
	}
	_, _ = io.WriteString(f, s)
}

// macState is a keyed HMAC and a buffer for its sum, pooled per key so that
// signing and verifying allocate nothing for the MAC.
type macState struct {
	h   hash.Hash
	sum [64]byte
}

// NewKey returns a key for alg with a kid that is the RFC 7638 SHA-256 JWK
// thumbprint of the (public) key, base64url-encoded.
//
// material is, for HS256/HS384/HS512, the secret as a []byte (at least 32,
// 48 or 64 bytes: the hash output size, RFC 7518 §3.2; random bytes, never a
// password); for RS256 and PS256 an *rsa.PrivateKey or *rsa.PublicKey of
// 2048 to 8192 bits; for ES256 and ES384 an *ecdsa.PrivateKey or
// *ecdsa.PublicKey on P-256 or P-384; for EdDSA and Ed25519 an
// ed25519.PrivateKey or ed25519.PublicKey. Any other crypto.Signer whose
// public key fits alg (a key held in a KMS or an HSM) also works, as does a
// jwk.Key. The secret is copied. An unusable key is an error wrapping
// [ErrInvalidKey].
func NewKey(alg Algorithm, material any) (*Key, error) {
	return newKey("", alg, material)
}

// NewKeyWithID is [NewKey] with an explicit kid: 1 to 255 bytes of UTF-8
// without control characters.
func NewKeyWithID(kid string, alg Algorithm, material any) (*Key, error) {
	if !validKID(kid) {
		return nil, fmt.Errorf("%w: kid must be 1 to %d bytes of printable UTF-8", ErrInvalidKey, maxKIDLen)
	}
	return newKey(kid, alg, material)
}

func validKID(kid string) bool {
	if kid == "" || len(kid) > maxKIDLen || !utf8.ValidString(kid) {
		return false
	}
	for _, r := range kid {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func newKey(kid string, alg Algorithm, material any) (*Key, error) {
	inf, ok := alg.info()
	if !ok {
		return nil, fmt.Errorf("%w: unsupported algorithm %q", ErrInvalidKey, alg)
	}
	if jk, ok := material.(jwk.Key); ok {
		var raw any
		if err := jwk.Export(jk, &raw); err != nil {
			return nil, fmt.Errorf("%w: cannot export JWK: %v", ErrInvalidKey, err)
		}
		material = raw
	}
	k := &Key{alg: alg, info: inf, kid: kid}
	if inf.kind == kindHMAC {
		b, ok := material.([]byte)
		if !ok {
			return nil, fmt.Errorf("%w: %s needs a []byte secret, got %T", ErrInvalidKey, alg, material)
		}
		if len(b) < inf.size {
			return nil, fmt.Errorf("%w: %s secret is %d bytes, needs at least %d", ErrInvalidKey, alg, len(b), inf.size)
		}
		k.secret = bytes.Clone(b)
		k.sigLen = inf.size
		sec, newHash := k.secret, inf.newHash
		k.macs = &sync.Pool{New: func() any { return &macState{h: hmac.New(newHash, sec)} }}
	} else {
		switch m := material.(type) {
		case []byte:
			return nil, fmt.Errorf("%w: %s needs an asymmetric key, not a secret", ErrInvalidKey, alg)
		case *rsa.PrivateKey:
			if m == nil {
				return nil, fmt.Errorf("%w: nil key", ErrInvalidKey)
			}
			if err := m.Validate(); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
			}
			k.signer, k.public = m, &m.PublicKey
		case *ecdsa.PrivateKey:
			if m == nil {
				return nil, fmt.Errorf("%w: nil key", ErrInvalidKey)
			}
			k.signer, k.public = m, &m.PublicKey
		case ed25519.PrivateKey:
			if len(m) != ed25519.PrivateKeySize {
				return nil, fmt.Errorf("%w: Ed25519 private key must be %d bytes", ErrInvalidKey, ed25519.PrivateKeySize)
			}
			m = bytes.Clone(m)
			k.signer, k.public = m, m.Public()
		case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
			k.public = m
		case crypto.Signer:
			if m == nil {
				return nil, fmt.Errorf("%w: nil key", ErrInvalidKey)
			}
			k.signer, k.public = m, m.Public()
		default:
			return nil, fmt.Errorf("%w: unsupported key type %T", ErrInvalidKey, material)
		}
		if err := k.checkPublic(); err != nil {
			return nil, err
		}
	}
	if err := k.finish(); err != nil {
		return nil, err
	}
	return k, nil
}

// checkPublic checks that the public key fits the algorithm and sets sigLen.
func (k *Key) checkPublic() error {
	switch k.info.kind {
	case kindRSA, kindRSAPSS:
		pub, ok := k.public.(*rsa.PublicKey)
		if !ok || pub == nil || pub.N == nil {
			return fmt.Errorf("%w: %s needs an RSA key, got %T", ErrInvalidKey, k.alg, k.public)
		}
		bits := pub.N.BitLen()
		if bits < MinRSABits || bits > MaxRSABits {
			return fmt.Errorf("%w: RSA modulus is %d bits, must be %d to %d", ErrInvalidKey, bits, MinRSABits, MaxRSABits)
		}
		if pub.E < 3 || pub.E%2 == 0 {
			return fmt.Errorf("%w: RSA public exponent %d is not an odd number of at least 3", ErrInvalidKey, pub.E)
		}
		k.sigLen = pub.Size()
	case kindECDSA:
		pub, ok := k.public.(*ecdsa.PublicKey)
		if !ok || pub == nil || pub.Curve == nil {
			return fmt.Errorf("%w: %s needs an ECDSA key, got %T", ErrInvalidKey, k.alg, k.public)
		}
		want := elliptic.P256()
		if k.alg == ES384 {
			want = elliptic.P384()
		}
		if pub.Curve != want {
			return fmt.Errorf("%w: %s needs curve %s, got %s", ErrInvalidKey, k.alg, want.Params().Name, pub.Curve.Params().Name)
		}
		// Bytes validates that the point is on the curve.
		if _, err := pub.Bytes(); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidKey, err)
		}
		k.sigLen = 2 * k.info.size
	case kindEdDSA:
		pub, ok := k.public.(ed25519.PublicKey)
		if !ok || len(pub) != ed25519.PublicKeySize {
			return fmt.Errorf("%w: EdDSA needs an Ed25519 key, got %T", ErrInvalidKey, k.public)
		}
		k.public = ed25519.PublicKey(bytes.Clone(pub))
		k.sigLen = ed25519.SignatureSize
	}
	return nil
}

// finish computes the thumbprint kid (when none was given) and the public JWK.
func (k *Key) finish() error {
	var src any = k.secret
	if k.info.kind != kindHMAC {
		src = k.public
	}
	jk, err := jwk.Import(src)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	if k.kid == "" {
		tp, err := jk.Thumbprint(crypto.SHA256)
		if err != nil {
			return fmt.Errorf("%w: thumbprint: %v", ErrInvalidKey, err)
		}
		k.kid = base64.RawURLEncoding.EncodeToString(tp)
	}
	if k.info.kind == kindHMAC {
		return nil
	}
	sa, ok := jwa.LookupSignatureAlgorithm(string(k.alg))
	if !ok {
		return fmt.Errorf("%w: jwx does not know %s", ErrInvalidKey, k.alg)
	}
	for name, v := range map[string]any{jwk.KeyIDKey: k.kid, jwk.AlgorithmKey: sa, jwk.KeyUsageKey: "sig"} {
		if err := jk.Set(name, v); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidKey, err)
		}
	}
	k.pubJWK = jk
	return nil
}

// ID returns the key ID written in the kid header of tokens it signs.
func (k *Key) ID() string { return k.kid }

// Algorithm returns the one algorithm the key signs and verifies with.
func (k *Key) Algorithm() Algorithm { return k.alg }

// CanSign reports whether the key holds private material.
func (k *Key) CanSign() bool { return k.secret != nil || k.signer != nil }

// Public returns a verify-only copy of an asymmetric key, for handing to a
// service that only verifies. For an HMAC key, which has no public form, it
// returns nil.
func (k *Key) Public() *Key {
	if k.info.kind == kindHMAC {
		return nil
	}
	c := *k
	c.signer = nil
	return &c
}

// PublicJWK returns the public key as a JWK carrying kid, alg and use "sig",
// or nil for an HMAC key. The returned key is a copy.
func (k *Key) PublicJWK() jwk.Key {
	if k.pubJWK == nil {
		return nil
	}
	c, err := k.pubJWK.Clone()
	if err != nil {
		return nil
	}
	return c
}

// sign returns the signature over input.
func (k *Key) sign(input []byte) ([]byte, error) {
	if !k.CanSign() {
		return nil, fmt.Errorf("%w: key %q is verify-only", ErrInvalidKey, k.kid)
	}
	switch k.info.kind {
	case kindHMAC:
		m := k.macs.Get().(*macState)
		m.h.Reset()
		m.h.Write(input)
		sig := m.h.Sum(m.sum[:0])
		out := bytes.Clone(sig)
		k.macs.Put(m)
		return out, nil
	case kindEdDSA:
		return k.signer.Sign(rand.Reader, input, crypto.Hash(0))
	}
	var buf [64]byte
	d := digest(k.info.hash, input, &buf)
	switch k.info.kind {
	case kindRSA:
		return k.signer.Sign(rand.Reader, d, k.info.hash)
	case kindRSAPSS:
		return k.signer.Sign(rand.Reader, d, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: k.info.hash})
	case kindECDSA:
		der, err := k.signer.Sign(rand.Reader, d, k.info.hash)
		if err != nil {
			return nil, err
		}
		var rs struct{ R, S *big.Int }
		if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) != 0 || rs.R == nil || rs.S == nil {
			return nil, errors.New("jwt: ECDSA signer returned a malformed signature")
		}
		n := k.info.size
		if rs.R.Sign() <= 0 || rs.S.Sign() <= 0 || rs.R.BitLen() > 8*n || rs.S.BitLen() > 8*n {
			return nil, errors.New("jwt: ECDSA signer returned an out-of-range signature")
		}
		out := make([]byte, 2*n)
		rs.R.FillBytes(out[:n])
		rs.S.FillBytes(out[n:])
		return out, nil
	}
	return nil, errors.New("jwt: unsupported algorithm")
}

var pssOptions = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}

// verify reports whether sig is a valid signature over input. It never
// allocates for HMAC keys; the MAC comparison is constant-time.
func (k *Key) verify(input, sig []byte) bool {
	if len(sig) != k.sigLen {
		return false
	}
	switch k.info.kind {
	case kindHMAC:
		m := k.macs.Get().(*macState)
		m.h.Reset()
		m.h.Write(input)
		ok := hmac.Equal(m.h.Sum(m.sum[:0]), sig)
		k.macs.Put(m)
		return ok
	case kindEdDSA:
		return ed25519.Verify(k.public.(ed25519.PublicKey), input, sig)
	}
	var buf [64]byte
	d := digest(k.info.hash, input, &buf)
	switch k.info.kind {
	case kindRSA:
		return rsa.VerifyPKCS1v15(k.public.(*rsa.PublicKey), k.info.hash, d, sig) == nil
	case kindRSAPSS:
		return rsa.VerifyPSS(k.public.(*rsa.PublicKey), k.info.hash, d, sig, pssOptions) == nil
	case kindECDSA:
		var der [2 + 2*(2+1+48)]byte
		n := k.info.size
		return ecdsa.VerifyASN1(k.public.(*ecdsa.PublicKey), d, ecdsaDER(der[:0], sig[:n], sig[n:]))
	}
	return false
}

// ecdsaDER appends the ASN.1 DER SEQUENCE { INTEGER r, INTEGER s } of the
// fixed-width big-endian r and s (each at most 48 bytes, so every length
// fits in one byte).
func ecdsaDER(dst, r, s []byte) []byte {
	r, s = trimZeros(r), trimZeros(s)
	lr, ls := intLen(r), intLen(s)
	dst = append(dst, 0x30, byte(2+lr+2+ls))
	dst = appendInt(dst, r, lr)
	return appendInt(dst, s, ls)
}

func trimZeros(b []byte) []byte {
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

func intLen(b []byte) int {
	if len(b) == 0 || b[0]&0x80 != 0 {
		return len(b) + 1
	}
	return len(b)
}

func appendInt(dst, b []byte, l int) []byte {
	dst = append(dst, 0x02, byte(l))
	if l > len(b) {
		dst = append(dst, 0)
	}
	return append(dst, b...)
}

// GenerateKey returns a new random key for alg: an HMAC secret as long as
// the hash output, a 2048-bit RSA key, a P-256 or P-384 key, or an Ed25519
// key, all from crypto/rand.
func GenerateKey(alg Algorithm) (*Key, error) {
	inf, ok := alg.info()
	if !ok {
		return nil, fmt.Errorf("%w: unsupported algorithm %q", ErrInvalidKey, alg)
	}
	var material any
	var err error
	switch inf.kind {
	case kindHMAC:
		material = secret.Bytes(inf.size)
	case kindRSA, kindRSAPSS:
		material, err = rsa.GenerateKey(rand.Reader, MinRSABits)
	case kindECDSA:
		curve := elliptic.P256()
		if alg == ES384 {
			curve = elliptic.P384()
		}
		material, err = ecdsa.GenerateKey(curve, rand.Reader)
	case kindEdDSA:
		_, material, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		return nil, fmt.Errorf("jwt: generating %s key: %w", alg, err)
	}
	return NewKey(alg, material)
}

// ParseKey reads a key in the text form [Key.Export] writes, as kept in a
// file or an environment variable, and returns it with its thumbprint kid.
//
// For HMAC algorithms the text is the secret in base64 (standard or URL
// alphabet, padded or not); surrounding white space is ignored. For the
// others it is PEM: a PKCS#8 "PRIVATE KEY", a PKCS#1 "RSA PRIVATE KEY", a
// SEC 1 "EC PRIVATE KEY" or a PKIX "PUBLIC KEY" (verify-only). The error
// never contains the key material.
func ParseKey(alg Algorithm, text []byte) (*Key, error) {
	inf, ok := alg.info()
	if !ok {
		return nil, fmt.Errorf("%w: unsupported algorithm %q", ErrInvalidKey, alg)
	}
	if inf.kind == kindHMAC {
		sec, err := decodeSecret(strings.TrimSpace(string(text)))
		if err != nil {
			return nil, err
		}
		return NewKey(alg, sec)
	}
	block, _ := pem.Decode(bytes.TrimSpace(text))
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block found", ErrInvalidKey)
	}
	jk, err := jwk.ParseKey(pem.EncodeToMemory(block), jwk.WithPEM(true))
	if err != nil {
		return nil, fmt.Errorf("%w: cannot parse %q PEM block", ErrInvalidKey, block.Type)
	}
	return NewKey(alg, jk)
}

func decodeSecret(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding} {
		if b, err := enc.Strict().DecodeString(s); err == nil && len(b) > 0 {
			return b, nil
		}
	}
	return nil, fmt.Errorf("%w: HMAC secret is not base64", ErrInvalidKey)
}

// LoadKeyFile reads a key for alg from the file at path, in the form
// [ParseKey] reads.
func LoadKeyFile(alg Algorithm, path string) (*Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("jwt: reading key file: %w", err)
	}
	return ParseKey(alg, b)
}

// KeyFromEnv reads a key for alg from the environment variable name, in the
// form [ParseKey] reads (a PEM value may span several lines). An unset or
// empty variable is an error naming the variable.
func KeyFromEnv(alg Algorithm, name string) (*Key, error) {
	v := os.Getenv(name)
	if v == "" {
		return nil, fmt.Errorf("%w: environment variable %s is not set", ErrInvalidKey, name)
	}
	return ParseKey(alg, []byte(v))
}

// Export returns the key in the text form [ParseKey] reads: the secret in
// unpadded base64url for an HMAC key, PKCS#8 PEM for a private key, PKIX PEM
// for a verify-only public key. The result is secret material for every key
// that can sign; keep it out of logs and source control. A key whose private
// half lives in a KMS or HSM cannot be exported.
func (k *Key) Export() ([]byte, error) {
	if k.info.kind == kindHMAC {
		return []byte(base64.RawURLEncoding.EncodeToString(k.secret)), nil
	}
	if k.signer == nil {
		der, err := x509.MarshalPKIXPublicKey(k.public)
		if err != nil {
			return nil, fmt.Errorf("jwt: exporting public key: %w", err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
	}
	switch k.signer.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
	default:
		return nil, fmt.Errorf("%w: a %T cannot be exported", ErrInvalidKey, k.signer)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.signer)
	if err != nil {
		return nil, fmt.Errorf("jwt: exporting private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
