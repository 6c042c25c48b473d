package sqlstore

import (
	"testing"

	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/store/storetest"
)

// TestConformance runs the store conformance suite on every backend, each
// subtest on a table of its own (a fresh database for SQLite).
func TestConformance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		storetest.Run(t, func(t *testing.T) store.Store {
			return newTestStore(t, b, Config{})
		})
	})
}
