package hash

import (
	"context"
	"testing"
)

// Benchmarks at each scheme's defaults (bcrypt also at its minimum of 10).
// Run deliberately: go test -run x -bench . -benchtime 5x ./hash/
var benchSchemes = []struct {
	name   string
	scheme Scheme
}{
	{"argon2id-m19456-t2-p1", Argon2id{}},
	{"scrypt-N2^17-r8-p1", Scrypt{}},
	{"bcrypt-10", Bcrypt{Cost: 10}},
	{"bcrypt-12", Bcrypt{}},
	{"pbkdf2-sha256-600000", PBKDF2{}},
}

func BenchmarkHash(b *testing.B) {
	for _, bs := range benchSchemes {
		b.Run(bs.name, func(b *testing.B) {
			h := New(Config{Scheme: bs.scheme})
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, bs := range benchSchemes {
		b.Run(bs.name, func(b *testing.B) {
			h := New(Config{Scheme: bs.scheme})
			ctx := context.Background()
			enc, err := h.Hash(ctx, "correct horse battery staple")
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h.Verify(ctx, "correct horse battery staple", enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	h := New(Config{})
	enc := "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.parse(enc); err != nil {
			b.Fatal(err)
		}
	}
}
