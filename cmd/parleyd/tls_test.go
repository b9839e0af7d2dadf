package main

import (
	"context"
	"crypto/tls"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/parley-chat/parley/gen/helloworld"
	"github.com/parley-chat/parley/gen/helloworld/helloworldconnect"
	"github.com/parley-chat/parley/internal/testserver"
)

// TestTLS serves with --tls-cert/--tls-key: HTTP/2 by ALPN for grpc-go and
// connect-go, HTTP/1.1 for clients that ask for it.
func TestTLS(t *testing.T) {
	t.Parallel()
	certFile, keyFile, pool := testserver.SelfSignedCert(t)
	url, _ := startParleyd(t, "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("listening on %s, want https", url)
	}
	tlsConfig := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}

	conn, err := grpc.NewClient("passthrough:///"+strings.TrimPrefix(url, "https://"), grpc.WithTransportCredentials(credentials.NewTLS(tlsConfig)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var reply helloworld.HelloReply
	if err := conn.Invoke(context.Background(), helloworldconnect.GreeterSayHelloProcedure, &helloworld.HelloRequest{Name: "tls"}, &reply); err != nil || reply.GetMessage() != "Hello tls" {
		t.Fatalf("grpc-go over TLS: %v %v", reply.GetMessage(), err)
	}

	for _, proto := range []string{"HTTP/2.0", "HTTP/1.1"} {
		tr := &http.Transport{TLSClientConfig: tlsConfig.Clone(), Protocols: new(http.Protocols)}
		tr.Protocols.SetHTTP1(proto == "HTTP/1.1")
		tr.Protocols.SetHTTP2(proto == "HTTP/2.0")
		var seen string
		client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			res, err := tr.RoundTrip(r)
			if err == nil {
				seen = res.Proto
			}
			return res, err
		})}
		greeter := helloworldconnect.NewGreeterClient(client, url)
		res, err := greeter.SayHello(context.Background(), connect.NewRequest(&helloworld.HelloRequest{Name: proto}))
		if err != nil || res.Msg.GetMessage() != "Hello "+proto {
			t.Fatalf("connect over %s: %v %v", proto, res, err)
		}
		if seen != proto {
			t.Errorf("negotiated %s, want %s", seen, proto)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
