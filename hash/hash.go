package hash

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Errors returned by [Hasher]. They are wrapped with context; test them with
// [errors.Is].
var (
	// ErrMismatch means the password does not match the encoded hash. It is
	// the only error a wrong password produces.
	ErrMismatch = errors.New("hash: password does not match")
	// ErrInvalidHash means the encoded hash is malformed: truncated, not
	// canonical, out of its format's range, or junk.
	ErrInvalidHash = errors.New("hash: invalid encoded hash")
	// ErrUnsupportedHash means the encoded hash is of a format or variant
	// this package does not verify (argon2d, Argon2 version 16, an Argon2
	// "data" parameter, $2x$ bcrypt, MD5, ...).
	ErrUnsupportedHash = errors.New("hash: unsupported hash format")
	// ErrCostLimit means the encoded hash asks for more work or memory than
	// the configured [Limits] or the memory budget allow.
	ErrCostLimit = errors.New("hash: hash parameters exceed the configured limits")
	// ErrUnknownPepper means the encoded hash names a pepper ID that is not
	// in [Config.Peppers].
	ErrUnknownPepper = errors.New("hash: unknown pepper ID")
	// ErrPasswordTooLong means the password is longer than
	// [Config.MaxPasswordLen], or longer than 72 bytes for a new bcrypt hash.
	ErrPasswordTooLong = errors.New("hash: password too long")

	// ErrPasswordNUL means a new bcrypt hash was asked for a password
	// holding a NUL byte: C bcrypt implementations and passlib stop at or
	// refuse NUL, so such a hash could not be checked anywhere else.
	ErrPasswordNUL = errors.New("hash: password contains a NUL byte")
	// ErrBusy means the queue for the memory budget is full
	// ([Config.MaxQueue]); the caller should shed the request.
	ErrBusy = errors.New("hash: too many password hashes waiting")
)

// Defaults and bounds.
const (
	// DefaultMaxPasswordLen is the default [Config.MaxPasswordLen] in bytes.
	DefaultMaxPasswordLen = 1024
	// DefaultMinBudget is the smallest default [Config.MemoryBudget] in KiB
	// (130 MiB): enough to verify one hash at OWASP's scrypt setting
	// (N=2^17, r=8, p=1: 128 MiB and 3 KiB) or Django's Argon2 default
	// (100 MiB).
	DefaultMinBudget = 130 * 1024
	// bcryptMaxPassword is the number of password bytes bcrypt uses.
	bcryptMaxPassword = 72
	// passlibKeyLen is the only hash length passlib reads in the $scrypt$
	// and $pbkdf2-sha256$ forms.
	passlibKeyLen = 32
	// maxEncodedLen bounds the length of an encoded hash read from storage.
	maxEncodedLen = 512
)

// Scheme is the algorithm and parameters used for new hashes: one of
// [Argon2id], [Scrypt], [Bcrypt] or [PBKDF2]. Zero fields take the documented
// defaults.
type Scheme interface {
	scheme() // sealed
}

// Argon2id selects Argon2id (RFC 9106) for new hashes, encoded as a PHC
// string: $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>.
// The zero value is OWASP's setting: m=19456 KiB (19 MiB), t=2, p=1, a
// 16-byte salt and a 32-byte hash.
type Argon2id struct {
	Memory  int // KiB; 0 means 19456. At least 8×Threads.
	Time    int // passes over memory; 0 means 2.
	Threads int // lanes, 1..255; 0 means 1.
	SaltLen int // bytes, 8..48; 0 means 16.
	KeyLen  int // hash bytes, 16..64; 0 means 32.
}

// RFC9106LowMemory is the second recommended option of RFC 9106 §4:
// 64 MiB, t=3, p=4. Assign it to [Config.Scheme]; do not modify it.
var RFC9106LowMemory = Argon2id{Memory: 64 * 1024, Time: 3, Threads: 4}

