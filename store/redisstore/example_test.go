package redisstore_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authkit/authkit/store/redisstore"
)

func Example() {
	ctx := context.Background()
	client := redis.NewClient(&redis.Options{
		Addr:                  "127.0.0.1:6379",
		ContextTimeoutEnabled: true, // obey request deadlines
		DialTimeout:           time.Second,
		ReadTimeout:           500 * time.Millisecond,
		WriteTimeout:          500 * time.Millisecond,
	})
	defer client.Close()

	s, err := redisstore.New(client, redisstore.Config{Prefix: "myapp:"})
	if err != nil {
		log.Fatal(err)
	}
	// Once at startup: a primary, Redis 6.2 or later.
	if err := s.Verify(ctx); err != nil {
		log.Fatal(err)
	}
	// Hand s to session.Manager, the token manager, the JWT revocation list…
	_ = s
}

// A Redis Cluster client works as it is; a cluster client reading from
// replicas is refused.
func Example_cluster() {
	client := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                 []string{"10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"},
		ContextTimeoutEnabled: true,
	})
	defer client.Close()
	s, err := redisstore.New(client, redisstore.Config{Prefix: "myapp:"})
	if err != nil {
		log.Fatal(err)
	}
	_ = s
}

// With Sentinel, the failover client follows the primary across failovers.
func Example_sentinel() {
	client := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:            "mymaster",
		SentinelAddrs:         []string{"10.0.0.1:26379", "10.0.0.2:26379", "10.0.0.3:26379"},
		ContextTimeoutEnabled: true,
	})
	defer client.Close()
	s, err := redisstore.New(client, redisstore.Config{Prefix: "myapp:"})
	if err != nil {
		log.Fatal(err)
	}
	_ = s
}

// New refuses a configuration that would break the store contract, and
// says why.
func ExampleNew_refused() {
	plain := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer plain.Close()
	_, err := redisstore.New(plain, redisstore.Config{Prefix: "myapp:"})
	fmt.Println(err)

	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	defer client.Close()
	_, err = redisstore.New(client, redisstore.Config{})
	fmt.Println(err)
	// Output:
	// redisstore: client configuration breaks the store contract: set ContextTimeoutEnabled in the client's options, so that a call ends when its context does instead of after ReadTimeout
	// redisstore: Config.Prefix is empty; name the application in it, e.g. "myapp:"
}
