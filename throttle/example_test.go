package throttle_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/throttle"
)

// Count a guessable check through the throttle: Begin before checking,
// then settle the ticket with the outcome.
func Example() {
	st := store.NewMemory(store.MemoryConfig{})
	defer st.Close()
	th := throttle.New(st, throttle.Config{Pair: throttle.Limit{Free: 2}})
	ctx := context.Background()
	a := throttle.Attempt{Account: "alice", Addr: netip.MustParseAddr("203.0.113.9")}

	for i := range 5 {
		tk, err := th.Begin(ctx, a)
		var le *throttle.LimitedError
		if errors.As(err, &le) {
			fmt.Printf("attempt %d: refused (%s), Retry-After: %d\n", i+1, le.Scope, le.RetryAfterSeconds())
			continue
		}
		if err != nil {
			fmt.Println("store error:", err)
			return
		}
		// ... check the password here; it is wrong:
		_ = tk.Failure(ctx)
		fmt.Printf("attempt %d: checked, wrong\n", i+1)
	}
	// Output:
	// attempt 1: checked, wrong
	// attempt 2: checked, wrong
	// attempt 3: checked, wrong
	// attempt 4: refused (pair), Retry-After: 1
	// attempt 5: refused (pair), Retry-After: 1
}

// Limit how often a login link may be sent to one address.
func ExampleThrottle_Take() {
	st := store.NewMemory(store.MemoryConfig{})
	defer st.Close()
	th := throttle.New(st, throttle.Config{})
	ctx := context.Background()
	perAddress := throttle.Rate{Limit: 2, Per: 15 * time.Minute}
	for range 3 {
		err := th.Take(ctx, "link-address", "alice@example.com", perAddress)
		fmt.Println(err == nil)
	}
	// Output:
	// true
	// true
	// false
}
