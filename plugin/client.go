package plugin

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientKey names the client a request came from, for its rate buckets:
// its address, or for IPv6 the /64 it is in, as one host holds a whole
// /64. The peer's address is the client's unless the peer is one of
// Options.TrustedProxies: then X-Forwarded-For is read from the right,
// where the proxies append, and the first address that is not a trusted
// proxy is the client. What lies left of it came from the client, who can
// write anything there, and is never read.
func (h *Handler) clientKey(r *http.Request) string {
	addr, ok := peerAddr(r)
	if !ok {
		return "peer:" + r.RemoteAddr
	}
	if h.trusted(addr) {
		addr = h.forwardedFor(r, addr)
	}
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

// peerAddr returns the address of the connection's other end.
func peerAddr(r *http.Request) (netip.Addr, bool) {
	host := r.RemoteAddr
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		host = h
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return addr.Unmap().WithZone(""), true
}

func (h *Handler) trusted(addr netip.Addr) bool {
	for _, p := range h.opts.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// maxForwarded bounds the X-Forwarded-For entries read: a chain of
// trusted proxies longer than this is not a real one.
const maxForwarded = 16

// forwardedFor returns the client's address that trusted proxies
// forwarded, walking from the peer, a trusted proxy, to the left; the last
// trusted hop when the header ends, or has something that is not an
// address, before an untrusted one.
func (h *Handler) forwardedFor(r *http.Request, peer netip.Addr) netip.Addr {
	hops := r.Header.Values("X-Forwarded-For")
	client := peer
	read := 0
	for i := len(hops) - 1; i >= 0; i-- {
		rest, more := hops[i], true
		for more {
			entry := rest
			if k := strings.LastIndexByte(rest, ','); k >= 0 {
				entry, rest = rest[k+1:], rest[:k]
			} else {
				more = false
			}
			if read++; read > maxForwarded {
				return client
			}
			addr, err := netip.ParseAddr(strings.TrimSpace(entry))
			if err != nil {
				return client
			}
			client = addr.Unmap().WithZone("")
			if !h.trusted(client) {
				return client
			}
		}
	}
	return client
}
