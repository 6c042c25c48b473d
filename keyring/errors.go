package keyring

import "errors"

// Errors returned by the keyring. Each is wrapped with a message that names
// the purpose or the rule concerned; test for them with [errors.Is]. No
// error ever holds key material or a key-encryption key.
var (
	// ErrNoKEK means no usable key-encryption key was given: Config.KEKs is
	// empty, or the environment variable or file meant to hold one is
	// unset, empty or malformed. The keyring never generates a KEK by
	// itself.
	ErrNoKEK = errors.New("keyring: no key-encryption key")

	// ErrWrongKEK means a key in the store is encrypted under a
	// key-encryption key this server does not hold, or does not decrypt
	// under the one it names: the server was started with the wrong KEK, or
	// before the new one during a KEK rotation. Nothing is written then.
	ErrWrongKEK = errors.New("keyring: key-encryption key does not match the stored keys")

	// ErrCorrupt means a keyring record in the store is not a valid record
	// of the expected purpose.
	ErrCorrupt = errors.New("keyring: corrupt keyring record")

	// ErrInvalidConfig means a Config, a Schedule or a purpose name breaks a
	// documented rule.
	ErrInvalidConfig = errors.New("keyring: invalid configuration")

	// ErrUnknownPurpose means a manual operation named a purpose this
	// Keyring has not loaded with [Keyring.Codec] or [Keyring.KeySet].
	ErrUnknownPurpose = errors.New("keyring: unknown purpose")

	// ErrKeyNotFound means [Keyring.Revoke] named a key ID the purpose does
	// not hold (never held, or already removed).
	ErrKeyNotFound = errors.New("keyring: no such key")

	// ErrFull means a keyring record holds as many keys as it may
	// ([MaxKeys]): too many revocations within one verify window, or a
	// schedule whose rotation period is very short for its lifetimes.
	ErrFull = errors.New("keyring: too many keys in one record")

	// ErrClosed means the Keyring was closed.
	ErrClosed = errors.New("keyring: closed")
)
