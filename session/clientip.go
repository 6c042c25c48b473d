package session

import (
	"context"
	"net/http"
	"net/netip"
	"strings"

	"github.com/authkit/authkit"
)

// clientIP returns the address of the client that sent r: the direct peer,
// or — when the peer is one of Config.TrustedProxies — the rightmost
// X-Forwarded-For address that is not a trusted proxy. Addresses a client
// can forge (everything left of the first untrusted hop) are never used.
func (m *Manager) clientIP(r *http.Request) string {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	var addr netip.Addr
	if err == nil {
		addr = peer.Addr()
	} else if a, err := netip.ParseAddr(r.RemoteAddr); err == nil {
		addr = a
	} else {
		return ""
	}
	addr = addr.Unmap()
	if len(m.cfg.TrustedProxies) == 0 || !m.trusted(addr) {
		return addr.String()
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
			a, err := netip.ParseAddr(strings.TrimSpace(hop))
			if err != nil {
				// A malformed hop: stop at the last address we can vouch for.
				return addr.String()
			}
			addr = a.Unmap()
			if !m.trusted(addr) {
				return addr.String()
			}
		}
	}
	return addr.String()
}

func (m *Manager) trusted(a netip.Addr) bool {
	for _, p := range m.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// emitRequest sends an event about r (which may be nil) to Config.Events.
func (m *Manager) emitRequest(r *http.Request, typ authkit.EventType, subject, reason string) {
	if m.cfg.Events == nil {
		return
	}
	ctx := context.Background()
	ip := ""
	if r != nil {
		ctx = r.Context()
		ip = m.clientIP(r)
	}
	m.emit(ctx, typ, subject, reason, ip)
}
