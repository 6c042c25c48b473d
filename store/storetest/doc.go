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
//   - Linearizable: 8 goroutines make 480 random Get, Set, Delete and
//     CompareAndSwap calls on 3 keys, some with contexts cancelled before or
//     during the call or with deadlines of a few milliseconds, and the
//     history is checked against the contract (see [CheckLinearizable]).
//     Every error must match the context of its call.
//
// Errors are always checked with errors.Is, so adapters may wrap them.
//
// # Failures
//
// Run reports each rule a method breaks once, with a count and the first
// occurrence, at the line of the test that called Run:
//
//	mystore_test.go:12: storetest: Get: want ErrInvalidKey: 17 failures in Keys/Invalid; first: Get(key empty) error = store: not found, want store: invalid key
//
// The subtests that saw the failures are marked failed, so that
// go test -run 'TestMyStore/Keys/Invalid' runs just those again.
//
// # Linearizability under faults
//
// The contract requires every Store to be linearizable per key, and a failed
// write to be at most applied once: a Store must never re-send a write whose
// reply it lost, since the second copy could undo another client's write
// that completed in between (a revoked session would come back).
// [CheckLinearizable] records histories of concurrent random calls and
// checks them with porcupine (github.com/anishathalye/porcupine), a
// failed write counting as possibly applied at any later time. Run includes
// one round on one store; call CheckLinearizable yourself for more rounds,
// for several stores sharing one database, and with
// [LinearizabilityConfig.Fault] to break connections while the clients work
// — that is where a client library's automatic retries show:
//
//	storetest.CheckLinearizable(t, storetest.LinearizabilityConfig{
//		Rounds: 10,
//		Fault:  func(ctx context.Context) { killConnectionsEvery(ctx, 5*time.Millisecond) },
//	}, st1, st2)
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