// Scrypt selects scrypt (RFC 7914) for new hashes, encoded in passlib's
// form: $scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>. The zero value is
// OWASP's first setting: N=2^17, r=8, p=1 (128 MiB per hash), a 16-byte
// salt and a 32-byte hash. passlib reads only 32-byte hashes in this form,
// so KeyLen is 32: other lengths are refused for new hashes (stored hashes
// of other lengths still verify).
type Scrypt struct {
	LogN    int // log2 of the CPU/memory cost N, 1..30; 0 means 17.
	R       int // block size; 0 means 8.
	P       int // parallelization; 0 means 1.
	SaltLen int // bytes, 8..64; 0 means 16.
	KeyLen  int // hash bytes: 0 or 32 (passlib's only length).
}

// Bcrypt selects bcrypt for new hashes ($2a$ strings from
// golang.org/x/crypto/bcrypt). Use it only where Argon2id and scrypt are not
// available. New bcrypt hashes refuse passwords over 72 bytes with
// [ErrPasswordTooLong] instead of silently truncating them, and passwords
// holding a NUL byte with [ErrPasswordNUL].
type Bcrypt struct {
	Cost int // log2 rounds, 10..31; 0 means 12. Lower costs are refused.
}

// PBKDF2 selects PBKDF2-HMAC-SHA256 (the standard library's crypto/pbkdf2)
// for new hashes, for deployments that need FIPS 140 algorithms, encoded in
// passlib's form: $pbkdf2-sha256$<iterations>$<salt>$<hash> with passlib's
// base64 variant ("." for "+", no padding). passlib reads only 32-byte
// hashes in this form, so KeyLen is 32: other lengths are refused for new
// hashes (stored hashes of other lengths still verify).
type PBKDF2 struct {
	Iterations int // 0 means 600,000 (OWASP 2026).
	SaltLen    int // bytes, 8..64; 0 means 16.
	KeyLen     int // hash bytes: 0 or 32 (passlib's only length).
}

func (Argon2id) scheme() {}
func (Scrypt) scheme()   {}
func (Bcrypt) scheme()   {}
func (PBKDF2) scheme()   {}

// Limits bound the parameters accepted from a stored hash before any work is
// done. A stored hash outside them fails with [ErrCostLimit]. The scheme for
// new hashes must itself fit within them.
type Limits struct {
	// MaxMemory is the most memory in KiB one verification may use: Argon2's
	// m, scrypt's 128·r·(N+p+2) bytes. 0 means the memory budget; it may not
	// be larger than the budget.
	MaxMemory int
	// MaxArgon2Time is the most Argon2 passes (t). 0 means 10.
	MaxArgon2Time int
	// MaxArgon2Threads is the most Argon2 lanes (p), at most 255. 0 means 64.
	MaxArgon2Threads int
	// MaxScryptP is the most scrypt parallelization (p), which multiplies
	// the work without using more memory. 0 means 16.
	MaxScryptP int
	// MaxPBKDF2Iterations is the most PBKDF2 iterations. 0 means 5,000,000
	// (about 8 times the default).
	MaxPBKDF2Iterations int
	// MaxBcryptCost is the highest bcrypt cost, at most 31. Each step doubles
	// the work: 16 is about 5 s on a server core, 31 takes days. 0 means 16.
	MaxBcryptCost int
}

// Pepper is a secret key mixed into every password with HMAC-SHA256 before
// hashing. It is kept outside the database (environment, vault, HSM), so a
// leaked database alone does not allow guessing passwords.
type Pepper struct {
	// ID names the key in the encoded hash ("keyid" parameter), 1 to 8
	// bytes. IDs must be unique.
	ID string
	// Key is the secret, at least 32 bytes from a CSPRNG.
	Key []byte
}

