package token

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"

	"github.com/authkit/authkit/internal/secret"
)

// A family record rotated with a grace window holds its current refresh
// token sealed (AES-256-GCM) under a key derived (HKDF-SHA256) from the
// previous token and a random salt. Only a holder of the previous token can
// open it, so a read of the store reveals nothing usable, and a retry inside
// the window gets the successor back without a second rotation.

const (
	sealSaltLen  = 16
	sealInfo     = "authkit token: refresh successor v1"
	minSealedLen = sealSaltLen + 2 + locatorLen + secretLen + checksumLen + 16
	maxSealedLen = sealSaltLen + maxTokenLen + 16
)

var errUnseal = errors.New("token: cannot open sealed successor")

// sealAEAD derives the AEAD and nonce for sealing under predecessor with salt.
func sealAEAD(predecessor Token, salt []byte) (cipher.AEAD, []byte, error) {
	okm, err := hkdf.Key(sha256.New, []byte(predecessor), salt, sealInfo, 32+12)
	if err != nil {
		return nil, nil, err
	}
	block, err := aes.NewCipher(okm[:32])
	if err != nil {
		return nil, nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, nil, err
	}
	// Each key seals exactly one message (a fresh salt every time), so a
	// nonce derived with it is never reused.
	return aead, okm[32:], nil
}

// sealAAD binds a sealed successor to its family and generation.
func sealAAD(key storeKey, gen uint64) []byte {
	b := make([]byte, 0, len(key)+8)
	b = append(b, key...)
	return binary.BigEndian.AppendUint64(b, gen)
}

// sealSuccessor seals successor under predecessor: salt || ciphertext.
func sealSuccessor(predecessor, successor Token, aad []byte) ([]byte, error) {
	salt := secret.Bytes(sealSaltLen)
	aead, nonce, err := sealAEAD(predecessor, salt)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, sealSaltLen+len(successor)+aead.Overhead())
	out = append(out, salt...)
	return aead.Seal(out, nonce, []byte(successor), aad), nil
}

// openSuccessor reverses sealSuccessor.
func openSuccessor(predecessor Token, sealed, aad []byte) (Token, error) {
	if len(sealed) < minSealedLen || len(sealed) > maxSealedLen {
		return "", errUnseal
	}
	aead, nonce, err := sealAEAD(predecessor, sealed[:sealSaltLen])
	if err != nil {
		return "", err
	}
	pt, err := aead.Open(nil, nonce, sealed[sealSaltLen:], aad)
	if err != nil {
		return "", errUnseal
	}
	return Token(pt), nil
}
