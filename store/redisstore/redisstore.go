package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authkit/authkit/store"
)

// ErrReplicaReads is returned by [New] for a client configured to read from
// replicas, and by [Store.Verify] when the client reaches a replica. A replica
// lags its primary, so reading from one breaks the Store contract: a Get must
// see every write that completed before it.
var ErrReplicaReads = errors.New("redisstore: client reads from replicas")

// ErrUnsafeClient is returned by [New] for a client whose configuration
// breaks the Store contract in another way: one without
// ContextTimeoutEnabled, with a client-side cache, or a *redis.Ring. The
// error says which.
var ErrUnsafeClient = errors.New("redisstore: client configuration breaks the store contract")

// ErrNoPrefix is returned by [New] when [Config.Prefix] is empty and
// [Config.InsecureNoPrefix] is not set.
var ErrNoPrefix = errors.New("redisstore: Config.Prefix is empty; name the application in it, e.g. \"myapp:\"")

// Config configures a [Store]. Prefix is required. A Config must not be
// changed after it is passed to [New].
type Config struct {
	// Prefix is prepended to every key in Redis, and must name the
	// application, for example "myapp:auth:". authkit's own keys ("sess:…",
	// "tok:…", "rtf:…") are the same in every application, so two
	// applications sharing a Redis database without prefixes share their
	// sessions and tokens: a session of one is accepted by the other, and a
	// logout in one ends a session in the other. [New] refuses an empty
	// prefix unless InsecureNoPrefix is set. Keep "{" and "}" out of it on
	// Redis Cluster, where a hash tag in the prefix would put every key in
	// one slot, on one node.
	Prefix string

	// InsecureNoPrefix allows an empty Prefix, for a Redis database that no
	// other application will ever use. Setting it with a non-empty Prefix
	// changes nothing.
	InsecureNoPrefix bool
}

// Store is a [store.Store] on Redis. It is safe for concurrent use; create
// one per client and share it.
type Store struct {
	client redis.UniversalClient
	prefix string
}

var _ store.Store = (*Store)(nil)

// New returns a Store that keeps its entries in Redis through client. It
// does no I/O; call [Store.Verify] at startup to check the server. New
// panics if client is nil, and returns an error for a configuration that
// would break the Store contract:
//
//   - [ErrNoPrefix] for an empty [Config.Prefix] without
//     [Config.InsecureNoPrefix];
//   - [ErrReplicaReads] for a client set up to read from replicas: a
//     cluster client with ReadOnly, RouteByLatency or RouteRandomly (which is
//     also what NewFailoverClusterClient makes of ReplicaOnly, RouteByLatency
//     and RouteRandomly). A client of NewFailoverClient with ReplicaOnly does
//     not show it in its options; Verify detects it;
//   - [ErrUnsafeClient] for a client without ContextTimeoutEnabled, whose
//     calls a stalled Redis holds for ReadTimeout whatever the caller's
//     deadline (so [store.WithTimeout] could not cut them short); for a
//     client-side cache (ClientSideCacheConfig or ClientSideCache), which
//     serves reads that miss other servers' writes; and for a *redis.Ring,
//     which moves keys to another shard while one is down and so brings old
//     values back when it returns.
//
// The options are read through the client's Options method, as
// *redis.Client, *redis.ClusterClient and *redis.Ring (and types embedding
// them) have it; a UniversalClient of another kind is accepted as it is.
func New(client redis.UniversalClient, cfg Config) (*Store, error) {
	if client == nil {
		panic("redisstore: New with a nil client")
	}
	if cfg.Prefix == "" && !cfg.InsecureNoPrefix {
		return nil, ErrNoPrefix
	}
	if err := checkClient(client); err != nil {
		return nil, err
	}
	return &Store{client: client, prefix: cfg.Prefix}, nil
}

// checkClient returns the first reason client breaks the Store contract.
func checkClient(client redis.UniversalClient) error {
	switch c := client.(type) {
	case interface{ Options() *redis.RingOptions }:
		return fmt.Errorf("%w: a *redis.Ring moves keys to another shard while one is down, and brings the old values back when it returns; use a single server, Sentinel or Cluster", ErrUnsafeClient)
	case interface{ Options() *redis.ClusterOptions }:
		o := c.Options()
		var opts []string
		if o.ReadOnly {
			opts = append(opts, "ReadOnly")
		}
		if o.RouteByLatency {
			opts = append(opts, "RouteByLatency")
		}
		if o.RouteRandomly {
			opts = append(opts, "RouteRandomly")
		}
		if len(opts) > 0 {
			return fmt.Errorf("%w: cluster client has %s set", ErrReplicaReads, strings.Join(opts, ", "))
		}
		if !o.ContextTimeoutEnabled {
			return errNoContextTimeout
		}
	case interface{ Options() *redis.Options }:
		o := c.Options()
		if !o.ContextTimeoutEnabled {
			return errNoContextTimeout
		}
		if o.ClientSideCacheConfig != nil || o.ClientSideCache != nil {
			return fmt.Errorf("%w: client-side caching serves reads that miss writes made through other clients; turn it off", ErrUnsafeClient)
		}
	}
	return nil
}