// Config configures a [Hasher]. A Config must not be modified after it has
// been passed to [New]; the Hasher keeps copies of what it needs.
type Config struct {
	// Scheme is the algorithm and parameters for new hashes. nil means
	// Argon2id{} (OWASP's m=19456 KiB, t=2, p=1).
	Scheme Scheme

	// MaxPasswordLen is the longest password in bytes that any method
	// accepts; longer ones fail with ErrPasswordTooLong before any work.
	// 0 means DefaultMaxPasswordLen (1024).
	MaxPasswordLen int

	// MemoryBudget is the total memory in KiB that concurrent hashes and
	// verifications may use. Each call takes its own cost from the budget
	// (Argon2's m; scrypt's 128·r·(N+p+2) bytes; a few KiB for bcrypt and
	// PBKDF2)
	// and waits, in arrival order, while the budget is exhausted. 0 means
	// four hashes of Scheme, but at least DefaultMinBudget (130 MiB): with
	// the default scheme, six 19 MiB hashes at once.
	MemoryBudget int

	// MaxQueue is how many calls may wait for the budget at once; the next
	// one fails with ErrBusy. 0 means no limit (waiters still leave when
	// their context ends).
	MaxQueue int

	// Limits bound parameters read from stored hashes.
	Limits Limits

	// Peppers are optional HMAC keys. The first is used for new hashes; the
	// others still verify hashes made with them, which then report that they
	// need rehashing. Peppers need a scheme that records the key ID
	// (Argon2id or Scrypt). nil means no pepper.
	Peppers []Pepper

	// Rand is the source of salts. nil means crypto/rand.Reader. bcrypt
	// always draws its salt from crypto/rand.
	Rand io.Reader

	// InsecureWeakParameters allows a Scheme below OWASP's minimums
	// (Argon2id m·t < 35840 KiB or m < 7168 KiB; scrypt N·r·p < 655360;
	// PBKDF2 < 600,000 iterations; salts under 16 bytes). For tests only.
	// bcrypt's minimum cost of 10 is never relaxed.
	InsecureWeakParameters bool
}

// algorithm identifies a hash function.
type algorithm uint8

const (
	algArgon2id algorithm = iota + 1
	algArgon2i
	algScrypt
	algBcrypt
	algPBKDF2SHA256
)

func (a algorithm) String() string {
	switch a {
	case algArgon2id:
		return "argon2id"
	case algArgon2i:
		return "argon2i"
	case algScrypt:
		return "scrypt"
	case algBcrypt:
		return "bcrypt"
	case algPBKDF2SHA256:
		return "pbkdf2-sha256"
	}
	return "unknown"
}

// params are the algorithm and parameters of one hash, new or stored.
type params struct {
	alg     algorithm
	m, t, p int // Argon2: memory KiB, passes, lanes; scrypt uses p too
	logN, r int // scrypt
	iter    int // PBKDF2
	cost    int // bcrypt
	saltLen int
	keyLen  int
}

// scryptBytes is what x/crypto/scrypt allocates for N=2^logN, r and p: the
// 128·r·N table, the 128·r·p buffer PBKDF2 fills, and 256·r of work space.
// Counting only the table would let a stored hash with a tiny N and a huge r
// or p allocate many times what the budget charged for it.
func scryptBytes(logN, r, p int) int64 {
	return 128 * int64(r) * (int64(1)<<uint(logN) + int64(p) + 2)
}

// memoryKiB is the weight of one computation with these parameters.
func (p *params) memoryKiB() int64 {
	switch p.alg {
	case algArgon2id, algArgon2i:
		return int64(p.m)
	case algScrypt:
		return max(scryptBytes(p.logN, p.r, p.p)/1024, 1)
	case algBcrypt:
		return 5 // 4 KiB of Blowfish S-boxes and P-array
	}
	return 1
}

// Hasher hashes and verifies passwords under one policy. It is safe for
// concurrent use. Create one with [New]; the zero Hasher is not usable.
type Hasher struct {
	policy  params
	peppers []Pepper
	maxPass int
	limits  Limits
	rand    io.Reader
	budget  *budget
	dummy   stored
	// onCompute, when set (tests only), is called with the weight just
	// before a hash function runs and its result when the function returns.
	onCompute func(kib int64) func()
}

