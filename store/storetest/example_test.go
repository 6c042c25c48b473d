package storetest_test

import (
	"testing"

	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/store/storetest"
)

// newMyStore stands for your adapter's constructor: it returns a fresh, empty
// store and registers its teardown with t.Cleanup.
func newMyStore(t *testing.T) store.Store {
	m := store.NewMemory(store.MemoryConfig{})
	t.Cleanup(func() { m.Close() })
	return m
}

// An adapter's conformance test is three lines: a test function that hands
// Run a constructor. Run calls it once per subtest.
func Example() {
	TestMyStore := func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store { return newMyStore(t) })
	}
	_ = TestMyStore // in your _test.go file: func TestMyStore(t *testing.T) { … }
}
