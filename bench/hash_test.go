package bench

import (
	"context"
	"errors"
	"testing"

	"github.com/alexedwards/argon2id"

	"github.com/authkit/authkit/hash"
)

// Argon2id at OWASP's setting, m=19456 KiB, t=2, p=1, 16-byte salt,
// 32-byte hash, on both sides:
//   - authkit: hash.New(Config{Scheme: hash.Argon2id{Memory: 19456, Time: 2,
//     Threads: 1}}); Verify goes through its memory budget.
//   - argon2id: alexedwards/argon2id ComparePasswordAndHash.
//
// Both verify the same PHC string.

const benchPassword = "correct horse battery staple"

var (
	akArgon2 = hash.Argon2id{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
	aeArgon2 = &argon2id.Params{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
)

func newHasher() *hash.Hasher { return hash.New(hash.Config{Scheme: akArgon2}) }

// TestArgon2idCrossCheck checks that each side verifies the other's hashes,
// and that each refuses a wrong password against the other's hash.
func TestArgon2idCrossCheck(t *testing.T) {
	ctx := context.Background()
	h := newHasher()
	akHash, err := h.Hash(ctx, benchPassword)
	if err != nil {
		t.Fatal(err)
	}
	aeHash, err := argon2id.CreateHash(benchPassword, aeArgon2)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("authkit verifies argon2id.CreateHash", func(t *testing.T) {
		rehash, err := h.Verify(ctx, benchPassword, aeHash)
		if err != nil {
			t.Fatalf("Verify(%q) = %v", aeHash, err)
		}
		if rehash {
			t.Errorf("Verify(%q) asks for a rehash at the same parameters", aeHash)
		}
		if _, err := h.Verify(ctx, benchPassword+"!", aeHash); !errors.Is(err, hash.ErrMismatch) {
			t.Errorf("wrong password: err = %v, want ErrMismatch", err)
		}
	})
	t.Run("argon2id verifies authkit's Hash", func(t *testing.T) {
		match, params, err := argon2id.CheckHash(benchPassword, akHash)
		if err != nil || !match {
			t.Fatalf("CheckHash(%q) = %v, %v", akHash, match, err)
		}
		if *params != *aeArgon2 {
			t.Errorf("parameters read from authkit's hash: %+v, want %+v", *params, *aeArgon2)
		}
		if match, err := argon2id.ComparePasswordAndHash(benchPassword+"!", akHash); err != nil || match {
			t.Errorf("wrong password: %v, %v", match, err)
		}
	})
}

func BenchmarkArgon2idVerify(b *testing.B) {
	ctx := context.Background()
	h := newHasher()
	encoded, err := h.Hash(ctx, benchPassword)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("impl=authkit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := h.Verify(ctx, benchPassword, encoded); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=argon2id", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if ok, err := argon2id.ComparePasswordAndHash(benchPassword, encoded); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
	})
}
