package hash

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
)

const (
	salt16 = "c29tZXNhbHRzb21lc2FsdA" // 16 bytes
	tag32  = "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
)

// hostile are stored hashes an attacker or a broken import could plant,
// with the error each must produce. None may panic, allocate in proportion
// to a number it contains, or start a long computation.
var hostile = []struct {
	name    string
	encoded string
	want    error
}{
	{"empty", "", ErrInvalidHash},
	{"too long", "$argon2id$v=19$m=65536,t=2,p=1$" + strings.Repeat("A", 600) + "$" + tag32, ErrInvalidHash},
	{"django unusable", "!PcRjp8fu2bqGs1UNFSl3xgxXbV38LSzH8jMjwXKu", ErrUnsupportedHash},
	{"md5", "md5$seasalt$3f86d0d3d465b7b458c231bf3555c0e3", ErrUnsupportedHash},
	{"pbkdf2-sha512", "$pbkdf2-sha512$1212$RHY0Fr3IDMSVO/RSZyb5ow$eNLf", ErrUnsupportedHash},
	{"junk", "\x00\xff\xfe$$$", ErrInvalidHash},
	{"carriage return in base64", "$argon2id$v=19$m=64,t=2,p=1$c29tZXNh\r\nbHRzb21lc2FsdA$" + tag32, ErrInvalidHash},
	{"dollar", "$", ErrUnsupportedHash},

	// Argon2
	{"argon2 t=0", "$argon2id$v=19$m=65536,t=0,p=1$" + salt16 + "$" + tag32, ErrInvalidHash},
	{"argon2 p=0", "$argon2id$v=19$m=65536,t=2,p=0$" + salt16 + "$" + tag32, ErrInvalidHash},
	{"argon2 m=0", "$argon2id$v=19$m=0,t=2,p=1$" + salt16 + "$" + tag32, ErrInvalidHash},
	{"argon2 m=4GiB", "$argon2id$v=19$m=4194304,t=2,p=1$" + salt16 + "$" + tag32, ErrCostLimit},
	{"argon2 m=2^32-1", "$argon2id$v=19$m=4294967295,t=2,p=1$" + salt16 + "$" + tag32, ErrCostLimit},
	{"argon2 m=2^32", "$argon2id$v=19$m=4294967296,t=2,p=1$" + salt16 + "$" + tag32, ErrInvalidHash},
	{"argon2 m huge", "$argon2id$v=19$m=99999999999999999999999,t=2,p=1$" + salt16 + "$" + tag32, ErrInvalidHash},
	{"argon2 t=2^32-1", "$argon2id$v=19$m=64,t=4294967295,p=1$" + salt16 + "$" + tag32, ErrCostLimit},
	{"argon2 t over limit", "$argon2id$v=19$m=64,t=11,p=1$" + salt16 + "$" + tag32, ErrCostLimit},
	{"argon2 p=255 over limit", "$argon2id$v=19$m=4096,t=1,p=255$" + salt16 + "$" + tag32, ErrCostLimit},
	{"argon2 p=256", "$argon2id$v=19$m=4096,t=1,p=256$" + salt16 + "$" + tag32, ErrInvalidHash},
	{"argon2 m<8p", "$argon2id$v=19$m=15,t=1,p=2$" + salt16 + "$" + tag32, ErrInvalidHash},
	{"argon2 leading zero", "$argon2id$v=19$m=065536,t=2,p=1$" + salt16 + "$" + tag32, ErrInvalidHash},
	{"argon2 sign", "$argon2id$v=19$m=+64,t=2,p=1$" + salt16 + "$" + tag32, ErrInvalidHash},
	{"argon2 negative", "$argon2id$v=19$m=64,t=-1,p=1$" + salt16 + "$" + tag32, ErrInvalidHash},
	{"argon2 order", "$argon2id$v=19$t=2,m=64,p=1$" + salt16 + "$" + tag32, ErrInvalidHash},
	{"argon2 missing p", "$argon2id$v=19$m=64,t=2$" + salt16 + "$" + tag32, ErrInvalidHash},
	{"argon2 extra param", "$argon2id$v=19$m=64,t=2,p=1,q=5$" + salt16 + "$" + tag32, ErrInvalidHash},
	{"argon2 keyid too long", "$argon2id$v=19$m=64,t=2,p=1,keyid=AAAAAAAAAAAAAA$" + salt16 + "$" + tag32, ErrInvalidHash},
	{"argon2 keyid empty", "$argon2id$v=19$m=64,t=2,p=1,keyid=$" + salt16 + "$" + tag32, ErrInvalidHash},
	{"argon2 data", "$argon2id$v=19$m=64,t=2,p=1,data=c29tZWRhdGE$" + salt16 + "$" + tag32, ErrUnsupportedHash},
	{"argon2 padded salt", "$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHQ=$" + tag32, ErrInvalidHash},
	{"argon2 trailing bits", "$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHR$" + tag32, ErrInvalidHash},
	{"argon2 url alphabet", "$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc_", ErrInvalidHash},
	{"argon2 salt 4 bytes", "$argon2id$v=19$m=64,t=2,p=1$c2FsdA$" + tag32, ErrInvalidHash},
	{"argon2 salt 49 bytes", "$argon2id$v=19$m=64,t=2,p=1$" + strings.Repeat("A", 66) + "$" + tag32, ErrInvalidHash},
	{"argon2 tag 8 bytes", "$argon2id$v=19$m=64,t=2,p=1$" + salt16 + "$AAAAAAAAAAA", ErrInvalidHash},
	{"argon2 tag 65 bytes", "$argon2id$v=19$m=64,t=2,p=1$" + salt16 + "$" + strings.Repeat("A", 87), ErrInvalidHash},
	{"argon2 no tag", "$argon2id$v=19$m=64,t=2,p=1$" + salt16, ErrInvalidHash},
	{"argon2 trailing dollar", "$argon2id$v=19$m=64,t=2,p=1$" + salt16 + "$" + tag32 + "$", ErrInvalidHash},
	{"argon2 newline", "$argon2id$v=19$m=64,t=2,p=1$" + salt16 + "$" + tag32 + "\n", ErrInvalidHash},
	{"argon2 space", "$argon2id$v=19$m=64, t=2,p=1$" + salt16 + "$" + tag32, ErrInvalidHash},
	{"argon2d", "$argon2d$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$cZn5d+rFh+ZfuRhm2iGUGgcrW5YLeM6q7L3vBsdmFA0", ErrUnsupportedHash},
	{"argon2 version 16", "$argon2i$m=65536,t=2,p=4$c29tZXNhbHQAAAAAAAAAAA$QWLzI4TY9HkL2ZTLc8g6SinwdhZewYrzz9zxCo0bkGY", ErrUnsupportedHash},
	{"argon2 v=16", "$argon2i$v=16$m=65536,t=2,p=4$c29tZXNhbHQAAAAAAAAAAA$QWLzI4TY9HkL2ZTLc8g6SinwdhZewYrzz9zxCo0bkGY", ErrUnsupportedHash},
	{"argon2 v=20", "$argon2id$v=20$m=64,t=2,p=1$" + salt16 + "$" + tag32, ErrInvalidHash},
	{"argon2 v=019", "$argon2id$v=019$m=64,t=2,p=1$" + salt16 + "$" + tag32, ErrInvalidHash},
	{"argon2ds", "$argon2ds$v=19$m=64,t=2,p=1$" + salt16 + "$" + tag32, ErrInvalidHash},
	{"django argon2 without version", "argon2$argon2i$m=8,t=1,p=1$c29tZXNhbHQ$gwQOXSNhxiOxPOA0+PY10P9QFO4NAYysnqRt1GSQLE55m+2GYDt9FEjPMHhP2Cuf0nOEXXMocVrsJAtNSsKyfg", ErrUnsupportedHash},

	// scrypt
	{"scrypt ln=40", "$scrypt$ln=40,r=8,p=1$" + salt16 + "$" + tag32, ErrCostLimit},
	{"scrypt ln=31", "$scrypt$ln=31,r=1,p=1$" + salt16 + "$" + tag32, ErrCostLimit},
	{"scrypt ln=20 (1 GiB)", "$scrypt$ln=20,r=8,p=1$" + salt16 + "$" + tag32, ErrCostLimit},
	{"scrypt r=2^30-1", "$scrypt$ln=1,r=1073741823,p=1$" + salt16 + "$" + tag32, ErrCostLimit},
	{"scrypt r=2^32-1", "$scrypt$ln=1,r=4294967295,p=1$" + salt16 + "$" + tag32, ErrInvalidHash},
	{"scrypt r·p overflow", "$scrypt$ln=10,r=134217728,p=8$" + salt16 + "$" + tag32, ErrInvalidHash},
	// A tiny N with a huge r and p: x/crypto allocates 128·r·p bytes beside
	// the 128·r·N table (1.25 GiB here, for a table of 128 MiB).
	{"scrypt ln=1 r=2^19 p=16", "$scrypt$ln=1,r=524288,p=16$" + salt16 + "$" + tag32, ErrCostLimit},
	{"scrypt ln=1 r=2^16 p=16 (160 MiB)", "$scrypt$ln=1,r=65536,p=16$" + salt16 + "$" + tag32, ErrCostLimit},
	{"scrypt p over limit", "$scrypt$ln=4,r=1,p=17$" + salt16 + "$" + tag32, ErrCostLimit},
	{"scrypt p=2^32-1", "$scrypt$ln=4,r=1,p=4294967295$" + salt16 + "$" + tag32, ErrInvalidHash},
	{"scrypt ln=0", "$scrypt$ln=0,r=1,p=1$" + salt16 + "$" + tag32, ErrInvalidHash},
	{"scrypt r=0", "$scrypt$ln=4,r=0,p=1$" + salt16 + "$" + tag32, ErrInvalidHash},
	{"scrypt missing p", "$scrypt$ln=10,r=1$wvif8/4fg1Cq9V7L2dv73w$bJcLia1lyfQ1X2x0xflehwVXPzWIUQWWdnlGwfVzBeQ", ErrInvalidHash},
	{"scrypt r=A", "$scrypt$ln=10,r=A,p=1$wvif8/4fg1Cq9V7L2dv73w$bJcLia1lyfQ1X2x0xflehwVXPzWIUQWWdnlGwfVzBeQ", ErrInvalidHash},
	{"scrypt openwall $7$", "$7$C6..../....SodiumChloride$kBGj9fHznVYFQMEn/qDCfrDevf9YDtcDdKvEqHJLV8D", ErrUnsupportedHash},
	{"django scrypt N=3", "scrypt$3$seasalt$8$1$Qj3+9PPyRjSJIebHnG81TMjsqtaIGxNQG/aEB/NYafTJ7tibgfYz71m0ldQESkXFRkdVCBhhY8mx7rQwite/Pw==", ErrInvalidHash},
	{"django scrypt N=2^31", "scrypt$2147483648$seasalt$8$1$Qj3+9PPyRjSJIebHnG81TMjsqtaIGxNQG/aEB/NYafTJ7tibgfYz71m0ldQESkXFRkdVCBhhY8mx7rQwite/Pw==", ErrCostLimit},
	{"django scrypt unpadded", "scrypt$16384$seasalt$8$1$Qj3+9PPyRjSJIebHnG81TMjsqtaIGxNQG/aEB/NYafTJ7tibgfYz71m0ldQESkXFRkdVCBhhY8mx7rQwite/Pw", ErrInvalidHash},

	// bcrypt
	{"bcrypt cost 31", "$2b$31$" + strings.Repeat(".", 53), ErrCostLimit},
	{"bcrypt cost 17", "$2b$17$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", ErrCostLimit},
	{"bcrypt cost 32", "$2b$32$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", ErrInvalidHash},
	{"bcrypt cost 03", "$2b$03$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", ErrInvalidHash},
	{"bcrypt one-digit cost", "$2a$6$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s.", ErrInvalidHash},
	{"bcrypt bad char", "$2a$12$EXRkfkdmXn!gzds2SSitu.MW9.gAVqa9eLS1//RYtYCmB1eLHg.9q", ErrInvalidHash},
	{"bcrypt short", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe", ErrInvalidHash},
	{"bcrypt long", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeWW", ErrInvalidHash},
	{"bcrypt non-canonical hash", "$2a$04$yjDgE74RJkeqC0/1NheSSOrvKeu9IbKDpcQf/Ox3qsrRS/Kw42qIV", ErrInvalidHash},
	{"bcrypt $2x$", "$2x$12$EXRkfkdmXnagzds2SSitu.MW9.gAVqa9eLS1//RYtYCmB1eLHg.9q", ErrUnsupportedHash},
	{"bcrypt $2$", "$2$05$......................J2ihDv8vVf7QZ9BsaRrKyqs2tkn55Yq", ErrUnsupportedHash},
	{"bcrypt $2f$", "$2f$12$EXRkfkdmXnagzds2SSitu.MW9.gAVqa9eLS1//RYtYCmB1eLHg.9q", ErrInvalidHash},
	{"bcrypt no separator", "$2a$05$CCCCCCCCCCCCCCCCCCCCC$E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", ErrInvalidHash},
	{"django bcrypt_sha256 with salt field", "bcrypt_sha256$xyz$2a$06$/3OeRpbOf8/l6nPPRdZPp.nRiyYqPobEZGdNRBWihQhiFDh1ws1tu", ErrInvalidHash},

	// PBKDF2
	{"pbkdf2 5M rounds with a 64-byte hash (10M of work)", "$pbkdf2-sha256$5000000$" + strings.Repeat("A", 22) + "$" + strings.Repeat("A", 86), ErrCostLimit},
	{"pbkdf2 rounds 0", "$pbkdf2-sha256$0$4vjV83LKPjQzk31VI4E0Vw$hsYF68OiOUPdDZ1Fg.fJPeq1h/gXXY7acBp9/6c.tmQ", ErrInvalidHash},
	{"pbkdf2 zero-padded rounds", "$pbkdf2-sha256$01212$4vjV83LKPjQzk31VI4E0Vw$hsYF68OiOUPdDZ1Fg.fJPeq1h/gXXY7acBp9/6c.tmQ", ErrInvalidHash},
	{"pbkdf2 empty rounds", "$pbkdf2-sha256$$4vjV83LKPjQzk31VI4E0Vw$hsYF68OiOUPdDZ1Fg.fJPeq1h/gXXY7acBp9/6c.tmQ", ErrInvalidHash},
	{"pbkdf2 rounds 2^32-1", "$pbkdf2-sha256$4294967295$4vjV83LKPjQzk31VI4E0Vw$hsYF68OiOUPdDZ1Fg.fJPeq1h/gXXY7acBp9/6c.tmQ", ErrCostLimit},
	{"pbkdf2 rounds overflow", "$pbkdf2-sha256$99999999999$4vjV83LKPjQzk31VI4E0Vw$hsYF68OiOUPdDZ1Fg.fJPeq1h/gXXY7acBp9/6c.tmQ", ErrInvalidHash},
	{"pbkdf2 plus", "$pbkdf2-sha256$1212$4vjV83LKPjQzk31VI4E0Vw$hsYF68OiOUPdDZ1Fg+fJPeq1h/gXXY7acBp9/6c.tmQ", ErrInvalidHash},
	{"pbkdf2 padding", "$pbkdf2-sha256$1212$4vjV83LKPjQzk31VI4E0Vw==$hsYF68OiOUPdDZ1Fg.fJPeq1h/gXXY7acBp9/6c.tmQ", ErrInvalidHash},
	{"pbkdf2 extra field", "$pbkdf2-sha256$1212$4vjV83LKPjQzk31VI4E0Vw$hsYF68OiOUPdDZ1Fg.fJPeq1h/gXXY7acBp9/6c.tmQ$", ErrInvalidHash},
	{"pbkdf2 short tag", "$pbkdf2-sha256$1212$4vjV83LKPjQzk31VI4E0Vw$hsYF68OiOUPd", ErrInvalidHash},
	{"django pbkdf2 huge", "pbkdf2_sha256$4294967295$seasalt$8xBlGd3jVgvJ+92hWPxi5ww0uuAuAnKgC45eudxro7c=", ErrCostLimit},
	{"django pbkdf2 salt space", "pbkdf2_sha256$390000$sea salt$8xBlGd3jVgvJ+92hWPxi5ww0uuAuAnKgC45eudxro7c=", ErrInvalidHash},
	{"django pbkdf2 empty salt", "pbkdf2_sha256$390000$$8xBlGd3jVgvJ+92hWPxi5ww0uuAuAnKgC45eudxro7c=", ErrInvalidHash},
	{"django pbkdf2 unpadded", "pbkdf2_sha256$390000$seasalt$8xBlGd3jVgvJ+92hWPxi5ww0uuAuAnKgC45eudxro7c", ErrInvalidHash},
}

// TestHostile checks every hostile hash fails with the right error, from
// parse and from Verify, without allocating more than a few KiB and without
// running a hash function beyond the dummy at the policy's parameters.
func TestHostile(t *testing.T) {
	h := newTestHasher(t, Config{})
	var calls []int64
	h.onCompute = func(kib int64) func() {
		calls = append(calls, kib)
		return func() {}
	}
	for _, tt := range hostile {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.parse(tt.encoded)
			if !errors.Is(err, tt.want) {
				t.Fatalf("parse: %v, want %v", err, tt.want)
			}
			calls = calls[:0]
			_, err = h.Verify(context.Background(), "password", tt.encoded)
			if !errors.Is(err, tt.want) {
				t.Errorf("Verify: %v, want %v", err, tt.want)
			}
			// Exactly one hash ran: the dummy, at the policy's weight.
			if len(calls) != 1 || calls[0] != h.policy.memoryKiB() {
				t.Errorf("hash functions run: %v KiB, want one dummy of %d KiB", calls, h.policy.memoryKiB())
			}
			if perParse := allocBytes(func() { h.parse(tt.encoded) }); perParse > 8<<10 {
				t.Errorf("parse allocated %d bytes", perParse)
			}
		})
	}
}

