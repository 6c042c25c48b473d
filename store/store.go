// Package store defines the key-value contract every authkit component keeps its
// state in, and provides [Memory], an in-process implementation of it.
//
// # The contract
//
// A [Store] holds byte values under printable-ASCII keys until an expiry time.
// It is deliberately small — four methods, all single-key — so that an adapter
// for any database is short, so that Redis Cluster needs no hash tags, and so
// that every adapter can be checked against the same conformance suite,
// [github.com/authkit/authkit/store/storetest].
//
// Sessions, tokens, refresh families and JWT revocation records are all kept
// through this interface. Components namespace their keys ("sess:", "tok:", …)
// and never store a secret in clear: the key of a session or token record is a
// SHA-256 of the secret.
//
// # Timeouts
//
// A Store call blocks as long as its context allows. Wrap a network store
// with [WithTimeout] so that a stalled server becomes a prompt error — which
// authkit.Guard answers with 503 and Retry-After — rather than requests that
// hang.
//
// # Network faults
//
// When a write fails — a timeout, a broken connection — the caller cannot
// know whether it happened: the server may have applied it and lost the
// reply. Every Store in this module then returns the error and stops there.
// It never sends the write again on its own, because a second copy arriving
// after another client's write would undo that write: a session revoked in
// between would come back. The caller, who knows what it meant, decides
// whether to retry (the authkit managers re-read and retry with
// CompareAndSwap). A Store must also be linearizable per key: a read sees
// every write that completed before it began, which rules out reading from
// replicas and client-side caches.
//
// # Writing an adapter
//
// Implement the four methods with the semantics documented on [Store], use
// [CheckKey], [CheckValue] and [CheckExpiry] to validate arguments the same way
// every other adapter does, check ctx.Err() first in every method, turn off
// your client library's automatic retries for writes, and run the suite from
// your test:
//
//	func TestMyStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return newMyStore(t) })
//	}
package store

import (
	"context"
	"errors"
	"time"
)

// Errors returned by every Store. Adapters wrap their own failures (network,
// database) in other errors; those must never be mistaken for ErrNotFound.
var (
	// ErrNotFound is returned by Get when the key is absent or expired.
	ErrNotFound = errors.New("store: not found")
	// ErrInvalidKey is returned when a key breaks the key rules on [Store].
	ErrInvalidKey = errors.New("store: invalid key")
	// ErrInvalidValue is returned when a value is empty or larger than MaxValueSize.
	ErrInvalidValue = errors.New("store: invalid value")
	// ErrInvalidExpiry is returned when expiresAt is the zero time.
	ErrInvalidExpiry = errors.New("store: invalid expiry")
)

// MaxValueSize is the largest value a Store must accept.
const MaxValueSize = 1 << 20

// MaxKeySize is the longest key a Store must accept.
const MaxKeySize = 255

// Store is a key-value store whose entries expire. Implementations are safe for
// concurrent use and linearizable per key: a Get sees every write that completed
// before it began (no reads from replicas).
//
// Keys are 1..255 bytes of printable ASCII (0x21..0x7E), compared byte for byte;
// any other key is ErrInvalidKey. Values are 1..MaxValueSize bytes; an empty or
// larger value is ErrInvalidValue. expiresAt is required: a zero time is
// ErrInvalidExpiry; a time at or before now makes the entry absent at once. An
// entry past its expiry is absent to every method, swept or not. After an error
// from a write, whether the write happened is unknown.
//
// A call whose context is already done fails, with an error matching the
// context's (errors.Is(err, context.Canceled) or
// errors.Is(err, context.DeadlineExceeded)), and so does a call that gives up
// because its context ended while it waited. A Store never re-sends a write
// whose outcome it does not know: a write whose reply was lost is an error to
// the caller, never a silent second apply that could undo another client's
// write completed in between. Reads may be retried.
type Store interface {
	// Get returns the value under key, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Set stores value under key until expiresAt, replacing any earlier value.
	Set(ctx context.Context, key string, value []byte, expiresAt time.Time) error
	// Delete removes key. Removing an absent key is not an error.
	Delete(ctx context.Context, key string) error
	// CompareAndSwap atomically replaces the value under key with new, only if
	// the current value equals old byte for byte. An empty old (nil or zero
	// length) means "only if absent"; an empty new means "delete" (expiresAt is
	// then ignored); with both empty it does nothing and reports false. It
	// reports whether the swap happened: a mismatch is (false, nil), never an error.
	CompareAndSwap(ctx context.Context, key string, old, new []byte, expiresAt time.Time) (bool, error)
}

// CheckKey reports whether key follows the key rules of [Store]: 1..255 bytes,
// each in 0x21..0x7E. It returns nil or an error wrapping [ErrInvalidKey].
func CheckKey(key string) error {
	if len(key) == 0 {
		return ErrInvalidKey
	}
	if len(key) > MaxKeySize {
		return ErrInvalidKey
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x21 || c > 0x7e {
			return ErrInvalidKey
		}
	}
	return nil
}

// CheckValue reports whether value is 1..[MaxValueSize] bytes. It returns nil
// or [ErrInvalidValue].
func CheckValue(value []byte) error {
	if len(value) == 0 || len(value) > MaxValueSize {
		return ErrInvalidValue
	}
	return nil
}

// CheckExpiry reports whether expiresAt is set. It returns nil or
// [ErrInvalidExpiry]. A time in the past is valid: it makes the entry absent.
func CheckExpiry(expiresAt time.Time) error {
	if expiresAt.IsZero() {
		return ErrInvalidExpiry
	}
	return nil
}

// CheckCompareAndSwap validates the arguments of [Store.CompareAndSwap]: the
// key always; old and new when they are not empty; expiresAt when new is not
// empty. Adapters call it first so every Store rejects the same inputs.
func CheckCompareAndSwap(key string, old, new []byte, expiresAt time.Time) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if len(old) > MaxValueSize {
		return ErrInvalidValue
	}
	if len(new) > 0 {
		if err := CheckValue(new); err != nil {
			return err
		}
		if err := CheckExpiry(expiresAt); err != nil {
			return err
		}
	}
	return nil
}
