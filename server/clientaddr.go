package server

import (
	"context"
	"net"
	"net/http"
)

// clientIP is the client address that per-address limits count against.
// For now it is the socket's peer; behind a proxy that is the proxy, so
// this is the one place to read X-Forwarded-For from trusted proxies.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type clientIPKey struct{}

// withClientIP gives the core the client address of every request
// (clientIPFrom), whatever the protocol.
func withClientIP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientIPKey{}, clientIP(r))))
	})
}

// clientIPFrom returns the client address withClientIP recorded, "" if none.
func clientIPFrom(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey{}).(string)
	return ip
}
