// Package faultproxy is a loopback TCP proxy for fault tests of network
// stores: it sits between a client and a server (Redis, PostgreSQL, MariaDB)
// and, on command, withholds the server's replies on a connection or drops
// every connection, so that a test can make a reply go missing after the
// server has acted on the request.
package faultproxy

import (
	"bytes"
	"context"
	"net"
	"sync"
	"time"
)

// Proxy forwards connections accepted on a loopback port to a target
// address. Its methods are safe for concurrent use.
type Proxy struct {
	target string
	ln     net.Listener

	mu       sync.Mutex
	conns    map[*pair]struct{}
	marker   []byte        // armed: hold replies on the connection that sends it
	held     chan struct{} // closed when a connection starts holding
	accepted int
	closed   bool
	wg       sync.WaitGroup
}

// pair is one proxied connection. Its counters are guarded by the proxy's
// mutex.
type pair struct {
	client, server net.Conn
	holding        bool
	release        chan struct{} // closed to let held replies through
	sent           int           // chunks the client has sent
	answered       int           // sent when the server's bytes last reached the client
}

// New starts a proxy to target on 127.0.0.1 and a free port.
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{target: target, ln: ln, conns: map[*pair]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr returns the address clients connect to instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target returns the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Accepted returns how many client connections the proxy has accepted.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// HoldAfter arms the proxy: the first connection whose client sends marker
// (in one read or across two) stops passing the server's bytes to its
// client from that moment on, until [Proxy.Drop]. The request carrying the
// marker still reaches the server, which acts on it; its reply is held.
// The returned channel is closed when a connection starts holding.
func (p *Proxy) HoldAfter(marker []byte) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.marker = bytes.Clone(marker)
	p.held = make(chan struct{})
	return p.held
}

// Drop closes every connection the proxy carries, discarding held replies,
// and disarms HoldAfter. New connections are accepted as before.
func (p *Proxy) Drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.marker = nil
	for c := range p.conns {
		c.close()
		delete(p.conns, c)
	}
}

// DropBusy closes one connection whose client waits for a reply to a
// request after its first, picked at random, and reports whether there was
// one: a connection killed while the server works on a request or while
// its reply travels, the case where the client cannot know whether the
// request took effect. Connections still in their handshake (the first
// request) are spared: dropping those only makes the client fail to
// connect, and a PostgreSQL backend can take longer to start than the
// interval between drops.
func (p *Proxy) DropBusy() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns { // map order is random
		if c.sent < 2 || c.answered >= c.sent {
			continue
		}
		c.close()
		delete(p.conns, c)
		return true
	}
	return false
}

// Conns returns how many connections the proxy carries.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Close stops the proxy and closes its connections.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	err := p.ln.Close()
	p.Drop()
	p.wg.Wait()
	return err
}

func (c *pair) close() {
	c.client.Close()
	c.server.Close()
	if c.holding {
		close(c.release)
		c.holding = false
	}
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		c := &pair{client: client, server: server, release: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.close()
			return
		}
		p.conns[c] = struct{}{}
		p.accepted++
		p.mu.Unlock()
		p.wg.Add(2)
		go p.upstream(c)
		go p.downstream(c)
	}
}

// upstream copies the client's bytes to the server, watching for the
// marker. It marks the connection holding before it forwards the bytes
// that complete the marker, so that no byte of the reply slips through.
func (p *Proxy) upstream(c *pair) {
	defer p.wg.Done()
	defer p.forget(c)
	buf := make([]byte, 64<<10)
	var tail []byte // the last bytes of the previous read, for a marker split across reads
	for {
		n, err := c.client.Read(buf)
		if n > 0 {
			p.watch(c, append(tail, buf[:n]...))
			if _, werr := c.server.Write(buf[:n]); werr != nil {
				return
			}
			tail = lastBytes(append(tail, buf[:n]...), 256)
		}
		if err != nil {
			return
		}
	}
}

func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return bytes.Clone(b)
}

// watch counts a chunk the client sent and starts holding c's replies if
// data contains the armed marker.
func (p *Proxy) watch(c *pair, data []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c.sent++
	if p.marker == nil || !bytes.Contains(data, p.marker) {
		return
	}
	p.marker = nil
	c.holding = true
	close(p.held)
}

// downstream copies the server's bytes to the client, except while the
// connection holds: then it keeps what it read until the connection is
// dropped.
func (p *Proxy) downstream(c *pair) {
	defer p.wg.Done()
	defer p.forget(c)
	buf := make([]byte, 64<<10)
	for {
		n, err := c.server.Read(buf)
		if n > 0 {
			p.mu.Lock()
			holding, release := c.holding, c.release
			if !holding {
				c.answered = c.sent
			}
			p.mu.Unlock()
			if holding {
				<-release
				return // dropped: the held bytes are discarded
			}
			if _, werr := c.client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// forget closes c and removes it from the proxy's set.
func (p *Proxy) forget(c *pair) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.conns[c]; ok {
		c.close()
		delete(p.conns, c)
	}
}

// Repeat calls f again and again until ctx ends, waiting next() before each
// call: with f dropping a proxy's connections, a fault for
// storetest.LinearizabilityConfig.
func Repeat(ctx context.Context, next func() time.Duration, f func()) {
	for {
		t := time.NewTimer(next())
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
			f()
		}
	}
}
