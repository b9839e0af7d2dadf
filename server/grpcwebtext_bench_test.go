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
	for _, p := range sayHelloCalls("bench", true) {
		b.Run(p.name, func(b *testing.B) { benchmarkCall(b, h, p) })
	}
}

// sayHelloCall is one protocol's SayHello request.
type sayHelloCall struct {
	name, contentType string
	body              []byte
}

// sayHelloCalls are SayHello{name} as Connect proto, gRPC and binary
// gRPC-Web, and gRPC-Web text when withText.
func sayHelloCalls(name string, withText bool) []sayHelloCall {
	msg, _ := proto.Marshal(&helloworld.HelloRequest{Name: name})
	frame := envelope(0, msg)
	calls := []sayHelloCall{
		{"connect", "application/proto", msg},
		{"grpc", "application/grpc", frame},
		{"grpcweb", "application/grpc-web+proto", frame},
	}
	if withText {
		calls = append(calls, sayHelloCall{"grpcweb-text", "application/grpc-web-text", []byte(base64.StdEncoding.EncodeToString(frame))})
	}
	return calls
}

// benchmarkCall makes call against h b.N times, recorded by httptest.
func benchmarkCall(b *testing.B, h http.Handler, call sayHelloCall) {
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, helloworldconnect.GreeterSayHelloProcedure, bytes.NewReader(call.body))
		r.Header.Set("Content-Type", call.contentType)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK || w.Body.Len() == 0 {
			b.Fatal(w.Code, w.Body.String())
		}
	}
}
