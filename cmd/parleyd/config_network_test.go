package main

import (
	"io"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/server"
)

// TestNetworkFlags: the connection caps, body and stalled-write timeouts,
// trusted proxies and connection buffering (on by default) each have a flag and a variable; caps take off, and
// a trusted proxy is a CIDR or a bare address.
func TestNetworkFlags(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"PARLEY_MAX_CONNECTIONS":        "off",
		"PARLEY_MAX_CONNECTIONS_PER_IP": "8",
		"PARLEY_BODY_TIMEOUT":           "3s",
		"PARLEY_TRUSTED_PROXIES":        "10.0.0.0/8, 192.168.1.7,fd00::1:2/64",
		"PARLEY_BUFFER_CONNECTIONS":     "false",
	}
	cfg := mustParse(t, []string{"--stalled-write-timeout", "5s", "--max-connections-per-ip", "16"}, env)
	want := network{
		connections: server.ConnectionLimits{Total: 0, PerAddress: 16, TrustedProxies: []netip.Prefix{
			netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32"), netip.MustParsePrefix("fd00::/64"),
		}},
		bodyTimeout: 3 * time.Second, stalledWrites: 5 * time.Second,
	}
	if !reflect.DeepEqual(cfg.network, want) {
		t.Errorf("network = %+v\nwant      %+v", cfg.network, want)
	}
	if cfg, err := parseConfig(nil, func(string) string { return "" }, io.Discard); err != nil || !cfg.network.bufferConnections {
		t.Errorf("connections buffered by default: %v, %v", cfg.network.bufferConnections, err)
	}
	for _, bad := range [][]string{{"--trusted-proxies", "10.0.0.0/33"}, {"--trusted-proxies", "proxy.example"}, {"--body-timeout", "0s"}, {"--max-connections", "0"}} {
		if _, err := parseConfig(bad, func(string) string { return "" }, io.Discard); err == nil || !strings.Contains(err.Error(), bad[0][2:]) {
			t.Errorf("%q: %v, want refused, naming the flag", bad, err)
		}
	}
}
