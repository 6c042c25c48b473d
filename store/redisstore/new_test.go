package redisstore_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/authkit/authkit/store/redisstore"
)

// wrapped is a client type of the application's own that embeds a go-redis
// client: New still finds its options.
type wrapped struct{ *redis.Client }

// TestNew checks which clients and configurations New accepts. It needs no
// server: go-redis connects lazily.
func TestNew(t *testing.T) {
	t.Parallel()
	addrs := []string{"127.0.0.1:1"}
	two := []string{"127.0.0.1:1", "127.0.0.1:2"}
	on := true
	cfg := redisstore.Config{Prefix: "app:"}
	tests := []struct {
		name   string
		client redis.UniversalClient
		cfg    redisstore.Config
		want   error  // nil: accepted
		says   string // in the error's text
	}{
		// Accepted.
		{"plain", redis.NewClient(&redis.Options{Addr: addrs[0], ContextTimeoutEnabled: on}), cfg, nil, ""},
		{"cluster", redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: on}), cfg, nil, ""},
		{"failover", redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "m", SentinelAddrs: addrs, ContextTimeoutEnabled: on}), cfg, nil, ""},
		{"failover cluster", redis.NewFailoverClusterClient(&redis.FailoverOptions{MasterName: "m", SentinelAddrs: addrs, ContextTimeoutEnabled: on}), cfg, nil, ""},
		{"universal single", redis.NewUniversalClient(&redis.UniversalOptions{Addrs: addrs, ContextTimeoutEnabled: on}), cfg, nil, ""},
		{"universal cluster", redis.NewUniversalClient(&redis.UniversalOptions{Addrs: two, ContextTimeoutEnabled: on}), cfg, nil, ""},
		{"universal failover", redis.NewUniversalClient(&redis.UniversalOptions{Addrs: addrs, MasterName: "m", ContextTimeoutEnabled: on}), cfg, nil, ""},
		{"embedded client", wrapped{redis.NewClient(&redis.Options{Addr: addrs[0], ContextTimeoutEnabled: on})}, cfg, nil, ""},
		{"no prefix, opted out", redis.NewClient(&redis.Options{Addr: addrs[0], ContextTimeoutEnabled: on}), redisstore.Config{InsecureNoPrefix: true}, nil, ""},

		// No prefix.
		{"no prefix", redis.NewClient(&redis.Options{Addr: addrs[0], ContextTimeoutEnabled: on}), redisstore.Config{}, redisstore.ErrNoPrefix, "name the application"},

		// Replica reads.
		{"cluster ReadOnly", redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ReadOnly: true, ContextTimeoutEnabled: on}), cfg, redisstore.ErrReplicaReads, "ReadOnly"},
		{"cluster RouteByLatency", redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, RouteByLatency: true, ContextTimeoutEnabled: on}), cfg, redisstore.ErrReplicaReads, "RouteByLatency"},
		{"cluster RouteRandomly", redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, RouteRandomly: true, ContextTimeoutEnabled: on}), cfg, redisstore.ErrReplicaReads, "RouteRandomly"},
		{"failover cluster ReplicaOnly", redis.NewFailoverClusterClient(&redis.FailoverOptions{MasterName: "m", SentinelAddrs: addrs, ReplicaOnly: true, ContextTimeoutEnabled: on}), cfg, redisstore.ErrReplicaReads, ""},
		{"failover cluster RouteRandomly", redis.NewFailoverClusterClient(&redis.FailoverOptions{MasterName: "m", SentinelAddrs: addrs, RouteRandomly: true, ContextTimeoutEnabled: on}), cfg, redisstore.ErrReplicaReads, ""},
		{"universal ReadOnly", redis.NewUniversalClient(&redis.UniversalOptions{Addrs: two, ReadOnly: true, ContextTimeoutEnabled: on}), cfg, redisstore.ErrReplicaReads, "ReadOnly"},

		// No ContextTimeoutEnabled, on every kind of client.
		{"plain without ContextTimeoutEnabled", redis.NewClient(&redis.Options{Addr: addrs[0]}), cfg, redisstore.ErrUnsafeClient, "ContextTimeoutEnabled"},
		{"cluster without ContextTimeoutEnabled", redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs}), cfg, redisstore.ErrUnsafeClient, "ContextTimeoutEnabled"},
		{"failover without ContextTimeoutEnabled", redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "m", SentinelAddrs: addrs}), cfg, redisstore.ErrUnsafeClient, "ContextTimeoutEnabled"},
		{"failover cluster without ContextTimeoutEnabled", redis.NewFailoverClusterClient(&redis.FailoverOptions{MasterName: "m", SentinelAddrs: addrs}), cfg, redisstore.ErrUnsafeClient, "ContextTimeoutEnabled"},
		{"universal single without ContextTimeoutEnabled", redis.NewUniversalClient(&redis.UniversalOptions{Addrs: addrs}), cfg, redisstore.ErrUnsafeClient, "ContextTimeoutEnabled"},
		{"universal cluster without ContextTimeoutEnabled", redis.NewUniversalClient(&redis.UniversalOptions{Addrs: two}), cfg, redisstore.ErrUnsafeClient, "ContextTimeoutEnabled"},
		{"universal failover without ContextTimeoutEnabled", redis.NewUniversalClient(&redis.UniversalOptions{Addrs: addrs, MasterName: "m"}), cfg, redisstore.ErrUnsafeClient, "ContextTimeoutEnabled"},
		{"embedded client without ContextTimeoutEnabled", wrapped{redis.NewClient(&redis.Options{Addr: addrs[0]})}, cfg, redisstore.ErrUnsafeClient, "ContextTimeoutEnabled"},

		// Other unsafe clients.
		{"client-side cache", redis.NewClient(&redis.Options{Addr: addrs[0], Protocol: 3, ContextTimeoutEnabled: on, ClientSideCacheConfig: &redis.ClientSideCacheConfig{}}), cfg, redisstore.ErrUnsafeClient, "client-side caching"},
		{"ring", redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": addrs[0]}, ContextTimeoutEnabled: on}), cfg, redisstore.ErrUnsafeClient, "Ring"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Cleanup(func() { tt.client.Close() })
			s, err := redisstore.New(tt.client, tt.cfg)
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("New = %v, want it accepted", err)
			case tt.want == nil:
				return
			case !errors.Is(err, tt.want) || s != nil:
				t.Fatalf("New = %v, %v, want an error matching %v", s, err, tt.want)
			case !strings.Contains(err.Error(), tt.says):
				t.Errorf("New error %q does not say %q", err, tt.says)
			}
		})
	}
}
