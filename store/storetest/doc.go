// Package storetest is the conformance suite for [store.Store]
// implementations. Every Store in authkit passes it, and a third party's
// adapter is checked the same way with a three-line test:
//
//	func TestMyStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return newMyStore(t) })
//	}
//
// # What Run checks
//
// [Run] runs the whole contract documented on [store.Store] as subtests, in
// groups:
//
//   - Basic: get, set, replace, delete, deleting an absent key.
//   - Expiry: a zero expiresAt is [store.ErrInvalidExpiry]; an expiresAt at or
//     before now (the Unix epoch, 1600, a moment ago) leaves the key absent;
//     far-future expiries (year 9999) are kept; an entry expires while stored;
//     a replacing Set or CompareAndSwap replaces the expiry too; an expired
//     entry is absent to CompareAndSwap.
//   - Keys: empty, 256-byte, space, control-byte, DEL (0x7F) and non-ASCII keys
//     are [store.ErrInvalidKey] on every method; 255 printable bytes and SQL or
//     glob metacharacters are accepted; keys are compared byte for byte ("a"
//     and "A", "a_" and "ab", two 255-byte keys differing in the last byte).
//   - Values: empty and [store.MaxValueSize]+1 are [store.ErrInvalidValue] and
//     leave the stored value untouched; MaxValueSize is accepted and returned
//     intact; binary values (every byte 0..255, NULs, trailing spaces) come
//     back byte for byte.
//   - CompareAndSwap: every combination of absent or present × old empty,
//     matching or mismatching × new empty or not, new equal to old, and
//     byte-exact comparison. A mismatch is (false, nil), never an error. A
//     swap whose new expiresAt is already past reports true and leaves the key
//     absent.
//   - Aliasing: mutating a slice passed to Set or CompareAndSwap, or returned
//     by Get, does not change what the store holds.
//   - Context: every method given an already-cancelled context, or one whose
//     deadline has passed, returns an error satisfying errors.Is with
//     [context.Canceled] or [context.DeadlineExceeded].
//   - Race: 8 goroutines incrementing one counter with CompareAndSwap lose no
//     increment; 64 goroutines racing CompareAndSwap-if-absent on one key
//     produce exactly one winner; concurrent CompareAndSwap-deletes have one
//     winner; concurrent Sets and Gets of one key never see a torn value;
//     goroutines working on distinct keys do not disturb each other.
//
// Errors are always checked with errors.Is, so adapters may wrap them.
//
// # Writing newStore
//
// Run calls newStore once per subtest, from that subtest, and expects an
// empty store that no other subtest sees. Subtests run in parallel, so
// newStore must be safe to call concurrently. Register teardown with
// t.Cleanup, not defer. Stores on a shared server isolate subtests with a
// fresh key prefix or table per call; [UniqueID] makes one:
//
//	storetest.Run(t, func(t *testing.T) store.Store {
//		return newMyStore(t, "test:"+storetest.UniqueID()+":")
//	})
//
// Tests that need a server read its address with [Env], which skips the test
// with a message naming the variable when it is not set.
//
// # Timing
//
// The suite uses real time, as network stores must: entries that should
// expire live 150 ms, and assertions allow 50 ms of clock slack between the
// test process and the server. Whether an entry is still present just before
// its expiry is asserted only when the read finished before the expiry, so a
// slow machine does not make the suite flaky. Against a local Redis or
// PostgreSQL the whole suite takes about a second.
package storetest
