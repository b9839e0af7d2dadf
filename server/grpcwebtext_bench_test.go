package server_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/gen/helloworld"
	"github.com/parley-chat/parley/gen/helloworld/helloworldconnect"
	"github.com/parley-chat/parley/server"
)

// BenchmarkSayHelloProtocols serves helloworld.Greeter/SayHello in process
// through server.New (every middleware; no CORS origins, so only the
// handler's own work counts) with each protocol's content type. Text
// against binary gRPC-Web is what the gRPC-Web text translation costs; the
// other rows show that its check costs the other protocols nothing
// (compare them with the tree before it, or under callgrind: see
// docs/BENCHMARKS.md).
func BenchmarkSayHelloProtocols(b *testing.B) {
	h := server.New(nil, nil, server.WithAllowedOrigins(nil))
	msg, _ := proto.Marshal(&helloworld.HelloRequest{Name: "bench"})
	frame := envelope(0, msg)
	for _, p := range []struct {
		name, contentType string
		body              []byte
	}{
		{"connect", "application/proto", msg},
		{"grpc", "application/grpc", frame},
		{"grpcweb", "application/grpc-web+proto", frame},
		{"grpcweb-text", "application/grpc-web-text", []byte(base64.StdEncoding.EncodeToString(frame))},
	} {
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodPost, helloworldconnect.GreeterSayHelloProcedure, bytes.NewReader(p.body))
				r.Header.Set("Content-Type", p.contentType)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK || w.Body.Len() == 0 {
					b.Fatal(w.Code, w.Body.String())
				}
			}
		})
	}
}
