// Package hash hashes and verifies passwords: Argon2id by default, scrypt,
// bcrypt and PBKDF2-HMAC-SHA256, with verification of every supported format,
// upgrade-on-login, bounded parameters and a memory budget.
//
// A [Hasher] is created once from a [Config] and used by every login:
//
//	h := hash.New(hash.Config{}) // Argon2id, m=19456 KiB, t=2, p=1
//	encoded, err := h.Hash(ctx, password)               // at sign-up
//	rehash, err := h.Verify(ctx, password, encoded)     // at login
//
// # Upgrade on login
//
// [Hasher.Verify] accepts a hash in any supported format and returns a nil
// error when the password matches. Its rehash result says the stored hash
// differs from what [Hasher.Hash] would produce now — another algorithm,
// other parameters, a shorter salt, an older pepper — so the caller can
// store h.Hash(ctx, password) while it holds the password. This is the
// flow of Django's check_password and passlib's verify_and_update; the
// example shows it.
//
// # Formats
//
// New hashes use the [Config.Scheme]:
//
//   - [Argon2id]: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> (PHC string
//     format, canonical unpadded base64, parameters in the fixed order m,t,p).
//   - [Scrypt]: $scrypt$ln=17,r=8,p=1$<salt>$<hash> (passlib's form).
//   - [Bcrypt]: $2a$12$<22-character salt><31-character hash>.
//   - [PBKDF2]: $pbkdf2-sha256$600000$<salt>$<hash> (passlib's form, whose
//     base64 writes "." for "+" and has no padding).
//
// Verify accepts these and, so that users of other systems can be imported
// unchanged: argon2i v=19 hashes, bcrypt's $2b$ and $2y$, and Django's
// pbkdf2_sha256$, argon2$, scrypt$, bcrypt$ and bcrypt_sha256$ hashes. The
// hashes those systems produce are the package's test data. Other formats,
// argon2d, Argon2 version 16 and the Argon2 "data" parameter fail with
// [ErrUnsupportedHash]. Non-canonical encodings (padding, leading zeros,
// another parameter order, non-zero trailing bits) fail with
// [ErrInvalidHash]: every accepted string re-encodes to itself.
//
// # Bounded input
//
// A stored hash is data from a database, an import file or an attacker.
// Before any work, its parameters are bounded by [Limits]: Argon2 memory,
// passes and lanes, scrypt's 128·r·(N+p+2) bytes and p, PBKDF2 iterations, the
// bcrypt cost (a stored cost of 31 takes days), salt and hash lengths, and
// the length of the string itself. Out-of-range values fail with
// [ErrInvalidHash] or [ErrCostLimit]; nothing panics, allocates in
// proportion to a hostile number, or runs for hours. Passwords longer than
// [Config.MaxPasswordLen] (1024 bytes by default) are refused by every
// algorithm.
//
// bcrypt uses only the first 72 bytes of a password. New bcrypt hashes
// refuse longer passwords with [ErrPasswordTooLong]. A stored bcrypt hash is
// compared with the first 72 bytes, as bcrypt always did, and a matching
// longer password reports that it needs a rehash into a scheme that uses all
// of it.
//
// # Memory budget
//
// Each Argon2 hash allocates m KiB and each scrypt hash 128·r·(N+p+2) bytes: a
// burst of 100 logins at 64 MiB would need 6.4 GiB. Every hash and
// verification takes its memory from a budget ([Config.MemoryBudget]; by
// default four hashes of the scheme, at least 130 MiB) and waits in arrival
// order while it is used up, so a burst queues instead of being killed for
// running out of memory. A waiter whose context ends leaves the queue; a
// hash that needs more than the whole budget fails at once with
// [ErrCostLimit]; [Config.MaxQueue] sheds load with [ErrBusy]. Garbage from
// finished hashes is still counted by the Go runtime until collected: set
// GOMEMLIMIT a little above the budget plus the program's other needs.
//
// # Timing
//
// Hash outputs are compared in constant time. [Hasher.VerifyDummy] does the
// work of a verification at the current scheme's parameters through the
// same budget; call it for unknown users. Verify itself does that work
// before returning an error for an empty or unusable stored hash, so the
// response time does not reveal which accounts exist or have a password.
//
// # Pepper
//
// An optional [Pepper] is a secret key kept outside the database. The
// password is replaced by base64(HMAC-SHA256(key, password)) before
// hashing, and the pepper's ID is recorded in the hash as the PHC "keyid"
// parameter, so peppers can rotate: the first of [Config.Peppers] is used
// for new hashes, older ones still verify and report a rehash, and a hash
// naming an ID that is not configured fails with [ErrUnknownPepper]. A lost
// pepper makes its hashes unverifiable. Peppers need Argon2id or scrypt,
// whose formats have a place for the ID.
package hash
