package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/parley-chat/parley/gen/helloworld/helloworldconnect"
)

// BenchmarkRESTJSON makes SayHello with an empty name (0 B) as REST JSON
// over HTTP/1.1 semantics, in process (httptest), against the handlers of
// the grpc-gateway peer (the gateway, its loopback gRPC connection and the
// grpc-go server behind it, all in this process) and of the parley-rest
// peer (vanguard in front of server.New on SQLite), and as Connect JSON
// (the same body at the procedure's path) against that server.New alone:
// parley-rest less parley is what vanguard's REST transcoding costs. Count
// instructions
// under callgrind (docs/BENCHMARKS.md): the kernel's share, which includes
// the gateway's loopback hop, is not counted.
func BenchmarkRESTJSON(b *testing.B) {
	gateway, err := gatewayHandler()
	if err != nil {
		b.Fatal(err)
	}
	parley, closeFn, err := newParley(peerParley)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(closeFn)
	rest, err := greeterREST(parley)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name, path string
		h          http.Handler
	}{
		{peerGateway, helloworldconnect.GreeterSayHelloProcedure, gateway},
		{peerParleyREST, greeterRESTPath, rest},
		{peerParley, helloworldconnect.GreeterSayHelloProcedure, parley},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodPost, c.path, strings.NewReader("{}"))
				r.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				c.h.ServeHTTP(w, r)
				if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"Hello "`) {
					b.Fatal(w.Code, w.Body.String())
				}
			}
		})
	}
}
