package token

import (
	"testing"
	"time"

	"github.com/authkit/authkit/internal/redistest"
	"github.com/authkit/authkit/store"
)

// The store-facing tests also run on Redis when AUTHKIT_REDIS_ADDR is set
// (and skip, naming it, when it is not), each under a fresh key prefix that
// is removed afterwards. Redis runs on real time.
func init() {
	backendsExtra = append(backendsExtra, backend{name: "redis", open: openRedis})
}

func openRedis(t testing.TB, _ func() time.Time) (store.Store, *store.Memory) {
	return redistest.Store(t, "token"), nil
}
