package hash

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// goldenHash is one hash written by another implementation, from
// testdata/golden.json. Each entry names where it was published.
type goldenHash struct {
	Source      string `json:"source"`
	Encoded     string `json:"encoded"`
	Password    string `json:"password"`
	PasswordHex string `json:"password_hex"` // for passwords that are not UTF-8
	Slow        bool   `json:"slow"`         // 64 MiB or more: skipped with -short
}

func (g goldenHash) password(t testing.TB) string {
	if g.PasswordHex == "" {
		return g.Password
	}
	b, err := hex.DecodeString(g.PasswordHex)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func loadGolden(t testing.TB) []goldenHash {
	t.Helper()
	data, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var gs []goldenHash
	if err := json.Unmarshal(data, &gs); err != nil {
		t.Fatal(err)
	}
	if len(gs) == 0 {
		t.Fatal("no golden hashes")
	}
	return gs
}

// weakArgon2 is a tiny scheme that keeps tests fast.
var weakArgon2 = Argon2id{Memory: 64, Time: 1}

func newTestHasher(t testing.TB, cfg Config) *Hasher {
	t.Helper()
	if cfg.Scheme == nil {
		cfg.Scheme = weakArgon2
	}
	cfg.InsecureWeakParameters = true
	return New(cfg)
}

// TestGolden verifies hashes written by other implementations (passlib,
// Django, the Argon2 reference implementation, crypt_blowfish, John the
// Ripper, py-bcrypt): the right password matches, a wrong one does not, and
// the string re-encodes to itself.
func TestGolden(t *testing.T) {
	h := newTestHasher(t, Config{}) // default budget: 128 MiB, room for Django's 100 MiB argon2
	formats := map[string]bool{}
	for _, g := range loadGolden(t) {
		s, err := h.parse(g.Encoded)
		if err == nil {
			formats[s.alg.String()+map[bool]string{true: "/django"}[s.foreign]] = true
		}
	}
	for _, g := range loadGolden(t) {
		t.Run(g.Encoded, func(t *testing.T) {
			t.Parallel()
			if g.Slow && testing.Short() {
				t.Skip("64 MiB or more of Argon2 memory")
			}
			pw := g.password(t)
			s, err := h.parse(g.Encoded)
			if err != nil {
				t.Fatalf("parse: %v (source: %s)", err, g.Source)
			}
			if got := s.encode(); got != g.Encoded {
				t.Errorf("re-encoded as %q", got)
			}
			ctx := context.Background()
			if _, err := h.Verify(ctx, pw, g.Encoded); err != nil {
				t.Errorf("Verify(right password) = %v (source: %s)", err, g.Source)
			}
			if s.iter > 100_000 || s.cost >= 10 {
				return // the costliest (pure Go, slow under -race): the cheaper ones check mismatches
			}
			// Prefix, not suffix: bcrypt ignores bytes past the 72nd.
			if _, err := h.Verify(ctx, "x"+pw, g.Encoded); !errors.Is(err, ErrMismatch) {
				t.Errorf("Verify(wrong password) = %v, want ErrMismatch", err)
			}
		})
	}
	for _, f := range []string{"argon2id", "argon2i", "scrypt", "bcrypt", "pbkdf2-sha256",
		"argon2id/django", "argon2i/django", "scrypt/django", "bcrypt/django", "pbkdf2-sha256/django"} {
		if !formats[f] {
			t.Errorf("no golden hash of format %s", f)
		}
	}
}

// TestPHCSpecExample parses the PHC string format specification's Argon2id
// example. The specification does not say which password it hashes (it is
// not "password"), so the test checks the parse, the canonical round trip
// and a mismatch.
func TestPHCSpecExample(t *testing.T) {
	const example = "$argon2id$v=19$m=65536,t=2,p=1$gZiV/M1gPc22ElAH/Jh1Hw$CWOrkoo7oJBQ/iyh7uJ0LO2aLEfrHwTWllSAxT0zRno"
	h := newTestHasher(t, Config{})
	s, err := h.parse(example)
	if err != nil {
		t.Fatal(err)
	}
	if s.alg != algArgon2id || s.m != 65536 || s.t != 2 || s.p != 1 || len(s.salt) != 16 || len(s.tag) != 32 {
		t.Errorf("parsed %+v", s.params)
	}
	if got := s.encode(); got != example {
		t.Errorf("re-encoded as %q", got)
	}
	if testing.Short() {
		return
	}
	if _, err := h.Verify(context.Background(), "password", example); !errors.Is(err, ErrMismatch) {
		t.Errorf("Verify(%q) = %v, want ErrMismatch", "password", err)
	}
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRFC7914 runs the key derivation functions on the vectors of RFC 7914:
// §11 (PBKDF2-HMAC-SHA-256) and §12 (scrypt; the fourth, 1 GiB, is left out).
func TestRFC7914(t *testing.T) {
	tests := []struct {
		name     string
		s        stored
		password string
		want     string
	}{
		{"pbkdf2 c=1", stored{params: params{alg: algPBKDF2SHA256, iter: 1}, salt: []byte("salt")}, "passwd", `
			55 ac 04 6e 56 e3 08 9f ec 16 91 c2 25 44 b6 05
			f9 41 85 21 6d de 04 65 e6 8b 9d 57 c2 0d ac bc
			49 ca 9c cc f1 79 b6 45 99 16 64 b3 9d 77 ef 31
			7c 71 b8 45 b1 e3 0b d5 09 11 20 41 d3 a1 97 83`},
		{"pbkdf2 c=80000", stored{params: params{alg: algPBKDF2SHA256, iter: 80000}, salt: []byte("NaCl")}, "Password", `
			4d dc d8 f6 0b 98 be 21 83 0c ee 5e f2 27 01 f9
			64 1a 44 18 d0 4c 04 14 ae ff 08 87 6b 34 ab 56
			a1 d4 25 a1 22 58 33 54 9a db 84 1b 51 c9 b3 17
			6a 27 2b de bb a1 d0 78 47 8f 62 b3 97 f3 3c 8d`},
		{"scrypt N=16", stored{params: params{alg: algScrypt, logN: 4, r: 1, p: 1}, salt: []byte("")}, "", `
			77 d6 57 62 38 65 7b 20 3b 19 ca 42 c1 8a 04 97
			f1 6b 48 44 e3 07 4a e8 df df fa 3f ed e2 14 42
			fc d0 06 9d ed 09 48 f8 32 6a 75 3a 0f c8 1f 17
			e8 d3 e0 fb 2e 0d 36 28 cf 35 e2 0c 38 d1 89 06`},
		{"scrypt N=1024", stored{params: params{alg: algScrypt, logN: 10, r: 8, p: 16}, salt: []byte("NaCl")}, "password", `
			fd ba be 1c 9d 34 72 00 78 56 e7 19 0d 01 e9 fe
			7c 6a d7 cb c8 23 78 30 e7 73 76 63 4b 37 31 62
			2e af 30 d9 2e 22 a3 88 6f f1 09 27 9d 98 30 da
			c7 27 af b9 4a 83 ee 6d 83 60 cb df a2 cc 06 40`},
		{"scrypt N=16384", stored{params: params{alg: algScrypt, logN: 14, r: 8, p: 1}, salt: []byte("SodiumChloride")}, "pleaseletmein", `
			70 23 bd cb 3a fd 73 48 46 1c 06 cd 81 fd 38 eb
			fd a8 fb ba 90 4f 8e 3e a9 b5 43 f6 54 5d a1 f2
			d5 43 29 55 61 3f 0f cf 62 d4 97 05 24 2a 9a f9
			e6 1e 85 dc 0d 65 1e 40 df cf 01 7b 45 57 58 87`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := unhex(t, tt.want)
			got, err := derive(&tt.s, []byte(tt.password), len(want))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("got %x\nwant %x", got, want)
			}
		})
	}
}

