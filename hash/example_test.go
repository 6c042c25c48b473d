package hash_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/authkit/authkit/hash"
)

// Example_upgradeOnLogin shows the login flow: verify whatever format the
// account has, rehash with the current scheme when told to, and spend the
// same work on unknown users.
func Example_upgradeOnLogin() {
	ctx := context.Background()
	// An account imported from an old Django site: PBKDF2-SHA256 with
	// 10,000 rounds, far below today's 600,000.
	users := map[string]string{
		"alice": "pbkdf2_sha256$10000$kjVJaVz6qsnJ$5yPHw3rwJGECpUf70daLGhOrQ5+AMxIJdz1c3bqK1Rs=",
	}
	h := hash.New(hash.Config{}) // Argon2id, m=19456 KiB, t=2, p=1

	login := func(name, password string) bool {
		encoded, ok := users[name]
		if !ok {
			_ = h.VerifyDummy(ctx, password) // as slow as a real check
			return false
		}
		rehash, err := h.Verify(ctx, password, encoded)
		if err != nil {
			return false // ErrMismatch, or a stored hash that cannot be used
		}
		if rehash {
			if fresh, err := h.Hash(ctx, password); err == nil {
				users[name] = fresh // store it; the old hash is gone
			}
		}
		return true
	}

	fmt.Println("wrong password:", login("alice", "not the password"))
	fmt.Println("right password:", login("alice", "not a password"))
	fmt.Println("upgraded:", strings.HasPrefix(users["alice"], "$argon2id$v=19$m=19456,t=2,p=1$"))
	fmt.Println("again:", login("alice", "not a password"))
	fmt.Println("unknown user:", login("mallory", "not a password"))
	// Output:
	// wrong password: false
	// right password: true
	// upgraded: true
	// again: true
	// unknown user: false
}

// ExampleNew configures scrypt for new hashes, a rotated pepper, and a
// memory budget for at most two concurrent hashes of 128 MiB.
func ExampleNew() {
	oldKey := []byte("0123456789abcdef0123456789abcdef") // from a vault, not source code
	newKey := []byte("fedcba9876543210fedcba9876543210")
	h := hash.New(hash.Config{
		Scheme:       hash.Scrypt{}, // N=2^17, r=8, p=1
		MemoryBudget: 2 * 128 * 1024,
		MaxQueue:     64,
		Peppers: []hash.Pepper{
			{ID: "2026", Key: newKey}, // used for new hashes
			{ID: "2025", Key: oldKey}, // still verifies, then asks for a rehash
		},
	})
	_ = h
}