// New returns a Hasher for cfg. It panics if cfg is invalid: a scheme outside
// its algorithm's range or below OWASP's minimums (unless
// InsecureWeakParameters), a scheme that does not fit its own Limits or the
// memory budget, or bad peppers.
func New(cfg Config) *Hasher {
	h := &Hasher{maxPass: cfg.MaxPasswordLen, rand: cfg.Rand}
	if h.maxPass == 0 {
		h.maxPass = DefaultMaxPasswordLen
	}
	if h.maxPass < 1 {
		panic("hash: MaxPasswordLen must not be negative")
	}
	if h.rand == nil {
		h.rand = rand.Reader
	}
	sch := cfg.Scheme
	if sch == nil {
		sch = Argon2id{}
	}
	pol, err := schemeParams(sch, cfg.InsecureWeakParameters)
	if err != nil {
		panic(err.Error())
	}
	h.policy = pol

	budgetKiB := int64(cfg.MemoryBudget)
	if budgetKiB == 0 {
		budgetKiB = max(4*pol.memoryKiB(), DefaultMinBudget)
	}
	if budgetKiB < pol.memoryKiB() {
		panic(fmt.Sprintf("hash: MemoryBudget %d KiB is smaller than one hash of the scheme (%d KiB)", budgetKiB, pol.memoryKiB()))
	}
	if cfg.MaxQueue < 0 {
		panic("hash: MaxQueue must not be negative")
	}
	h.budget = newBudget(budgetKiB, cfg.MaxQueue)

	h.limits = cfg.Limits
	l := &h.limits
	if l.MaxMemory == 0 {
		l.MaxMemory = int(budgetKiB)
	}
	setDefault(&l.MaxArgon2Time, 10)
	setDefault(&l.MaxArgon2Threads, 64)
	setDefault(&l.MaxScryptP, 16)
	setDefault(&l.MaxPBKDF2Iterations, 5_000_000)
	setDefault(&l.MaxBcryptCost, 16)
	switch {
	case l.MaxMemory < 1 || int64(l.MaxMemory) > budgetKiB:
		panic("hash: Limits.MaxMemory must be between 1 KiB and the memory budget")
	case l.MaxArgon2Time < 1, l.MaxArgon2Threads < 1 || l.MaxArgon2Threads > 255,
		l.MaxScryptP < 1, l.MaxPBKDF2Iterations < 1,
		l.MaxBcryptCost < 4 || l.MaxBcryptCost > 31:
		panic("hash: a Limits field is out of range")
	}
	if err := h.checkLimits(&pol); err != nil {
		panic("hash: the scheme for new hashes exceeds its own limits: " + err.Error())
	}

	seen := make(map[string]bool)
	for _, pp := range cfg.Peppers {
		switch {
		case len(pp.ID) < 1 || len(pp.ID) > 8:
			panic("hash: a pepper ID must be 1 to 8 bytes")
		case seen[pp.ID]:
			panic("hash: duplicate pepper ID")
		case len(pp.Key) < 32:
			panic("hash: a pepper key must be at least 32 bytes")
		}
		seen[pp.ID] = true
		h.peppers = append(h.peppers, Pepper{ID: pp.ID, Key: append([]byte(nil), pp.Key...)})
	}
	if len(h.peppers) > 0 && pol.alg != algArgon2id && pol.alg != algScrypt {
		panic("hash: peppers need a scheme that records the pepper ID (Argon2id or Scrypt)")
	}
	h.dummy = h.newDummy()
	return h
}

func setDefault(v *int, def int) {
	if *v == 0 {
		*v = def
	}
}

