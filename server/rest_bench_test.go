package server_test

import (
	"net/http"
	"testing"

	"github.com/parley-chat/parley/server"
)

// BenchmarkRESTOverhead serves helloworld.Greeter/SayHello with an empty
// name (0 B) in process as Connect proto, gRPC and binary gRPC-Web through
// server.New (no CORS origins) with the REST transcoder ("rest") and
// without it ("norest", server.WithoutREST): the difference per call is
// what serving REST from the same handler costs the other protocols.
// Wall-clock ns/op is noise on a shared machine; count instructions under
// callgrind instead (`task bench:rest-overhead`, docs/BENCHMARKS.md).
func BenchmarkRESTOverhead(b *testing.B) {
	handlers := []struct {
		name string
		h    http.Handler
	}{
		{"rest", server.New(nil, nil, server.WithAllowedOrigins(nil))},
		{"norest", server.WithoutREST(server.New(nil, nil, server.WithAllowedOrigins(nil)))},
	}
	for _, call := range sayHelloCalls("", false) {
		for _, h := range handlers {
			b.Run(call.name+"/"+h.name, func(b *testing.B) { benchmarkCall(b, h.h, call) })
		}
	}
}
