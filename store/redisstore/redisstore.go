package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math"
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

// Config configures a [Store]. The zero value is valid. A Config must not be
// changed after it is passed to [New].
type Config struct {
	// Prefix is prepended to every key in Redis, so that authkit's keys
	// ("sess:…", "tok:…") do not collide with others in the same database,
	// for example "myapp:auth:". It may be any string; keep "{" and "}" out
	// of it on Redis Cluster, where a hash tag in the prefix would put every
	// key in one slot, on one node. Default: no prefix.
	Prefix string
}

// Store is a [store.Store] on Redis. It is safe for concurrent use; create
// one per client and share it.
type Store struct {
	client redis.UniversalClient
	prefix string
}

var _ store.Store = (*Store)(nil)

// New returns a Store that keeps its entries in Redis through client. It
// does no I/O; call [Store.Verify] at startup to check the server.
//
// New returns an error wrapping [ErrReplicaReads] for a client set up to
// read from replicas: a *redis.ClusterClient with ReadOnly, RouteByLatency
// or RouteRandomly set (which is also what NewFailoverClusterClient makes of
// ReplicaOnly, RouteByLatency and RouteRandomly). A client of
// NewFailoverClient with ReplicaOnly does not show it in its options; Verify
// detects it. New panics if client is nil.
func New(client redis.UniversalClient, cfg Config) (*Store, error) {
	if client == nil {
		panic("redisstore: New with a nil client")
	}
	if c, ok := client.(*redis.ClusterClient); ok {
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
			return nil, fmt.Errorf("%w: cluster client has %s set", ErrReplicaReads, strings.Join(opts, ", "))
		}
	}
	return &Store{client: client, prefix: cfg.Prefix}, nil
}

// wrap prefixes err with the operation, keeping it matchable with errors.Is.
func wrap(op string, err error) error {
	return fmt.Errorf("redisstore: %s: %w", op, err)
}

// wrapCtx is wrap for errors after I/O. When ctx is done by then, the error
// also matches ctx.Err(): go-redis reports a passed deadline as a network
// timeout, and callers should see context.DeadlineExceeded whichever way
// the deadline struck.
func wrapCtx(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("redisstore: %s: %w: %w", op, err, cerr)
	}
	return wrap(op, err)
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

// noRetry marks a command go-redis must not retry after an error. go-redis
// retries a command whose reply was lost (a broken connection, a read
// timeout); a retried SET NX or compare-and-swap script would then find its
// own write and report false for a swap that happened. With noRetry the
// caller gets the error instead, which the Store contract allows: after an
// error from a write, whether it happened is unknown.
type noRetry struct{ *redis.Cmd }

func (noRetry) NoRetry() bool { return true }

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
// expiresAt is at or before now. Expiry has millisecond precision.
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
	if !expiresAt.After(time.Now()) {
		if err := s.client.Del(ctx, s.prefix+key).Err(); err != nil {
			return wrapCtx(ctx, "set", err)
		}
		return nil
	}
	cmd := redis.NewStatusCmd(ctx, "set", s.prefix+key, value, "pxat", pxat(expiresAt))
	if err := s.client.Process(ctx, cmd); err != nil {
		return wrapCtx(ctx, "set", err)
	}
	return nil
}

// Delete implements [store.Store] with DEL.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := store.CheckKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return wrap("delete", err)
	}
	if err := s.client.Del(ctx, s.prefix+key).Err(); err != nil {
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
		cmd := redis.NewCmd(ctx, "set", k, new, "pxat", ms, "nx")
		err := s.client.Process(ctx, noRetry{cmd})
		if errors.Is(err, redis.Nil) {
			return false, nil
		}
		if err != nil {
			return false, wrapCtx(ctx, "compare and swap", err)
		}
		return true, nil
	}

	cmd := redis.NewCmd(ctx, "evalsha", casSHA, "1", k, old, new, ms)
	err := s.client.Process(ctx, noRetry{cmd})
	if err != nil && (errors.Is(err, redis.ErrNoScript) || redis.HasErrorPrefix(err, "NOSCRIPT")) {
		cmd = redis.NewCmd(ctx, "eval", casSource, "1", k, old, new, ms)
		err = s.client.Process(ctx, noRetry{cmd})
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