// schemeParams validates a Scheme and fills in its defaults.
func schemeParams(s Scheme, weak bool) (params, error) {
	minSalt := 16
	if weak {
		minSalt = 8
	}
	bad := func(format string, a ...any) (params, error) {
		return params{}, fmt.Errorf("hash: "+format, a...)
	}
	switch s := s.(type) {
	case Argon2id:
		p := params{alg: algArgon2id, m: s.Memory, t: s.Time, p: s.Threads, saltLen: s.SaltLen, keyLen: s.KeyLen}
		setDefault(&p.m, 19456)
		setDefault(&p.t, 2)
		setDefault(&p.p, 1)
		setDefault(&p.saltLen, 16)
		setDefault(&p.keyLen, 32)
		switch {
		case p.p < 1 || p.p > 255:
			return bad("Argon2id Threads %d out of range 1..255", p.p)
		case p.t < 1 || int64(p.t) > maxUint32 || int64(p.m) < 8*int64(p.p) || int64(p.m) > maxUint32:
			return bad("Argon2id Memory %d KiB or Time %d out of range", p.m, p.t)
		case !weak && (p.m < 7168 || int64(p.m)*int64(p.t) < 35840):
			return bad("Argon2id m=%d KiB t=%d is below OWASP's minimum (m·t ≥ 35840 KiB, m ≥ 7168 KiB)", p.m, p.t)
		case p.saltLen < minSalt || p.saltLen > 48:
			return bad("Argon2id SaltLen %d out of range %d..48", p.saltLen, minSalt)
		case p.keyLen < 16 || p.keyLen > 64:
			return bad("Argon2id KeyLen %d out of range 16..64", p.keyLen)
		}
		return p, nil
	case Scrypt:
		p := params{alg: algScrypt, logN: s.LogN, r: s.R, p: s.P, saltLen: s.SaltLen, keyLen: s.KeyLen}
		setDefault(&p.logN, 17)
		setDefault(&p.r, 8)
		setDefault(&p.p, 1)
		setDefault(&p.saltLen, 16)
		setDefault(&p.keyLen, 32)
		switch {
		case p.logN < 1 || p.logN > 30 || p.r < 1 || p.p < 1 || int64(p.r)*int64(p.p) >= 1<<30:
			return bad("Scrypt ln=%d r=%d p=%d out of range", p.logN, p.r, p.p)
		case !weak && int64(p.r)*int64(p.p)<<uint(p.logN) < 655360:
			return bad("Scrypt N·r·p is below OWASP's minimum of 655360")
		case p.saltLen < minSalt || p.saltLen > 64:
			return bad("Scrypt SaltLen %d out of range %d..64", p.saltLen, minSalt)
		case p.keyLen != passlibKeyLen:
			return bad("Scrypt KeyLen %d: passlib's $scrypt$ form holds 32-byte hashes only", p.keyLen)
		}
		return p, nil
	case Bcrypt:
		p := params{alg: algBcrypt, cost: s.Cost, saltLen: 16, keyLen: 23}
		setDefault(&p.cost, 12)
		if p.cost < 10 || p.cost > 31 {
			return bad("Bcrypt Cost %d out of range 10..31", p.cost)
		}
		return p, nil
	case PBKDF2:
		p := params{alg: algPBKDF2SHA256, iter: s.Iterations, saltLen: s.SaltLen, keyLen: s.KeyLen}
		setDefault(&p.iter, 600_000)
		setDefault(&p.saltLen, 16)
		setDefault(&p.keyLen, 32)
		switch {
		case p.iter < 1 || (!weak && p.iter < 600_000):
			return bad("PBKDF2 Iterations %d below the minimum of 600000", p.iter)
		case p.saltLen < minSalt || p.saltLen > 64:
			return bad("PBKDF2 SaltLen %d out of range %d..64", p.saltLen, minSalt)
		case p.keyLen != passlibKeyLen:
			return bad("PBKDF2 KeyLen %d: passlib's $pbkdf2-sha256$ form holds 32-byte hashes only", p.keyLen)
		}
		return p, nil
	}
	return bad("unknown scheme %T", s)
}

// Hash returns an encoded hash of password under the current scheme, salted
// from Config.Rand and peppered with the first pepper if any. It waits for
// its share of the memory budget; see [Config.MemoryBudget].
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.checkLen(password); err != nil {
		return "", err
	}
	var pep *Pepper
	if len(h.peppers) > 0 {
		pep = &h.peppers[0]
	}
	pol := h.policy
	if pol.alg == algBcrypt && len(password) > bcryptMaxPassword {
		return "", fmt.Errorf("%w: bcrypt uses only the first 72 bytes of a password; choose another scheme for longer ones", ErrPasswordTooLong)
	}
	if pol.alg == algBcrypt && strings.IndexByte(password, 0) >= 0 {
		return "", fmt.Errorf("%w: other bcrypt implementations stop at it; choose another scheme for such passwords", ErrPasswordNUL)
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("hash: %w", err)
	}
	var salt []byte
	if pol.alg != algBcrypt {
		salt = make([]byte, pol.saltLen)
		if _, err := io.ReadFull(h.rand, salt); err != nil {
			return "", fmt.Errorf("hash: reading salt: %w", err)
		}
	}
	s := stored{params: pol, salt: salt}
	if pep != nil {
		s.keyID = pep.ID
	}
	input := h.input([]byte(password), &s, pep)

	if err := h.budget.acquire(ctx, pol.memoryKiB()); err != nil {
		return "", err
	}
	done := h.computeStarted(pol.memoryKiB())
	var err error
	if pol.alg == algBcrypt {
		s.bcrypt, err = bcryptGenerate(input, pol.cost)
	} else {
		s.tag, err = derive(&s, input, pol.keyLen)
	}
	done()
	h.budget.release(pol.memoryKiB())
	if err != nil {
		return "", fmt.Errorf("hash: %w", err)
	}
	return s.encode(), nil
}

