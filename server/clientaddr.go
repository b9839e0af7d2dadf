package server

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientIP is the client address that per-address limits count against,
// as its key (addressKey): the socket's peer or, when that peer is one of
// the trusted proxies, the address X-Forwarded-For names. Each proxy
// appends the address it got the request from, so the list is read from
// the right: the first address that is not a trusted proxy is the client
// (what lies left of it is the client's own say-so). A header that is
// missing, or an entry that is not an address, leaves the last trusted hop
// as the client. By default no proxy is trusted and X-Forwarded-For is
// never read.
func clientIP(r *http.Request, trusted []netip.Prefix) string {
	peer, ok := socketPeer(r.RemoteAddr)
	if !ok {
		return r.RemoteAddr
	}
	client := peer
	if isTrustedProxy(peer, trusted) {
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0 && isTrustedProxy(client, trusted); i-- {
			hop, ok := forwardedAddr(strings.TrimSpace(hops[i]))
			if !ok {
				break
			}
			client = hop
		}
	}
	return addressKey(client)
}

// socketPeer parses a RemoteAddr (host:port, as net/http sets it).
func socketPeer(remoteAddr string) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		host, _, err := net.SplitHostPort(remoteAddr)
		if err != nil {
			return netip.Addr{}, false
		}
		a, err := netip.ParseAddr(host)
		return a.Unmap(), err == nil
	}
	return ap.Addr().Unmap(), true
}

// forwardedAddr parses one X-Forwarded-For entry: an address, or an
// address and port as some proxies write it (1.2.3.4:5, [2001:db8::1]:5).
func forwardedAddr(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// isTrustedProxy reports whether a is in one of the trusted prefixes.
func isTrustedProxy(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a.WithZone("")) {
			return true
		}
	}
	return false
}

// addressKey is the key of a client address in per-address limits (and
// the per-address connection cap): an IPv4 address, or the /64 network of
// an IPv6 address (one subscriber's share, which any attacker can hop
// around in).
func addressKey(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.WithZone("").Prefix(64)
		return p.String()
	}
	return a.String()
}

// withClientIP gives the core the client address of every request
// (clientIPFrom), whatever the protocol.
func (s *Server) withClientIP(next http.Handler) http.Handler {
	return &clientIPRecorder{next: next, trusted: s.cfg.trustedProxies}
}

// clientIPRecorder is the handler withClientIP returns.
type clientIPRecorder struct {
	next    http.Handler
	trusted []netip.Prefix
}

func (c *clientIPRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if info := requestInfoFrom(r.Context()); info != nil { // observeCalls made it
		info.clientIP = clientIP(r, c.trusted)
		c.next.ServeHTTP(w, r)
		return
	}
	c.next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, &requestInfo{clientIP: clientIP(r, c.trusted)})))
}

// clientIPFrom returns the client address withClientIP recorded, as its
// addressKey, "" if none.
func clientIPFrom(ctx context.Context) string {
	if info := requestInfoFrom(ctx); info != nil {
		return info.clientIP
	}
	return ""
}
