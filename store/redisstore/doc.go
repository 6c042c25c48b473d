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
// # The key prefix
//
// [Config.Prefix] is required and must name the application. authkit's
// keys ("sess:…", "tok:…", "rtf:…") are the same in every application, so
// two applications on one Redis database without a prefix of their own
// would share sessions and tokens: a session created by one would be
// accepted by the other, and a logout in one would end a session in the
// other. [New] refuses an empty prefix with [ErrNoPrefix], unless
// [Config.InsecureNoPrefix] says that the database belongs to this
// application alone.
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
//   - ContextTimeoutEnabled: true, required: [New] refuses a client without
//     it ([ErrUnsafeClient]). Without it go-redis bounds network reads and
//     writes only by ReadTimeout and WriteTimeout (3 s by default), not by
//     the request's context: a stalled Redis would hold each request that
//     long, and [store.WithTimeout] could not cut it short. With it, an
//     operation fails when its context's deadline passes, with an error
//     matching [context.DeadlineExceeded].
//   - DialTimeout, ReadTimeout, WriteTimeout: keep them short (a few hundred
//     milliseconds to a second) so a dead server is noticed quickly.
//   - PoolSize (default 10 per CPU) and MinIdleConns: size the pool for the
//     number of concurrent requests; PoolTimeout bounds the wait for a free
//     connection.
//   - MaxRetries: applies to reads (Get, and the EXISTS of a
//     CompareAndSwap). Writes are never retried; see "Network faults".
//   - No client-side caching (ClientSideCacheConfig, ClientSideCache): a
//     cached read can miss another server's write, so [New] refuses it.
//
// New reads these options through the client's Options method, which
// *redis.Client (also from NewFailoverClient), *redis.ClusterClient (also
// from NewFailoverClusterClient) and types embedding them have; another
// implementation of [redis.UniversalClient] is taken as it is. A
// *redis.Ring is refused: while one of its shards is down it moves that
// shard's keys to the others, and when the shard returns its old values —
// sessions revoked meanwhile — come back.
//
// Errors from Redis are wrapped ("redisstore: get: …") and matchable with
// errors.Is; only a missing key is [store.ErrNotFound]. An error caused by
// the context matches its error, [context.DeadlineExceeded] or
// [context.Canceled], also when go-redis reports the deadline as a network
// timeout.
//
// # Network faults
//
// When a connection breaks or times out after a command was sent, the
// client cannot know whether Redis ran it. go-redis then sends the command
// again (MaxRetries times). For a write that is wrong: if the first copy
// ran, the second can land after another server's write and undo it —
// server A sets a session, server B revokes it, A's SET arrives again and
// the session is back. So the Store sends every write — SET, DEL, SET NX
// and the compare-and-swap script — as a command go-redis must not send
// again (a Cmder whose NoRetry method reports true), and returns the error
// instead. What holds:
//
//   - A write that returns nil was applied exactly once.
//   - A write that returns an error was applied at most once, and its
//     outcome is unknown, as the [store.Store] contract says: it may have
//     been applied before the error or not at all — never later by a
//     retry of this Store.
//   - Reads (GET, EXISTS) keep the client's retries: reading twice changes
//     nothing.
//   - On a Redis Cluster, MOVED and ASK redirects are still followed, for
//     writes too: the node that answers with one did not run the command.
//     So is a command refused with READONLY, which a replica did not run.
//   - The same holds through a Sentinel failover client: it is a
//     *redis.Client whose retry loop honours NoRetry like a plain client's.
//   - A go-redis hook of the application that sends a command again
//     ([redis.Client.AddHook]) voids this guarantee.
//
// The cost: an error go-redis would have hidden by retrying — a dial
// failure, LOADING while Redis restarts, READONLY mid-failover — reaches
// the caller on a write, and authkit answers the request with 503 and
// Retry-After. A write after which Redis fails over can still be lost, as
// the section on Sentinel below says; it is never applied twice.
//
// The package's tests hold a write's reply back in a TCP proxy while
// another client writes, then drop the connection (single server, Cluster
// and Sentinel), and check histories of concurrent calls for
// linearizability while a proxy breaks connections every few milliseconds.
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
