package server

import (
	"errors"
	"net"
	"net/netip"
	"sync"
)

// Default connection caps (ConnectionLimits).
const (
	DefaultMaxConnections      = 10_000
	DefaultMaxConnectionsPerIP = 256
)

// ConnectionLimits caps the connections LimitConnections accepts. A zero
// cap is no cap.
type ConnectionLimits struct {
	// Total is the most connections open at once. By default (parleyd),
	// DefaultMaxConnections (10,000), under the 20,000 open files parleyd
	// is usually allowed: each connection is one, and the database and
	// downloads need some.
	Total int
	// PerAddress is the most connections open at once from one client
	// address: an IPv4 address or an IPv6 /64 (addressKey). By default
	// (parleyd), DefaultMaxConnectionsPerIP (256).
	PerAddress int
	// TrustedProxies are exempt from PerAddress: behind a proxy every
	// connection comes from it, and which client a connection serves is
	// known only once a request arrives (X-Forwarded-For), too late to
	// refuse the connection. The proxy is trusted to cap its clients'
	// connections; its own count is capped by Total only.
	TrustedProxies []netip.Prefix
}

// LimitConnections returns a listener that accepts at most the connections
// limits allows. A connection over a cap is closed at once, before any byte
// is read or written (no TLS handshake, no HTTP answer: an HTTP/1.1 503
// would mean nothing to an HTTP/2 or TLS client), with a TCP reset rather
// than a FIN, so it leaves no socket behind in TIME_WAIT: a refusal costs
// an accept and a close. The client sees "connection reset by peer".
func LimitConnections(ln net.Listener, limits ConnectionLimits) net.Listener {
	return &limitedListener{Listener: ln, limits: limits, perAddress: make(map[string]int)}
}

type limitedListener struct {
	net.Listener
	limits ConnectionLimits

	mu         sync.Mutex
	total      int
	perAddress map[string]int // only addresses with open connections
}

// Accept returns the next connection within the caps, refusing those over.
func (l *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := l.key(c)
		if l.admit(key) {
			return &limitedConn{Conn: c, release: func() { l.release(key) }}, nil
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = c.Close()
	}
}

// key is the per-address key of c's peer; "" for a trusted proxy or a
// peer that is not an IP address (not counted per address).
func (l *limitedListener) key(c net.Conn) string {
	if l.limits.PerAddress <= 0 {
		return ""
	}
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return ""
	}
	addr := ap.Addr().Unmap()
	if isTrustedProxy(addr, l.limits.TrustedProxies) {
		return ""
	}
	return addressKey(addr)
}

func (l *limitedListener) admit(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.limits.Total > 0 && l.total >= l.limits.Total {
		return false
	}
	if key != "" && l.perAddress[key] >= l.limits.PerAddress {
		return false
	}
	l.total++
	if key != "" {
		l.perAddress[key]++
	}
	return true
}

func (l *limitedListener) release(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if key != "" {
		if l.perAddress[key]--; l.perAddress[key] == 0 {
			delete(l.perAddress, key)
		}
	}
}

// limitedConn gives its place back when it is first closed.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// CloseWrite shuts the connection's writing side, if it has one (net/http's
// lingering close of an HTTP/1.1 connection needs it).
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