var errNoContextTimeout = fmt.Errorf("%w: set ContextTimeoutEnabled in the client's options, so that a call ends when its context does instead of after ReadTimeout", ErrUnsafeClient)

// wrap prefixes err with the operation, keeping it matchable with errors.Is.
func wrap(op string, err error) error {
	return fmt.Errorf("redisstore: %s: %w", op, err)
}

// wrapCtx is wrap for errors after I/O. When the context caused the error,
// the result also matches the context's error. go-redis turns a context
// deadline into a deadline on the connection, so the error it reports is
// the network's "i/o timeout", sometimes before the context itself has
// noticed that its deadline passed: a timeout at or after the deadline is
// the deadline's doing too.
func wrapCtx(ctx context.Context, op string, err error) error {
	cerr := ctx.Err()
	if cerr == nil && isTimeout(err) {
		if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
			cerr = context.DeadlineExceeded
		}
	}
	if cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("redisstore: %s: %w: %w", op, err, cerr)
	}
	return wrap(op, err)
}

// isTimeout reports whether err is a network timeout or go-redis's wait for
// a pooled connection running out.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, redis.ErrPoolTimeout)
}

// pxat returns t as the Unix milliseconds PXAT takes. t is after now, so
// the result is positive; times past what int64 milliseconds hold (some 292
// million years away) are clamped.
func pxat(t time.Time) int64 {
	if t.Unix() >= math.MaxInt64/1000 {
		return math.MaxInt64
	}
	return t.UnixMilli()
}

// noRetry marks a command go-redis must not send again after an error.
// go-redis re-sends a command whose reply was lost (a broken connection, a
// read timeout); for a write that is wrong: the first copy may have been
// applied, and the second, arriving after another client's write, would
// undo that write (a revoked session would come back). A re-sent SET NX or
// compare-and-swap script would also find its own write and report false
// for a swap that happened. With noRetry the caller gets the error instead,
// as the Store contract requires: after an error from a write, whether it
// happened is unknown. Every write the Store makes is sent as a noRetry
// command; reads keep the client's retries.
//
// go-redis honours NoRetry in its own retry loops: a *redis.Client's
// (single server and Sentinel failover clients alike) and a
// *redis.ClusterClient's, which still follows MOVED and ASK redirects (the
// node that answers with one did not run the command) and re-routes a
// command refused with READONLY or by a closed client (not run either).
type noRetry struct{ *redis.Cmd }

func (noRetry) NoRetry() bool { return true }

// write sends a write command, never re-sent by go-redis.
func (s *Store) write(ctx context.Context, args ...any) *redis.Cmd {
	cmd := redis.NewCmd(ctx, args...)
	_ = s.client.Process(ctx, noRetry{cmd})
	return cmd
}

// Get implements [store.Store] with GET.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := store.CheckKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, wrap("get", err)
	}
	v, err := s.client.Get(ctx, s.prefix+key).Bytes()
	if err != nil {
		if errors.Is(err, redis.Nil) {
			return nil, store.ErrNotFound
		}
		return nil, wrapCtx(ctx, "get", err)
	}
	return v, nil
}

// Set implements [store.Store] with SET key value PXAT, or DEL when
// expiresAt is at or before now. Expiry has millisecond precision. After a
// lost reply Set returns the error and does not send the write again (see
// the package documentation, "Network faults").
func (s *Store) Set(ctx context.Context, key string, value []byte, expiresAt time.Time) error {
	if err := store.CheckKey(key); err != nil {
		return err
	}
	if err := store.CheckValue(value); err != nil {
		return err
	}
	if err := store.CheckExpiry(expiresAt); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return wrap("set", err)
	}
	var err error
	if !expiresAt.After(time.Now()) {
		err = s.write(ctx, "del", s.prefix+key).Err()
	} else {
		err = s.write(ctx, "set", s.prefix+key, value, "pxat", pxat(expiresAt)).Err()
	}
	if err != nil {
		return wrapCtx(ctx, "set", err)
	}
	return nil
}

// Delete implements [store.Store] with DEL, never sent twice.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := store.CheckKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return wrap("delete", err)
	}
	if err := s.write(ctx, "del", s.prefix+key).Err(); err != nil {
		return wrapCtx(ctx, "delete", err)
	}
	return nil
}

