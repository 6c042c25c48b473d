package keyring

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
)

// KEKSize is the size of a key-encryption key, in bytes.
const KEKSize = 32

// HKDF-SHA256 info strings deriving a KEK's cipher key and its public ID.
const (
	infoKEKCipher = "authkit/keyring v1 key-encryption XChaCha20-Poly1305"
	infoKEKID     = "authkit/keyring v1 key-encryption key ID"
)

// KEK is a key-encryption key: the secret every server of a fleet holds, from
// the environment or a file, under which the keyring's keys are encrypted in
// the store. Make one with [NewKEK] or [ParseKEKs]; a KEK never prints or
// logs its secret.
type KEK struct {
	id   [8]byte     // HKDF(secret, infoKEKID): names the KEK in the store
	aead cipher.AEAD // XChaCha20-Poly1305 under HKDF(secret, infoKEKCipher)
}

// NewKEK returns the KEK with the given secret: exactly [KEKSize] bytes from
// crypto/rand. The secret is not kept: NewKEK derives from it, with
// HKDF-SHA256, a cipher key and an 8-byte ID that names the KEK in the store
// without revealing it.
func NewKEK(secret []byte) (*KEK, error) {
	if len(secret) != KEKSize {
		return nil, fmt.Errorf("%w: a key-encryption key is %d bytes, not %d", ErrNoKEK, KEKSize, len(secret))
	}
	ck, err := hkdf.Key(sha256.New, secret, nil, infoKEKCipher, chacha20poly1305.KeySize)
	if err != nil {
		return nil, fmt.Errorf("keyring: deriving the key-encryption cipher key: %w", err)
	}
	aead, err := chacha20poly1305.NewX(ck)
	clear(ck)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	id, err := hkdf.Key(sha256.New, secret, nil, infoKEKID, 8)
	if err != nil {
		return nil, fmt.Errorf("keyring: deriving the key-encryption key ID: %w", err)
	}
	k := &KEK{aead: aead}
	copy(k.id[:], id)
	return k, nil
}

// GenerateKEK returns a new random key-encryption key in the text form
// [ParseKEKs] reads (unpadded base64url), to put in a secret store or an
// environment variable. Keep it out of source control and logs.
func GenerateKEK() string {
	b := make([]byte, KEKSize)
	_, _ = rand.Read(b) // crypto/rand.Read never fails since Go 1.24
	return base64.RawURLEncoding.EncodeToString(b)
}

// ParseKEKs reads one or more key-encryption keys: each is 32 bytes in
// base64 (standard or URL alphabet, padded or not), separated by commas or
// white space. The first encrypts; all decrypt. That is how a KEK is
// rotated: put the new one first and keep the old one after it until every
// server runs with both and the keyring has re-encrypted its keys, then
// drop the old one (see the package documentation). The error never holds
// the text.
func ParseKEKs(text string) ([]*KEK, error) {
	fields := strings.FieldsFunc(text, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
	if len(fields) == 0 {
		return nil, fmt.Errorf("%w: no key-encryption key in the text", ErrNoKEK)
	}
	keks := make([]*KEK, 0, len(fields))
	for i, f := range fields {
		b, ok := decodeKEK(f)
		if !ok {
			return nil, fmt.Errorf("%w: key-encryption key %d is not base64 of %d bytes", ErrNoKEK, i+1, KEKSize)
		}
		k, err := NewKEK(b)
		clear(b)
		if err != nil {
			return nil, err
		}
		for _, prev := range keks {
			if prev.id == k.id {
				return nil, fmt.Errorf("%w: key-encryption key %d is listed twice", ErrNoKEK, i+1)
			}
		}
		keks = append(keks, k)
	}
	return keks, nil
}

func decodeKEK(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding} {
		if b, err := enc.Strict().DecodeString(s); err == nil && len(b) == KEKSize {
			return b, true
		}
	}
	return nil, false
}

// KEKsFromEnv reads key-encryption keys from the environment variable name,
// in the form [ParseKEKs] reads. An unset or empty variable is an error
// wrapping [ErrNoKEK] that names the variable — never a generated key.
func KEKsFromEnv(name string) ([]*KEK, error) {
	v := os.Getenv(name)
	if strings.TrimSpace(v) == "" {
		return nil, fmt.Errorf("%w: environment variable %s is not set", ErrNoKEK, name)
	}
	keks, err := ParseKEKs(v)
	if err != nil {
		return nil, fmt.Errorf("%w (from environment variable %s)", err, name)
	}
	return keks, nil
}

// KEKsFromFile reads key-encryption keys from the file at path, in the form
// [ParseKEKs] reads (one per line, say). A missing or empty file is an error
// wrapping [ErrNoKEK].
func KEKsFromFile(path string) ([]*KEK, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: reading %s: %w", ErrNoKEK, path, err)
	}
	defer clear(b)
	keks, err := ParseKEKs(string(b))
	if err != nil {
		return nil, fmt.Errorf("%w (from file %s)", err, path)
	}
	return keks, nil
}

// ID returns the KEK's public ID in hex: 16 characters derived from the
// secret by HKDF, the same on every server holding the same KEK. The store
// records it beside each encrypted key, and logs may show it.
func (k *KEK) ID() string { return hex.EncodeToString(k.id[:]) }

// String describes the KEK by its ID only.
func (k *KEK) String() string {
	if k == nil {
		return "keyring.KEK(nil)"
	}
	return "keyring.KEK{id: " + k.ID() + "}"
}

// GoString implements fmt.GoStringer, for %#v; see [KEK.String].
func (k *KEK) GoString() string { return k.String() }

// LogValue implements slog.LogValuer: a KEK logs as its ID.
func (k *KEK) LogValue() slog.Value {
	if k == nil {
		return slog.StringValue("nil")
	}
	return slog.StringValue(k.ID())
}

// seal encrypts plaintext under k with a fresh random nonce, authenticating
// ad, and returns nonce || ciphertext || tag.
func (k *KEK) seal(plaintext, ad []byte) []byte {
	out := make([]byte, chacha20poly1305.NonceSizeX, chacha20poly1305.NonceSizeX+len(plaintext)+chacha20poly1305.Overhead)
	_, _ = rand.Read(out) // crypto/rand.Read never fails since Go 1.24
	return k.aead.Seal(out, out, plaintext, ad)
}

// open reverses seal; it reports false if sealed is not authentic for ad.
func (k *KEK) open(sealed, ad []byte) ([]byte, bool) {
	if len(sealed) < chacha20poly1305.NonceSizeX+chacha20poly1305.Overhead {
		return nil, false
	}
	nonce, ct := sealed[:chacha20poly1305.NonceSizeX], sealed[chacha20poly1305.NonceSizeX:]
	pt, err := k.aead.Open(nil, nonce, ct, ad)
	return pt, err == nil
}
