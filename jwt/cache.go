package jwt

import (
	"sync"
	"sync/atomic"
)

// tokenCache maps the exact text of verified tokens to their verification
// outcome. Reads take no lock (sync.Map), so every core can hit the same
// hot token at once. The size is bounded: an insert into a full cache first
// evicts, under a lock only one goroutine holds; an insert that finds the
// cache full while another goroutine is evicting is simply skipped, so the
// cache never holds more than max entries plus the inserts in flight.
type tokenCache struct {
	m     sync.Map // string → *entry
	n     atomic.Int64
	max   int64
	evict sync.Mutex
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: int64(max)}
}

func (c *tokenCache) get(tok string) *entry {
	if v, ok := c.m.Load(tok); ok {
		return v.(*entry)
	}
	return nil
}

func (c *tokenCache) put(tok string, e *entry) {
	if c.n.Load() >= c.max {
		if !c.evict.TryLock() {
			return
		}
		c.evictLocked()
		c.evict.Unlock()
		if c.n.Load() >= c.max {
			return
		}
	}
	if _, loaded := c.m.Swap(tok, e); !loaded {
		c.n.Add(1)
	}
}

func (c *tokenCache) remove(tok string, e *entry) {
	if c.m.CompareAndDelete(tok, e) {
		c.n.Add(-1)
	}
}

// clear drops every entry, after a key was retired or a remote set lost or
// changed one.
func (c *tokenCache) clear() {
	c.evict.Lock()
	defer c.evict.Unlock()
	c.m.Range(func(k, v any) bool {
		if c.m.CompareAndDelete(k, v) {
			c.n.Add(-1)
		}
		return true
	})
}

// evictLocked removes about an eighth of the entries (at least one). A
// sync.Map ranges in an order unrelated to insertion, so this is close to
// random eviction: cheap, and impossible for a client to steer.
func (c *tokenCache) evictLocked() {
	target := c.max - c.max/8 - 1
	c.m.Range(func(k, v any) bool {
		if c.m.CompareAndDelete(k, v) {
			c.n.Add(-1)
		}
		return c.n.Load() > target
	})
}

// len reports the number of cached tokens.
func (c *tokenCache) len() int { return int(c.n.Load()) }
