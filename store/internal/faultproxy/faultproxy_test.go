package faultproxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// echoServer answers every line with the same line.
func echoServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func dial(t *testing.T, p *Proxy) (net.Conn, *bufio.Reader) {
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

func roundTrip(t *testing.T, c net.Conn, r *bufio.Reader, line string) {
	t.Helper()
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		t.Fatal(err)
	}
	got, err := r.ReadString('\n')
	if err != nil || got != line+"\n" {
		t.Fatalf("echo of %q = %q, %v", line, got, err)
	}
}

func TestProxy(t *testing.T) {
	p, err := New(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, r := dial(t, p)
	roundTrip(t, c, r, "hello")

	// The marker goes through; its echo is held.
	held := p.HoldAfter([]byte("MARK"))
	other, otherR := dial(t, p)
	roundTrip(t, other, otherR, "unrelated") // not armed by this line
	io.WriteString(c, "xMA")
	io.WriteString(c, "RKy\n") // the marker split across two writes
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("the proxy did not hold after the marker")
	}
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if got, err := r.ReadString('\n'); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read while held = %q, %v; want nothing", got, err)
	}
	roundTrip(t, other, otherR, "still flowing") // other connections are not held

	p.Drop()
	c.SetReadDeadline(time.Time{})
	if got, err := r.ReadString('\n'); err == nil || strings.Contains(got, "MARK") {
		t.Fatalf("read after Drop = %q, %v; want the connection closed, the held reply discarded", got, err)
	}
	c2, r2 := dial(t, p)
	roundTrip(t, c2, r2, "MARK again") // disarmed by Drop
	if n := p.Accepted(); n != 3 {
		t.Errorf("Accepted = %d, want 3", n)
	}
	if p.DropBusy() || p.Conns() != 1 {
		t.Errorf("DropBusy dropped a connection that waits for nothing")
	}
}

func TestDropBusy(t *testing.T) {
	// A server that answers the first line and then reads without
	// answering: the client's second request stays in flight.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		line, _ := r.ReadString('\n')
		io.WriteString(c, line)
		io.Copy(io.Discard, r)
	}()
	p, err := New(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, r := dial(t, p)
	io.WriteString(c, "handshake\n")
	if p.DropBusy() {
		t.Fatal("DropBusy dropped a connection in its first request")
	}
	if got, err := r.ReadString('\n'); err != nil || got != "handshake\n" {
		t.Fatalf("handshake = %q, %v", got, err)
	}
	if p.DropBusy() {
		t.Fatal("DropBusy dropped a connection with no request in flight")
	}
	io.WriteString(c, "request\n")
	deadline := time.Now().Add(10 * time.Second)
	for !p.DropBusy() {
		if time.Now().After(deadline) {
			t.Fatal("DropBusy never dropped the connection waiting for its reply")
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("the dropped connection still reads")
	}
}