// Verify checks password against encoded, a hash in any supported format
// (see the package documentation). A nil error means the password matches;
// a wrong password returns ErrMismatch. Any other error means encoded cannot
// be used (ErrInvalidHash, ErrUnsupportedHash, ErrCostLimit,
// ErrUnknownPepper) or the call could not run (ErrPasswordTooLong, ErrBusy,
// the context's error).
//
// rehash reports, only when the password matched, that encoded should be
// replaced by h.Hash(ctx, password): it uses another algorithm or format,
// parameters other than the current scheme's, a shorter salt, a pepper
// other than the current one, or it is a bcrypt hash and the password is
// longer than the 72 bytes bcrypt compared (unless the scheme is itself
// bcrypt, which cannot do better).
//
// An empty or unusable encoded still costs one hash at the current scheme's
// parameters before the error is returned, like [Hasher.VerifyDummy], so the
// response time does not tell an attacker which accounts exist or have a
// usable password.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (rehash bool, err error) {
	if err := h.checkLen(password); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("hash: %w", err)
	}
	s, err := h.parse(encoded)
	var pep *Pepper
	if err == nil && s.keyID != "" {
		pep = h.pepper(s.keyID)
		if pep == nil {
			err = fmt.Errorf("%w: the hash was made with a pepper that is not configured", ErrUnknownPepper)
		}
	}
	if err != nil {
		_ = h.VerifyDummy(ctx, password)
		return false, err
	}
	pw := []byte(password)
	longBcrypt := false
	if s.alg == algBcrypt && s.prehash == prehashNone && len(pw) > bcryptMaxPassword {
		// bcrypt always ignored bytes past the 72nd; say so explicitly.
		pw = pw[:bcryptMaxPassword]
		longBcrypt = true
	}
	ok, err := h.check(ctx, h.input(pw, &s, pep), &s)
	if err != nil {
		return false, err
	}
	if !ok {
		return false, ErrMismatch
	}
	rehash = h.needsRehash(&s)
	if longBcrypt && !(h.policy.alg == algBcrypt && len(h.peppers) == 0) {
		rehash = true
	}
	return rehash, nil
}

// VerifyDummy does the work of one verification at the current scheme's
// parameters, through the same memory budget, and returns ErrMismatch (or
// ErrPasswordTooLong, ErrBusy, or the context's error). Call it when a login
// names an unknown user, so that the response takes as long as for a known
// one.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	if err := h.checkLen(password); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("hash: %w", err)
	}
	var pep *Pepper
	if len(h.peppers) > 0 {
		pep = &h.peppers[0]
	}
	pw := []byte(password)
	if h.dummy.alg == algBcrypt && len(pw) > bcryptMaxPassword {
		pw = pw[:bcryptMaxPassword]
	}
	ok, err := h.check(ctx, h.input(pw, &h.dummy, pep), &h.dummy)
	if err != nil {
		return err
	}
	if ok { // a 256-bit random tag: cannot happen
		panic("hash: dummy hash matched")
	}
	return ErrMismatch
}

// check runs the hash function of s on input within the budget and compares
// the result with s in constant time.
func (h *Hasher) check(ctx context.Context, input []byte, s *stored) (bool, error) {
	kib := s.memoryKiB()
	if err := h.budget.acquire(ctx, kib); err != nil {
		return false, err
	}
	done := h.computeStarted(kib)
	ok, err := compare(s, input)
	done()
	h.budget.release(kib)
	return ok, err
}

func (h *Hasher) computeStarted(kib int64) func() {
	if h.onCompute == nil {
		return func() {}
	}
	return h.onCompute(kib)
}

func (h *Hasher) pepper(id string) *Pepper {
	for i := range h.peppers {
		if h.peppers[i].ID == id {
			return &h.peppers[i]
		}
	}
	return nil
}