// casSource is the compare-and-swap script. KEYS[1] is the key; ARGV[1] the
// expected value (never empty); ARGV[2] the new value, or empty to delete;
// ARGV[3] the new expiry in Unix milliseconds. Lua compares strings byte for
// byte; GET of an absent or expired key returns false, which equals no
// string.
const casSource = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then
	return 0
end
if ARGV[2] == '' then
	redis.call('DEL', KEYS[1])
else
	redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
end
return 1`

// casSHA is the SHA-1 digest EVALSHA names casSource by.
var casSHA = redis.NewScript(casSource).Hash()

// CompareAndSwap implements [store.Store] in one round trip: SET NX PXAT
// when old is empty, EXISTS when old is empty and new is already expired,
// and otherwise a Lua script run with EVALSHA (EVAL when the server's script
// cache does not hold it). None of them is retried by go-redis after an
// error; see the package documentation.
func (s *Store) CompareAndSwap(ctx context.Context, key string, old, new []byte, expiresAt time.Time) (bool, error) {
	if err := store.CheckCompareAndSwap(key, old, new, expiresAt); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, wrap("compare and swap", err)
	}
	if len(old) == 0 && len(new) == 0 {
		return false, nil
	}
	k := s.prefix + key
	var ms int64
	if len(new) > 0 {
		if expiresAt.After(time.Now()) {
			ms = pxat(expiresAt)
		} else {
			new = nil // already expired: the swap leaves nothing behind
		}
	}

	if len(old) == 0 {
		if len(new) == 0 {
			// Only if absent, to a value that is absent at once: the swap
			// happens, and changes nothing, exactly when the key is absent.
			n, err := s.client.Exists(ctx, k).Result()
			if err != nil {
				return false, wrapCtx(ctx, "compare and swap", err)
			}
			return n == 0, nil
		}
		err := s.write(ctx, "set", k, new, "pxat", ms, "nx").Err()
		if errors.Is(err, redis.Nil) {
			return false, nil
		}
		if err != nil {
			return false, wrapCtx(ctx, "compare and swap", err)
		}
		return true, nil
	}

	cmd := s.write(ctx, "evalsha", casSHA, "1", k, old, new, ms)
	err := cmd.Err()
	if err != nil && (errors.Is(err, redis.ErrNoScript) || redis.HasErrorPrefix(err, "NOSCRIPT")) {
		// The server did not run the script: sending it in full is not a
		// re-send.
		cmd = s.write(ctx, "eval", casSource, "1", k, old, new, ms)
		err = cmd.Err()
	}
	if err != nil {
		return false, wrapCtx(ctx, "compare and swap", err)
	}
	n, err := cmd.Int64()
	if err != nil {
		return false, wrap("compare and swap", err)
	}
	return n == 1, nil
}

// Verify checks that the server can hold the store: every node the client
// writes to answers ROLE as a primary ("master"), and runs Redis 6.2 or
// later (for PXAT). It returns an error wrapping [ErrReplicaReads] when a
// node is a replica — a plain client pointed at a replica, or a Sentinel
// client with ReplicaOnly — and other errors as it finds them. Call it once
// at startup; the Store's methods do not.
func (s *Store) Verify(ctx context.Context) error {
	switch c := s.client.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			return verifyNode(ctx, n)
		})
	case *redis.Ring:
		return c.ForEachShard(ctx, func(ctx context.Context, n *redis.Client) error {
			return verifyNode(ctx, n)
		})
	default:
		return verifyNode(ctx, c)
	}
}

// node is what Verify needs of a client: ROLE goes through Do.
type node interface {
	Do(ctx context.Context, args ...any) *redis.Cmd
	Info(ctx context.Context, sections ...string) *redis.StringCmd
}

func verifyNode(ctx context.Context, c node) error {
	role, err := c.Do(ctx, "role").Slice()
	if err != nil {
		return wrap("verify: ROLE", err)
	}
	if len(role) == 0 {
		return errors.New("redisstore: verify: empty ROLE reply")
	}
	if r, _ := role[0].(string); r != "master" {
		return fmt.Errorf("%w: a node answers ROLE with %q", ErrReplicaReads, r)
	}
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return wrap("verify: INFO", err)
	}
	version := ""
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(line, "redis_version:"); ok {
			version = strings.TrimSpace(v)
			break
		}
	}
	if !atLeast(version, 6, 2) {
		return fmt.Errorf("redisstore: verify: server version %q; Redis 6.2 or later is required", version)
	}
	return nil
}

// atLeast reports whether version ("7.0.15") is at least major.minor.
func atLeast(version string, major, minor int) bool {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}
