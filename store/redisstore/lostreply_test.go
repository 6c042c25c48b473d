package redisstore_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/store/internal/faultproxy"
	"github.com/authkit/authkit/store/redisstore"
	"github.com/authkit/authkit/store/storetest"
)

// proxies puts a faultproxy in front of every Redis node a client dials,
// creating it on the node's first dial, so that a cluster client's
// redirects to nodes it learns from CLUSTER SLOTS go through a proxy too.
type proxies struct {
	t  *testing.T
	mu sync.Mutex
	by map[string]*faultproxy.Proxy // node address → its proxy
}

func newProxies(t *testing.T) *proxies {
	ps := &proxies{t: t, by: map[string]*faultproxy.Proxy{}}
	t.Cleanup(func() {
		for _, p := range ps.all() {
			p.Close()
		}
	})
	return ps
}

func (ps *proxies) get(addr string) (*faultproxy.Proxy, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if p, ok := ps.by[addr]; ok {
		return p, nil
	}
	p, err := faultproxy.New(addr)
	if err != nil {
		return nil, err
	}
	ps.by[addr] = p
	return p, nil
}

func (ps *proxies) all() []*faultproxy.Proxy {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	out := make([]*faultproxy.Proxy, 0, len(ps.by))
	for _, p := range ps.by {
		out = append(out, p)
	}
	return out
}

// dial is a go-redis Dialer that connects through the node's proxy.
func (ps *proxies) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	p, err := ps.get(addr)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	return d.DialContext(ctx, network, p.Addr())
}

// holdAfter arms every proxy and returns a channel closed when one of them
// holds a reply.
func (ps *proxies) holdAfter(marker string) <-chan struct{} {
	held := make(chan struct{})
	var once sync.Once
	for _, p := range ps.all() {
		ch := p.HoldAfter([]byte(marker))
		go func() {
			select {
			case <-ch:
				once.Do(func() { close(held) })
			case <-time.After(time.Minute):
			}
		}()
	}
	return held
}

func (ps *proxies) drop() {
	for _, p := range ps.all() {
		p.Drop()
	}
}

// dropBusy drops one connection waiting for a reply, of a proxy picked at
// random.
func (ps *proxies) dropBusy() {
	all := ps.all()
	for _, i := range rand.Perm(len(all)) {
		if all[i].DropBusy() {
			return
		}
	}
}

// deployment is a Redis deployment the tests reach directly and through
// proxies: a single server or a cluster.
type deployment struct {
	name string
	// client returns a client; through proxies when ps is not nil. Its
	// own timeouts are long, so that only the test decides when a held
	// reply is given up.
	client func(t *testing.T, ps *proxies) redis.UniversalClient
}

func deployments() []deployment {
	return []deployment{
		{"single", func(t *testing.T, ps *proxies) redis.UniversalClient {
			addr := storetest.Env(t, "AUTHKIT_REDIS_ADDR")
			o := &redis.Options{Addr: addr, ContextTimeoutEnabled: true, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
			if ps != nil {
				o.Dialer = ps.dial
			}
			c := redis.NewClient(o)
			t.Cleanup(func() { c.Close() })
			ping(t, c, addr)
			return c
		}},
		{"cluster", func(t *testing.T, ps *proxies) redis.UniversalClient {
			addrs := storetest.Env(t, "AUTHKIT_REDIS_CLUSTER_ADDRS")
			o := &redis.ClusterOptions{Addrs: strings.Split(addrs, ","), ContextTimeoutEnabled: true, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
			if ps != nil {
				o.Dialer = ps.dial
			}
			c := redis.NewClusterClient(o)
			t.Cleanup(func() { c.Close() })
			ping(t, c, addrs)
			return c
		}},
	}
}

var later = func() time.Time { return time.Now().Add(time.Minute) }

// TestLostReply runs each lost-reply scenario on a single Redis and on the
// Redis Cluster, A's client going through proxies that hold A's reply and
// then drop its connection. go-redis re-sends a command whose reply it
// lost; a re-sent write would land after B's and undo it.
func TestLostReply(t *testing.T) {
	t.Parallel()
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			ps := newProxies(t)
			prefix := testPrefix(t, d.client(t, nil))
			a, err := redisstore.New(d.client(t, ps), redisstore.Config{Prefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			b, err := redisstore.New(d.client(t, nil), redisstore.Config{Prefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			for i, lr := range faultproxy.LostReplies {
				t.Run(lr.Name, func(t *testing.T) {
					runLostReply(t, ps, a, b, lr, "k"+strconv.Itoa(i), prefix)
				})
			}
		})
	}
}

func runLostReply(t *testing.T, ps *proxies, a, b store.Store, lr faultproxy.LostReply, k, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if lr.Setup != nil {
		if err := lr.Setup(ctx, b, k); err != nil {
			t.Fatalf("setup: %v", err)
		}
	}
	// Before the proxies are armed, A reaches the key's node (creating
	// its proxy) and loads the swap script there with a swap that cannot
	// match. Then the marker, the key in Redis, is carried through the
	// proxies only by A's write.
	if _, err := a.Get(ctx, k); err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get through the proxy = %v", err)
	}
	if ok, err := a.CompareAndSwap(ctx, k, []byte("warm-up: no match"), []byte("x"), later()); err != nil || ok {
		t.Fatalf("CompareAndSwap through the proxy = %v, %v, want false", ok, err)
	}
	lr.Run(ctx, t, a, b, k, func() <-chan struct{} { return ps.holdAfter(prefix + k) }, ps.drop)
}

// rounds returns how many rounds the killed-connection checks run:
// AUTHKIT_LINEARIZABILITY_ROUNDS, or 2.
func rounds(t *testing.T) int {
	if v := os.Getenv("AUTHKIT_LINEARIZABILITY_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("AUTHKIT_LINEARIZABILITY_ROUNDS=%q is not a positive number", v)
		}
		return n
	}
	return 2
}

// TestLinearizableKilledConnections checks histories of 8 clients on 4
// stores (as 4 servers would share Redis), each on a client of its own
// through proxies that drop a connection waiting for a reply every 1 to
// 5 ms. Dropping one connection at a time, on six keys, keeps the failed
// writes per key few enough for the check to finish in time on a loaded
// machine.
func TestLinearizableKilledConnections(t *testing.T) {
	t.Parallel()
	for _, d := range deployments() {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			ps := newProxies(t)
			prefix := testPrefix(t, d.client(t, nil))
			stores := make([]store.Store, 4)
			for i := range stores {
				s, err := redisstore.New(d.client(t, ps), redisstore.Config{Prefix: prefix})
				if err != nil {
					t.Fatal(err)
				}
				stores[i] = s
			}

			storetest.CheckLinearizable(t, storetest.LinearizabilityConfig{
				Rounds: rounds(t),
				Keys:   6,
				Fault: func(ctx context.Context) {
					faultproxy.Repeat(ctx, func() time.Duration {
						return time.Millisecond + rand.N(4*time.Millisecond)
					}, ps.dropBusy)
				},
			}, stores...)
		})
	}
}
