package main

import (
	"errors"
	"flag"
	"net/netip"
	"strings"
	"time"

	"github.com/parley-chat/parley/server"
)

// network is the configuration of what parleyd takes from the network
// before any account is involved: connection caps, how long a request body
// may trickle in, how long a response write may wait for a client that
// does not read, the proxies whose X-Forwarded-For is believed, and
// whether connections are buffered.
type network struct {
	connections       server.ConnectionLimits
	bodyTimeout       time.Duration
	stalledWrites     time.Duration
	bufferConnections bool
}

// networkFlags registers the flags of n, each defaulting to the server
// package's default.
func networkFlags(fs *flag.FlagSet, n *network) {
	n.connections = server.ConnectionLimits{Total: server.DefaultMaxConnections, PerAddress: server.DefaultMaxConnectionsPerIP}
	fs.Var(capValue[int]{&n.connections.Total}, "max-connections", "open connections at once, from all clients: a `number`, or off")
	fs.Var(capValue[int]{&n.connections.PerAddress}, "max-connections-per-ip", "open connections at once from one client address (IPv6: one /64), not counting trusted proxies: a `number`, or off")
	n.bodyTimeout = server.DefaultBodyTimeout
	fs.Var((*positiveDuration)(&n.bodyTimeout), "body-timeout", "longest `duration` a request body may take to arrive (unary calls, a stream's request; not Chat or Upload frames)")
	n.stalledWrites = server.DefaultStalledWriteTimeout
	fs.Var((*positiveDuration)(&n.stalledWrites), "stalled-write-timeout", "longest `duration` one response write may wait for a client that does not read; the stream is then dropped")
	fs.BoolVar(&n.bufferConnections, "buffer-connections", true, "buffer each connection's reads and coalesce its writes, for fewer syscalls per HTTP/2 frame; false for the plain socket")
	fs.Var(prefixList{&n.connections.TrustedProxies}, "trusted-proxies", "comma-separated `CIDRs` (or addresses) of proxies whose X-Forwarded-For names the client address of per-address limits; empty for none")
}

// prefixList points to a list of network prefixes: comma-separated CIDRs,
// a bare address meaning itself alone. (A struct, so that its zero value
// prints as "".)
type prefixList struct{ p *[]netip.Prefix }

func (v prefixList) String() string {
	if v.p == nil {
		return ""
	}
	s := make([]string, len(*v.p))
	for i, p := range *v.p {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func (v prefixList) Set(s string) error {
	var out []netip.Prefix
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		p, err := netip.ParsePrefix(item)
		if err != nil {
			a, aerr := netip.ParseAddr(item)
			if aerr != nil {
				return errors.New("not a comma-separated list of CIDRs such as 10.0.0.0/8,fd00::/8")
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	*v.p = out
	return nil
}
