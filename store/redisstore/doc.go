// Package redisstore is a [store.Store] on Redis, through go-redis's
// [redis.UniversalClient]: a single server, a Sentinel-managed primary, or a
// Redis Cluster. It is how several authkit servers behind a load balancer
// share sessions and tokens.
//
//	client := redis.NewClient(&redis.Options{
//		Addr:                  "127.0.0.1:6379",
//		ContextTimeoutEnabled: true,
//	})
//	s, err := redisstore.New(client, redisstore.Config{Prefix: "myapp:"})
//	if err != nil { … }
//	if err := s.Verify(ctx); err != nil { … } // at startup
//
// Redis 6.2 or later is required (for PXAT); Valkey works too.
//
// # How it maps to Redis
//
// Every operation is one command on one key, so it is one round trip, and
// Redis Cluster needs no hash tags:
//
//   - Get is GET.
//   - Set is SET key value PXAT expiry: the value and its absolute expiry
//     (Unix milliseconds) are written together. An expiry at or before now
//     is a DEL, since the entry must be absent at once.
//   - Delete is DEL.
//   - CompareAndSwap with an empty old is SET … PXAT … NX; otherwise it is a
//     short Lua script, sent with EVALSHA and, when the server's script cache
//     does not hold it (after a restart or SCRIPT FLUSH), with EVAL. Values
//     are compared byte for byte.
//
// Expiry is enforced by Redis with millisecond precision; the clocks of the
// application servers and Redis should agree (NTP).
//
// # Configuring the client
//
// The [Store] uses the client as given; these settings matter:
//
//   - ContextTimeoutEnabled: true. Without it go-redis bounds network reads
//     and writes only by ReadTimeout and WriteTimeout (3 s by default), not
//     by the request's context: a stalled Redis holds each request that
//     long. With it, an operation fails when its context's deadline passes,
//     with an error wrapping [context.DeadlineExceeded].
//   - DialTimeout, ReadTimeout, WriteTimeout: keep them short (a few hundred
//     milliseconds to a second) so a dead server is noticed quickly.
//   - PoolSize (default 10 per CPU) and MinIdleConns: size the pool for the
//     number of concurrent requests; PoolTimeout bounds the wait for a free
//     connection.
//   - MaxRetries: go-redis retries failed commands (default 3 times). The
//     Store turns this off for CompareAndSwap, whose retry after a lost reply
//     could report false for a swap that happened; such an error is returned
//     instead, as the Store contract allows. Get, Set and Delete are safe to
//     retry and keep the client's setting.
//
// Errors from Redis are wrapped ("redisstore: get: …") and matchable with
// errors.Is; only a missing key is [store.ErrNotFound].
//
// # Sentinel and Cluster
//
// For Sentinel use redis.NewFailoverClient (or redis.NewUniversalClient with
// MasterName): it always talks to the current primary. For Cluster use
// redis.NewClusterClient (or NewUniversalClient with several Addrs); keys
// spread across slots by their own hash, so leave braces out of
// [Config.Prefix].
//
// # No replica reads
//
// The Store contract is linearizable per key: a Get sees every write that
// completed before it began. Replicas apply writes asynchronously, so a read
// from a replica can return a revoked session or a rotated refresh token.
// [New] therefore refuses, with [ErrReplicaReads], a cluster client with
// ReadOnly, RouteByLatency or RouteRandomly (which NewFailoverClusterClient
// also sets for ReplicaOnly). A NewFailoverClient client with ReplicaOnly,
// or a plain client given a replica's address, cannot be told apart by its
// options: [Store.Verify] asks each node for its ROLE and refuses replicas.
//
// Failover itself can lose the last writes the old primary acknowledged,
// since Redis replicates asynchronously: a session revoked just before a
// failover may come back. Where that matters more than latency, use a SQL
// store.
package redisstore