// NeedsRehash reports, without verifying anything, whether encoded differs
// from what Hash would produce now — another algorithm or format, other
// parameters, a shorter salt, another pepper — or cannot be parsed. It costs
// no hashing: sign-in flows use it to know in advance which scheme a stored
// hash will cost (see the login package). [Hasher.Verify] reports the same
// as its rehash result, once the password matched.
func (h *Hasher) NeedsRehash(encoded string) bool {
	s, err := h.parse(encoded)
	return err != nil || h.needsRehash(&s)
}

// needsRehash reports whether a matching stored hash differs from what Hash
// would produce now.
func (h *Hasher) needsRehash(s *stored) bool {
	pol := &h.policy
	if s.foreign || s.prehash != prehashNone || s.alg != pol.alg {
		return true
	}
	want := ""
	if len(h.peppers) > 0 {
		want = h.peppers[0].ID
	}
	if s.keyID != want {
		return true
	}
	switch s.alg {
	case algArgon2id:
		if s.m != pol.m || s.t != pol.t || s.p != pol.p {
			return true
		}
	case algScrypt:
		if s.logN != pol.logN || s.r != pol.r || s.p != pol.p {
			return true
		}
	case algBcrypt:
		return s.cost != pol.cost
	case algPBKDF2SHA256:
		if s.iter != pol.iter {
			return true
		}
	}
	return len(s.salt) < pol.saltLen || len(s.tag) != pol.keyLen
}

// checkLimits bounds parameters before any work. Values outside an
// algorithm's own range are rejected by the parsers already.
func (h *Hasher) checkLimits(p *params) error {
	l := &h.limits
	switch p.alg {
	case algArgon2id, algArgon2i:
		switch {
		case p.m > l.MaxMemory:
			return fmt.Errorf("%w: argon2 m=%d KiB, the limit is %d KiB", ErrCostLimit, p.m, l.MaxMemory)
		case p.t > l.MaxArgon2Time:
			return fmt.Errorf("%w: argon2 t=%d, the limit is %d", ErrCostLimit, p.t, l.MaxArgon2Time)
		case p.p > l.MaxArgon2Threads:
			return fmt.Errorf("%w: argon2 p=%d, the limit is %d", ErrCostLimit, p.p, l.MaxArgon2Threads)
		}
	case algScrypt:
		// scryptBytes ≤ MaxMemory KiB, computed without overflow: p is
		// checked first, N ≤ 2^30 and MaxMemory < 2^63/1024, so
		// 128·(N+p+2) stays small and the division bounds r.
		if p.p > l.MaxScryptP {
			return fmt.Errorf("%w: scrypt p=%d, the limit is %d", ErrCostLimit, p.p, l.MaxScryptP)
		}
		maxR := int64(l.MaxMemory) * 1024 / (128 * (int64(1)<<uint(p.logN) + int64(p.p) + 2))
		if int64(p.r) > maxR {
			return fmt.Errorf("%w: scrypt ln=%d r=%d p=%d needs more than %d KiB", ErrCostLimit, p.logN, p.r, p.p, l.MaxMemory)
		}
	case algPBKDF2SHA256:
		// The work is the iterations times the SHA-256 blocks of output: a
		// 64-byte stored tag costs twice its iterations.
		blocks := (p.keyLen + sha256.Size - 1) / sha256.Size
		if int64(p.iter)*int64(blocks) > int64(l.MaxPBKDF2Iterations) {
			return fmt.Errorf("%w: pbkdf2 %d iterations for a %d-byte hash, the limit is %d iterations per 32 bytes", ErrCostLimit, p.iter, p.keyLen, l.MaxPBKDF2Iterations)
		}
	case algBcrypt:
		if p.cost > l.MaxBcryptCost {
			return fmt.Errorf("%w: bcrypt cost %d, the limit is %d", ErrCostLimit, p.cost, l.MaxBcryptCost)
		}
	}
	return nil
}

// checkLen refuses passwords over the Hasher's limit, before any work.
func (h *Hasher) checkLen(password string) error {
	if len(password) > h.maxPass {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrPasswordTooLong, len(password), h.maxPass)
	}
	return nil
}
