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

// withClientIP gives the core the client address of every request
// (clientIPFrom), whatever the protocol.
func withClientIP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info := requestInfoFrom(r.Context()); info != nil { // observeCalls made it
			info.clientIP = clientIP(r)
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, &requestInfo{clientIP: clientIP(r)})))
	})
}

// clientIPFrom returns the client address withClientIP recorded, "" if none.
func clientIPFrom(ctx context.Context) string {
	if info := requestInfoFrom(ctx); info != nil {
		return info.clientIP
	}
	return ""
}