// allocBytes reports the bytes f allocates, averaged over several runs.
func allocBytes(f func()) uint64 {
	const runs = 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / runs
}

// FuzzParse checks that the parser never panics, that whatever it accepts
// is canonical (re-encodes to the same string) and within the limits, and
// that its allocations stay bounded by the input length cap.
func FuzzParse(f *testing.F) {
	for _, g := range loadGolden(f) {
		f.Add(g.Encoded)
	}
	for _, tt := range hostile {
		f.Add(tt.encoded)
	}
	f.Add("$argon2id$v=19$m=64,t=1,p=1,keyid=a2V5MQ$" + salt16 + "$" + tag32)
	f.Add("$scrypt$ln=4,r=1,p=1,keyid=a2V5MQ$" + salt16 + "$" + tag32)
	h := newTestHasher(f, Config{})
	f.Fuzz(func(t *testing.T, encoded string) {
		s, err := h.parse(encoded)
		if err != nil {
			if !errors.Is(err, ErrInvalidHash) && !errors.Is(err, ErrUnsupportedHash) && !errors.Is(err, ErrCostLimit) {
				t.Fatalf("parse(%q): unexpected error kind %v", encoded, err)
			}
			return
		}
		if got := s.encode(); got != encoded {
			t.Fatalf("parse(%q) accepted a non-canonical string; re-encodes as %q", encoded, got)
		}
		if err := h.checkLimits(&s.params); err != nil {
			t.Fatalf("parse(%q) accepted parameters beyond the limits: %v", encoded, err)
		}
		if s.memoryKiB() > int64(h.limits.MaxMemory) {
			t.Fatalf("parse(%q): %d KiB above MaxMemory", encoded, s.memoryKiB())
		}
		if len(s.salt) > maxSalt || len(s.tag) > maxTag {
			t.Fatalf("parse(%q): salt %d or tag %d bytes", encoded, len(s.salt), len(s.tag))
		}
	})
}