// constReader returns the same bytes forever, to fix salts in tests.
type constReader []byte

func (r constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r[i%len(r)]
	}
	return len(p), nil
}

// TestHashMatchesOtherImplementations fixes the salt to that of a published
// hash and checks that Hash writes exactly the string the other
// implementation wrote: same parameters, same encoding, same output.
func TestHashMatchesOtherImplementations(t *testing.T) {
	tests := []struct {
		name     string
		scheme   Scheme
		salt     string
		password string
		want     string
		slow     bool
	}{
		{
			"argon2id reference implementation", Argon2id{Memory: 65536, Time: 2, Threads: 1, SaltLen: 8},
			"somesalt", "password",
			"$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", true,
		},
		{
			"scrypt passlib", Scrypt{LogN: 8, R: 8, P: 1},
			"\xc2\x58\x4b\xc9\x79\x8f\xf1\xbe\x77\x6e\x6d\x4d\x29\x85\x50\xaa", "test",
			"$scrypt$ln=8,r=8,p=1$wlhLyXmP8b53bm1NKYVQqg$mTpvG8lzuuDk+DWz8HZIB6Vum6erDuUm0As5yU+VxWA", false,
		},
		{
			"pbkdf2-sha256 passlib", PBKDF2{Iterations: 1212},
			"\xe2\xf8\xd5\xf3\x72\xca\x3e\x34\x33\x93\x7d\x55\x23\x81\x34\x57", "password",
			"$pbkdf2-sha256$1212$4vjV83LKPjQzk31VI4E0Vw$hsYF68OiOUPdDZ1Fg.fJPeq1h/gXXY7acBp9/6c.tmQ", false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.slow && testing.Short() {
				t.Skip("64 MiB of Argon2 memory")
			}
			h := newTestHasher(t, Config{Scheme: tt.scheme, Rand: constReader(tt.salt)})
			got, err := h.Hash(context.Background(), tt.password)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Hash = %q\nwant   %q", got, tt.want)
			}
		})
	}
}
