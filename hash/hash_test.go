package hash

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
)

var ctx = context.Background()

func mustHash(t *testing.T, h *Hasher, pw string) string {
	t.Helper()
	enc, err := h.Hash(ctx, pw)
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// TestHashFormats hashes with every scheme and checks the format, the
// round trip, and that a fresh hash needs no rehash under its own policy.
func TestHashFormats(t *testing.T) {
	tests := []struct {
		name   string
		scheme Scheme
		re     string
	}{
		{"argon2id", Argon2id{Memory: 64, Time: 1},
			`^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`},
		{"argon2id custom lengths", Argon2id{Memory: 128, Time: 2, Threads: 2, SaltLen: 24, KeyLen: 16},
			`^\$argon2id\$v=19\$m=128,t=2,p=2\$[A-Za-z0-9+/]{32}\$[A-Za-z0-9+/]{22}$`},
		{"scrypt", Scrypt{LogN: 4, R: 1, P: 1},
			`^\$scrypt\$ln=4,r=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`},
		{"bcrypt", Bcrypt{Cost: 10},
			`^\$2a\$10\$[./A-Za-z0-9]{53}$`},
		{"pbkdf2", PBKDF2{Iterations: 1000},
			`^\$pbkdf2-sha256\$1000\$[./A-Za-z0-9]{22}\$[./A-Za-z0-9]{43}$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHasher(t, Config{Scheme: tt.scheme})
			enc := mustHash(t, h, "correct horse")
			if !regexp.MustCompile(tt.re).MatchString(enc) {
				t.Fatalf("Hash = %q, want match for %s", enc, tt.re)
			}
			rehash, err := h.Verify(ctx, "correct horse", enc)
			if err != nil || rehash {
				t.Errorf("Verify(own hash) = %v, %v; want false, nil", rehash, err)
			}
			if h.policy.alg == algBcrypt {
				return // cost 10 is slow under -race; golden cost-5 hashes check mismatches
			}
			if _, err := h.Verify(ctx, "correct horsf", enc); !errors.Is(err, ErrMismatch) {
				t.Errorf("Verify(wrong) = %v, want ErrMismatch", err)
			}
			if enc2 := mustHash(t, h, "correct horse"); enc2 == enc {
				t.Error("two hashes of one password are equal: salt not random")
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	h := New(Config{})
	want := params{alg: algArgon2id, m: 19456, t: 2, p: 1, saltLen: 16, keyLen: 32}
	if h.policy != want {
		t.Errorf("default policy %+v, want %+v", h.policy, want)
	}
	if h.budget.size != DefaultMinBudget {
		t.Errorf("default budget %d KiB, want %d", h.budget.size, DefaultMinBudget)
	}
	if h.maxPass != 1024 || h.limits.MaxMemory != DefaultMinBudget || h.limits.MaxBcryptCost != 16 {
		t.Errorf("defaults: maxPass %d, limits %+v", h.maxPass, h.limits)
	}
	s := New(Config{Scheme: Scrypt{}})
	if s.policy.logN != 17 || s.policy.r != 8 || s.policy.p != 1 || s.budget.size != 4*(128*1024+3) { // 128·r·(N+p+2) bytes = 128 MiB + 3 KiB each
		t.Errorf("scrypt defaults %+v, budget %d", s.policy, s.budget.size)
	}
	if b := New(Config{Scheme: Bcrypt{}}); b.policy.cost != 12 {
		t.Errorf("bcrypt default cost %d", b.policy.cost)
	}
	if p := New(Config{Scheme: PBKDF2{}}); p.policy.iter != 600_000 {
		t.Errorf("pbkdf2 default iterations %d", p.policy.iter)
	}
	if r := New(Config{Scheme: RFC9106LowMemory}); r.policy.m != 65536 || r.policy.t != 3 || r.policy.p != 4 {
		t.Errorf("RFC9106LowMemory %+v", r.policy)
	}
}

func TestNewPanics(t *testing.T) {
	key := bytes.Repeat([]byte{1}, 32)
	tests := []struct {
		name string
		cfg  Config
	}{
		{"argon2 below OWASP", Config{Scheme: Argon2id{Memory: 19456, Time: 1}}},
		{"argon2 m<8p", Config{Scheme: Argon2id{Memory: 64, Threads: 16}, InsecureWeakParameters: true}},
		{"argon2 p=256", Config{Scheme: Argon2id{Threads: 256}}},
		{"argon2 short salt", Config{Scheme: Argon2id{SaltLen: 8}}},
		{"argon2 short key", Config{Scheme: Argon2id{KeyLen: 12}}},
		{"scrypt below OWASP", Config{Scheme: Scrypt{LogN: 14, R: 8, P: 1}}},
		{"scrypt ln=31", Config{Scheme: Scrypt{LogN: 31}}},
		{"bcrypt cost 9", Config{Scheme: Bcrypt{Cost: 9}}},
		{"bcrypt cost 9 even when weak allowed", Config{Scheme: Bcrypt{Cost: 9}, InsecureWeakParameters: true}},
		{"bcrypt cost above limit", Config{Scheme: Bcrypt{Cost: 17}}},
		{"pbkdf2 below OWASP", Config{Scheme: PBKDF2{Iterations: 310_000}}},
		{"pbkdf2 above limit", Config{Scheme: PBKDF2{Iterations: 600_000}, Limits: Limits{MaxPBKDF2Iterations: 100_000}}},
		{"budget below one hash", Config{MemoryBudget: 1024}},
		{"max memory above budget", Config{MemoryBudget: 64 * 1024, Limits: Limits{MaxMemory: 128 * 1024}}},
		{"scheme above max memory", Config{Limits: Limits{MaxMemory: 1024}}},
		{"negative password length", Config{MaxPasswordLen: -1}},
		{"negative queue", Config{MaxQueue: -1}},
		{"max bcrypt cost 32", Config{Limits: Limits{MaxBcryptCost: 32}}},
		{"pepper short key", Config{Peppers: []Pepper{{ID: "k1", Key: key[:16]}}}},
		{"pepper empty ID", Config{Peppers: []Pepper{{ID: "", Key: key}}}},
		{"pepper long ID", Config{Peppers: []Pepper{{ID: "123456789", Key: key}}}},
		{"pepper duplicate ID", Config{Peppers: []Pepper{{ID: "k1", Key: key}, {ID: "k1", Key: key}}}},
		{"pepper with bcrypt", Config{Scheme: Bcrypt{}, Peppers: []Pepper{{ID: "k1", Key: key}}}},
		{"pepper with pbkdf2", Config{Scheme: PBKDF2{}, Peppers: []Pepper{{ID: "k1", Key: key}}}},
		// passlib reads only 32-byte hashes in its $scrypt$ and $pbkdf2-sha256$ forms.
		{"scrypt 16-byte hash", Config{Scheme: Scrypt{KeyLen: 16}}},
		{"scrypt 64-byte hash", Config{Scheme: Scrypt{KeyLen: 64}}},
		{"pbkdf2 16-byte hash", Config{Scheme: PBKDF2{KeyLen: 16}}},
		{"pbkdf2 64-byte hash", Config{Scheme: PBKDF2{KeyLen: 64}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil {
					t.Fatal("New did not panic")
				}
				if s, ok := r.(string); !ok || !strings.HasPrefix(s, "hash: ") {
					t.Errorf("panic %v, want a string starting with %q", r, "hash: ")
				}
			}()
			New(tt.cfg)
		})
	}
}

// TestRehash covers the upgrade-on-login decisions.
func TestRehash(t *testing.T) {
	old := newTestHasher(t, Config{Scheme: Argon2id{Memory: 64, Time: 1}})
	enc := mustHash(t, old, "pw")
	tests := []struct {
		name   string
		policy Config
		want   bool
	}{
		{"same policy", Config{Scheme: Argon2id{Memory: 64, Time: 1}}, false},
		{"more memory", Config{Scheme: Argon2id{Memory: 128, Time: 1}}, true},
		{"less memory", Config{Scheme: Argon2id{Memory: 32, Time: 1}}, true},
		{"more passes", Config{Scheme: Argon2id{Memory: 64, Time: 2}}, true},
		{"more lanes", Config{Scheme: Argon2id{Memory: 64, Time: 1, Threads: 2}}, true},
		{"longer salt", Config{Scheme: Argon2id{Memory: 64, Time: 1, SaltLen: 32}}, true},
		{"shorter salt", Config{Scheme: Argon2id{Memory: 64, Time: 1, SaltLen: 8}}, false},
		{"other key length", Config{Scheme: Argon2id{Memory: 64, Time: 1, KeyLen: 64}}, true},
		{"other algorithm", Config{Scheme: Scrypt{LogN: 4, R: 1, P: 1}}, true},
		{"pepper added", Config{Scheme: Argon2id{Memory: 64, Time: 1}, Peppers: []Pepper{{ID: "k1", Key: bytes.Repeat([]byte{1}, 32)}}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHasher(t, tt.policy)
			rehash, err := h.Verify(ctx, "pw", enc)
			if err != nil {
				t.Fatal(err)
			}
			if rehash != tt.want {
				t.Errorf("rehash = %v, want %v", rehash, tt.want)
			}
			if _, err := h.Verify(ctx, "wrong", enc); !errors.Is(err, ErrMismatch) {
				t.Errorf("wrong password: %v", err)
			}
		})
	}

	t.Run("foreign formats always", func(t *testing.T) {
		// Django's wrapping of an argon2id hash with exactly the policy's
		// parameters is still rewritten into the native format.
		s, _ := old.parse(enc)
		s.foreign = true
		rehash, err := old.Verify(ctx, "pw", s.encode())
		if err != nil || !rehash {
			t.Errorf("Verify(django form) = %v, %v; want true, nil", rehash, err)
		}
	})
	t.Run("argon2i", func(t *testing.T) {
		h := newTestHasher(t, Config{Scheme: Argon2id{Memory: 256, Time: 2, Threads: 2, SaltLen: 8}})
		rehash, err := h.Verify(ctx, "password", "$argon2i$v=19$m=256,t=2,p=2$c29tZXNhbHQ$T/XOJ2mh1/TIpJHfCdQan76Q5esCFVoT5MAeIM1Oq2E")
		if err != nil || !rehash {
			t.Errorf("Verify(argon2i) = %v, %v; want true, nil", rehash, err)
		}
	})
}

// TestBcryptLongPasswords checks bcrypt's 72-byte limit: refused for new
// hashes, compared on 72 bytes for stored ones, and flagged for rehash.
func TestBcryptLongPasswords(t *testing.T) {
	const stored = "$2a$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui" // Openwall crypt_blowfish vector
	long := "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789chars after 72 are ignored"

	argon := newTestHasher(t, Config{})
	rehash, err := argon.Verify(ctx, long, stored)
	if err != nil || !rehash {
		t.Errorf("argon2 policy: Verify(long) = %v, %v; want true, nil", rehash, err)
	}
	rehash, err = argon.Verify(ctx, long[:72], stored)
	if err != nil || !rehash { // cost 5 and bcrypt: rehash anyway
		t.Errorf("argon2 policy: Verify(72 bytes) = %v, %v", rehash, err)
	}

	bc := newTestHasher(t, Config{Scheme: Bcrypt{Cost: 10}, Limits: Limits{MaxBcryptCost: 10}})
	if _, err := bc.Hash(ctx, long); !errors.Is(err, ErrPasswordTooLong) {
		t.Errorf("bcrypt Hash(%d bytes) = %v, want ErrPasswordTooLong", len(long), err)
	}
	enc := mustHash(t, bc, long[:72])
	rehash, err = bc.Verify(ctx, long, enc)
	if err != nil || rehash {
		// The scheme is bcrypt: rehashing cannot use more of the password.
		t.Errorf("bcrypt policy: Verify(long) = %v, %v; want false, nil", rehash, err)
	}
	// The 71-byte prefix differs from the 72 bytes bcrypt compares.
	if _, err := argon.Verify(ctx, long[:71], stored); !errors.Is(err, ErrMismatch) {
		t.Errorf("Verify(71 bytes) = %v, want ErrMismatch", err)
	}
}

// New bcrypt hashes refuse a NUL byte as they refuse more than 72 bytes:
// C bcrypt and passlib stop at or refuse NUL, so the hash could not be
// checked anywhere else. Other schemes take any byte.
func TestBcryptRefusesNUL(t *testing.T) {
	bc := newTestHasher(t, Config{Scheme: Bcrypt{Cost: 10}, Limits: Limits{MaxBcryptCost: 10}})
	for _, pw := range []string{"\x00", "abc\x00", "abc\x00def"} {
		if _, err := bc.Hash(ctx, pw); !errors.Is(err, ErrPasswordNUL) {
			t.Errorf("bcrypt Hash(%q) = %v, want ErrPasswordNUL", pw, err)
		}
	}
	argon := newTestHasher(t, Config{})
	enc := mustHash(t, argon, "abc\x00def")
	if _, err := argon.Verify(ctx, "abc\x00def", enc); err != nil {
		t.Errorf("argon2id with a NUL byte: %v", err)
	}
	if _, err := argon.Verify(ctx, "abc", enc); !errors.Is(err, ErrMismatch) {
		t.Errorf("argon2id stopped at the NUL byte: %v", err)
	}
}

func TestMaxPasswordLen(t *testing.T) {
	h := newTestHasher(t, Config{MaxPasswordLen: 16})
	enc := mustHash(t, h, strings.Repeat("a", 16))
	long := strings.Repeat("a", 17)
	if _, err := h.Hash(ctx, long); !errors.Is(err, ErrPasswordTooLong) {
		t.Errorf("Hash: %v", err)
	}
	if _, err := h.Verify(ctx, long, enc); !errors.Is(err, ErrPasswordTooLong) {
		t.Errorf("Verify: %v", err)
	}
	if err := h.VerifyDummy(ctx, long); !errors.Is(err, ErrPasswordTooLong) {
		t.Errorf("VerifyDummy: %v", err)
	}
	// Every algorithm refuses, including verify-only formats.
	for _, g := range loadGolden(t) {
		if _, err := h.Verify(ctx, long, g.Encoded); !errors.Is(err, ErrPasswordTooLong) {
			t.Errorf("Verify(%s): %v", g.Encoded, err)
		}
	}
	d := New(Config{})
	if _, err := d.Verify(ctx, strings.Repeat("a", 1025), enc); !errors.Is(err, ErrPasswordTooLong) {
		t.Errorf("default limit: %v", err)
	}
}

func TestPepper(t *testing.T) {
	k1 := Pepper{ID: "2024", Key: bytes.Repeat([]byte{1}, 32)}
	k2 := Pepper{ID: "2025-b", Key: bytes.Repeat([]byte{2}, 32)}
	for _, scheme := range []Scheme{weakArgon2, Scrypt{LogN: 4, R: 1, P: 1}} {
		h1 := newTestHasher(t, Config{Scheme: scheme, Peppers: []Pepper{k1}})
		enc := mustHash(t, h1, "pw")
		if !strings.Contains(enc, ",keyid=MjAyNA$") { // base64("2024")
			t.Fatalf("no keyid in %q", enc)
		}
		if rehash, err := h1.Verify(ctx, "pw", enc); err != nil || rehash {
			t.Errorf("same pepper: %v, %v", rehash, err)
		}
		if _, err := h1.Verify(ctx, "px", enc); !errors.Is(err, ErrMismatch) {
			t.Errorf("wrong password: %v", err)
		}

		// Rotated: new hashes use k2, k1 hashes verify and want a rehash.
		h2 := newTestHasher(t, Config{Scheme: scheme, Peppers: []Pepper{k2, k1}})
		if rehash, err := h2.Verify(ctx, "pw", enc); err != nil || !rehash {
			t.Errorf("old pepper: %v, %v; want true, nil", rehash, err)
		}
		enc2 := mustHash(t, h2, "pw")
		if rehash, err := h2.Verify(ctx, "pw", enc2); err != nil || rehash {
			t.Errorf("new pepper: %v, %v", rehash, err)
		}
		// Unpeppered hashes still verify under a peppered policy.
		plain := mustHash(t, newTestHasher(t, Config{Scheme: scheme}), "pw")
		if rehash, err := h2.Verify(ctx, "pw", plain); err != nil || !rehash {
			t.Errorf("unpeppered hash: %v, %v; want true, nil", rehash, err)
		}

		// Unknown IDs fail clearly.
		h3 := newTestHasher(t, Config{Scheme: scheme, Peppers: []Pepper{k2}})
		if _, err := h3.Verify(ctx, "pw", enc); !errors.Is(err, ErrUnknownPepper) {
			t.Errorf("unknown pepper: %v", err)
		}
		if _, err := newTestHasher(t, Config{Scheme: scheme}).Verify(ctx, "pw", enc); !errors.Is(err, ErrUnknownPepper) {
			t.Errorf("no peppers configured: %v", err)
		}
		// Same ID, other key: a mismatch, not a match.
		wrongKey := newTestHasher(t, Config{Scheme: scheme, Peppers: []Pepper{{ID: "2024", Key: bytes.Repeat([]byte{3}, 32)}}})
		if _, err := wrongKey.Verify(ctx, "pw", enc); !errors.Is(err, ErrMismatch) {
			t.Errorf("wrong key: %v", err)
		}
		// The pepper really is an input: the same salt without it differs.
		s, _ := h1.parse(enc)
		plainTag, _ := derive(&s, []byte("pw"), len(s.tag))
		if bytes.Equal(plainTag, s.tag) {
			t.Error("peppered hash equals the unpeppered one")
		}
	}
}

// TestDummyWork checks that VerifyDummy and Verify of an unusable hash do
// one hash at the policy's weight, through the budget, and fail.
func TestDummyWork(t *testing.T) {
	for _, scheme := range []Scheme{weakArgon2, Scrypt{LogN: 4, R: 1, P: 1}, Bcrypt{Cost: 10}, PBKDF2{Iterations: 1000}} {
		h := newTestHasher(t, Config{Scheme: scheme, Limits: Limits{MaxBcryptCost: 10}})
		var calls []int64
		h.onCompute = func(kib int64) func() { calls = append(calls, kib); return func() {} }
		unusable := []string{"", "!", "$argon2id$v=19$m=64,t=0,p=1$" + salt16 + "$" + tag32}
		if h.policy.alg == algBcrypt {
			unusable = nil // cost 10 is slow under -race; VerifyDummy below runs the same path
		}
		for _, enc := range unusable {
			calls = nil
			if _, err := h.Verify(ctx, "pw", enc); err == nil || errors.Is(err, ErrMismatch) {
				t.Errorf("%T: Verify(%q) = %v, want a format error", scheme, enc, err)
			}
			if len(calls) != 1 || calls[0] != h.policy.memoryKiB() {
				t.Errorf("%T: Verify(%q) ran %v, want one hash of %d KiB", scheme, enc, calls, h.policy.memoryKiB())
			}
		}
		calls = nil
		if err := h.VerifyDummy(ctx, "pw"); !errors.Is(err, ErrMismatch) {
			t.Errorf("%T: VerifyDummy = %v", scheme, err)
		}
		if len(calls) != 1 || calls[0] != h.policy.memoryKiB() {
			t.Errorf("%T: VerifyDummy ran %v", scheme, calls)
		}
		if h.policy.alg == algBcrypt {
			continue
		}
		if err := h.VerifyDummy(ctx, strings.Repeat("x", 100)); !errors.Is(err, ErrMismatch) {
			t.Errorf("%T: VerifyDummy(100 bytes) = %v", scheme, err)
		}
	}
}

func TestCancelledContext(t *testing.T) {
	h := newTestHasher(t, Config{})
	enc := mustHash(t, h, "pw")
	c, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := h.Hash(c, "pw"); !errors.Is(err, context.Canceled) {
		t.Errorf("Hash: %v", err)
	}
	if _, err := h.Verify(c, "pw", enc); !errors.Is(err, context.Canceled) {
		t.Errorf("Verify: %v", err)
	}
	if err := h.VerifyDummy(c, "pw"); !errors.Is(err, context.Canceled) {
		t.Errorf("VerifyDummy: %v", err)
	}
}

// TestCostLimitOverBudget checks a stored hash needing more memory than the
// budget fails at once instead of waiting forever.
func TestCostLimitOverBudget(t *testing.T) {
	h := newTestHasher(t, Config{MemoryBudget: 1024})
	enc := "$argon2id$v=19$m=2048,t=1,p=1$" + salt16 + "$" + tag32
	if _, err := h.Verify(ctx, "pw", enc); !errors.Is(err, ErrCostLimit) {
		t.Errorf("Verify: %v, want ErrCostLimit", err)
	}
	if err := h.budget.acquire(ctx, 2048); !errors.Is(err, ErrCostLimit) {
		t.Errorf("acquire: %v, want ErrCostLimit", err)
	}
	// A stricter MaxMemory than the budget bounds stored hashes further.
	h2 := newTestHasher(t, Config{MemoryBudget: 4096, Limits: Limits{MaxMemory: 1024}})
	if _, err := h2.Verify(ctx, "pw", enc); !errors.Is(err, ErrCostLimit) {
		t.Errorf("MaxMemory: %v, want ErrCostLimit", err)
	}
}

func TestErrorsDoNotLeak(t *testing.T) {
	h := newTestHasher(t, Config{})
	enc := mustHash(t, h, "sup3r-secret")
	_, err := h.Verify(ctx, "sup3r-secreT", enc)
	if err == nil || strings.Contains(err.Error(), "sup3r") || strings.Contains(err.Error(), enc[30:]) {
		t.Errorf("error %q", err)
	}
	_, err = h.Verify(ctx, "pw", enc[:len(enc)-1]+"_")
	if err == nil || strings.Contains(err.Error(), enc[30:]) || !strings.HasPrefix(err.Error(), "hash: ") {
		t.Errorf("error %q", err)
	}
}

// NeedsRehash tells, without hashing, what Verify's rehash would say on a
// match.
func TestNeedsRehash(t *testing.T) {
	h := newTestHasher(t, Config{})
	current := mustHash(t, h, "pw")
	bc := mustHash(t, newTestHasher(t, Config{Scheme: Bcrypt{Cost: 10}, Limits: Limits{MaxBcryptCost: 10}}), "pw")
	for _, tc := range []struct {
		name, enc string
		want      bool
	}{
		{"current", current, false},
		{"bcrypt under an argon2id policy", bc, true},
		{"garbage", "$argon2id$nope", true},
		{"empty", "", true},
	} {
		if got := h.NeedsRehash(tc.enc); got != tc.want {
			t.Errorf("%s: NeedsRehash = %v, want %v", tc.name, got, tc.want)
		}
		if tc.enc == "" || strings.HasSuffix(tc.enc, "nope") {
			continue
		}
		if rehash, err := h.Verify(ctx, "pw", tc.enc); err != nil || rehash != tc.want {
			t.Errorf("%s: Verify's rehash = %v, %v; NeedsRehash said %v", tc.name, rehash, err, tc.want)
		}
	}
}
