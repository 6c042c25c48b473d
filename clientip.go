package authkit

import (
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP returns the address of the client that sent r, for throttling,
// audit events and device lists.
//
// Without trusted proxies it is the direct peer (r.RemoteAddr), and
// X-Forwarded-For is ignored: any client can write that header. When the
// peer is inside one of the trusted prefixes (your load balancer or reverse
// proxy), ClientIP walks X-Forwarded-For from the right — the entry the
// nearest proxy appended — past every address that is itself trusted, and
// returns the first one that is not. Entries further left are whatever the
// client chose to send and are never believed. A malformed entry stops the
// walk at the last address that could be vouched for. Several
// X-Forwarded-For header lines are read as one list, in order.
//
// IPv4-mapped IPv6 addresses are unmapped and zones dropped, so the same
// client always yields the same Addr. A RemoteAddr that holds no address
// (a Unix socket, a hand-built request) gives the zero Addr, which callers
// should treat as "unknown", not as one shared client.
//
// ClientIP does no allocation beyond what parsing the addresses needs and
// reads each header entry at most once, however long the header.
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	addr := peerAddr(r.RemoteAddr)
	if !addr.IsValid() || !inPrefixes(addr, trusted) {
		return addr
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		line := hops[i]
		for line != "" {
			var hop string
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				hop, line = line[j+1:], line[:j]
			} else {
				hop, line = line, ""
			}
			hop = strings.TrimSpace(hop)
			if hop == "" && line != "" {
				continue // "a, , b": an empty list element, as RFC 9110 §5.6.1 allows
			}
			a, err := netip.ParseAddr(hop)
			if err != nil {
				return addr // stop at the last address we can vouch for
			}
			addr = a.Unmap().WithZone("")
			if !inPrefixes(addr, trusted) {
				return addr
			}
		}
	}
	return addr
}

// peerAddr parses RemoteAddr: "host:port", "[v6]:port" or a bare address.
func peerAddr(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	if a, err := netip.ParseAddr(remote); err == nil {
		return a.Unmap().WithZone("")
	}
	// A zone in "[fe80::1%eth0]:port" is accepted by ParseAddrPort; a bare
	// bracketed address without a port is not worth supporting.
	return netip.Addr{}
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
