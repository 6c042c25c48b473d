package authkit_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/authkit/authkit"
)

func TestClientIP(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string // "" is the zero Addr
	}{
		{"peer only", "203.0.113.7:4711", nil, nil, "203.0.113.7"},
		{"header ignored without trusted proxies", "203.0.113.7:4711", []string{"198.51.100.1"}, nil, "203.0.113.7"},
		{"header ignored from an untrusted peer", "203.0.113.7:4711", []string{"198.51.100.1"}, proxies, "203.0.113.7"},
		{"one trusted proxy", "10.1.2.3:80", []string{"198.51.100.1"}, proxies, "198.51.100.1"},
		{"spoofed entries left of the real client are ignored", "10.1.2.3:80", []string{"1.1.1.1, 2.2.2.2, 198.51.100.1"}, proxies, "198.51.100.1"},
		{"a chain of trusted proxies", "10.1.2.3:80", []string{"1.1.1.1, 198.51.100.1, 10.9.9.9, 10.8.8.8"}, proxies, "198.51.100.1"},
		{"several header lines form one list", "10.1.2.3:80", []string{"1.1.1.1, 198.51.100.1", "10.9.9.9"}, proxies, "198.51.100.1"},
		{"all trusted: the leftmost", "10.1.2.3:80", []string{"10.5.5.5, 10.6.6.6"}, proxies, "10.5.5.5"},
		{"malformed hop stops at the last vouched address", "10.1.2.3:80", []string{"198.51.100.1, bogus, 10.9.9.9"}, proxies, "10.9.9.9"},
		{"malformed first hop", "10.1.2.3:80", []string{"198.51.100.1, not-an-ip"}, proxies, "10.1.2.3"},
		{"no header behind a proxy", "10.1.2.3:80", nil, proxies, "10.1.2.3"},
		{"empty list elements are skipped", "10.1.2.3:80", []string{"198.51.100.1, , 10.9.9.9"}, proxies, "198.51.100.1"},
		{"a port in the header is malformed", "10.1.2.3:80", []string{"198.51.100.1:5555"}, proxies, "10.1.2.3"},
		{"IPv6 peer", "[2001:db8::1]:443", nil, nil, "2001:db8::1"},
		{"IPv6 peer with zone", "[fe80::1%eth0]:443", nil, nil, "fe80::1"},
		{"IPv4-mapped peer is unmapped", "[::ffff:203.0.113.7]:443", nil, nil, "203.0.113.7"},
		{"IPv4-mapped peer matches an IPv4 proxy prefix", "[::ffff:10.1.2.3]:443", []string{"198.51.100.1"}, proxies, "198.51.100.1"},
		{"IPv6 proxy, mapped client", "[fd00::5]:443", []string{"::ffff:198.51.100.1"}, proxies, "198.51.100.1"},
		{"bare address", "203.0.113.7", nil, nil, "203.0.113.7"},
		{"unix socket", "@", nil, proxies, ""},
		{"empty RemoteAddr", "", []string{"198.51.100.1"}, proxies, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			got := authkit.ClientIP(r, tt.trusted)
			if tt.want == "" {
				if got.IsValid() {
					t.Fatalf("ClientIP = %v, want the zero Addr", got)
				}
				return
			}
			if got != netip.MustParseAddr(tt.want) {
				t.Fatalf("ClientIP = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestClientIPLongHeader checks that a huge forged header costs one pass:
// the walk stops at the first untrusted entry from the right.
func TestClientIPLongHeader(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.1:1"
	r.Header.Set("X-Forwarded-For", strings.Repeat("1.2.3.4, ", 100000)+"198.51.100.9")
	allocs := testing.AllocsPerRun(10, func() {
		if got := authkit.ClientIP(r, proxies); got != netip.MustParseAddr("198.51.100.9") {
			t.Fatalf("ClientIP = %v", got)
		}
	})
	if allocs > 1 {
		t.Fatalf("ClientIP allocated %v times on a long header; want at most 1", allocs)
	}
}

// FuzzClientIP checks that any header gives either the peer or an address
// written in the header, never a panic.
func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1:80", "198.51.100.1, 10.0.0.2")
	f.Add("[fd00::1]:80", "::ffff:1.2.3.4,,fe80::1%x")
	f.Add("10.0.0.1:80", ",,,")
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{"X-Forwarded-For": {xff}}}
		got := authkit.ClientIP(r, proxies)
		if !got.IsValid() {
			return
		}
		if got.Zone() != "" || got.Is4In6() {
			t.Fatalf("ClientIP = %v: zone or mapped form kept", got)
		}
		peer := authkit.ClientIP(&http.Request{RemoteAddr: remote}, nil)
		if got == peer {
			return
		}
		found := false
		for _, hop := range strings.Split(xff, ",") {
			if a, err := netip.ParseAddr(strings.TrimSpace(hop)); err == nil && a.Unmap().WithZone("") == got {
				found = true
			}
		}
		if !found {
			t.Fatalf("ClientIP = %v: neither the peer %v nor an entry of %q", got, peer, xff)
		}
	})
}

// A server behind one reverse proxy at 10.0.0.2 believes the address the
// proxy appended, and nothing a client wrote before it.
func ExampleClientIP() {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.2/32")}
	r := httptest.NewRequest("POST", "/login", nil)
	r.RemoteAddr = "10.0.0.2:51234"
	r.Header.Set("X-Forwarded-For", "127.0.0.1, 198.51.100.23") // the client forged 127.0.0.1
	fmt.Println(authkit.ClientIP(r, trusted))
	fmt.Println(authkit.ClientIP(r, nil)) // no trusted proxy: the peer
	// Output:
	// 198.51.100.23
	// 10.0.0.2
}
