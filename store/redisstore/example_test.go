package redisstore_test

import (
	"context"
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
