package server_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"

	"github.com/parley-chat/parley/gen/helloworld"
	"github.com/parley-chat/parley/gen/helloworld/helloworldconnect"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
	"github.com/parley-chat/parley/internal/testserver"
	"github.com/parley-chat/parley/server"
)

func TestHealthServing(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	client := grpchealth.NewClient(testserver.H2CClient(), srv.URL, connect.WithGRPC())
	for _, service := range []string{"", helloworldconnect.GreeterName, parleyv1connect.AuthServiceName,
		parleyv1connect.RoomServiceName, parleyv1connect.MessageServiceName} {
		res, err := client.Check(context.Background(), &grpchealth.CheckRequest{Service: service})
		if err != nil {
			t.Fatalf("Check(%q): %v", service, err)
		}
		if res.Status != grpchealth.StatusServing {
			t.Errorf("Check(%q) = %v, want SERVING", service, res.Status)
		}
	}
	_, err := client.Check(context.Background(), &grpchealth.CheckRequest{Service: "no.such.Service"})
	if connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("Check(unknown) = %v, want not_found", err)
	}
}

func TestReflectionListsAndDescribesGreeter(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	t.Run("V1ConnectGo", func(t *testing.T) {
		client := grpcreflect.NewClient(testserver.H2CClient(), srv.URL, connect.WithGRPC())
		stream := client.NewStream(context.Background())
		defer stream.Close()
		names, err := stream.ListServices()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(names, helloworldconnect.GreeterName) {
			t.Fatalf("ListServices = %v, missing %s", names, helloworldconnect.GreeterName)
		}
		files, err := stream.FileContainingSymbol(helloworldconnect.GreeterName)
		if err != nil {
			t.Fatal(err)
		}
		if len(files) == 0 || files[0].GetName() != "helloworld/helloworld.proto" {
			t.Fatalf("FileContainingSymbol: got %d files", len(files))
		}
		svc := files[0].GetService()[0]
		if svc.GetName() != "Greeter" || svc.GetMethod()[0].GetName() != "SayHello" {
			t.Errorf("described %s.%s", svc.GetName(), svc.GetMethod()[0].GetName())
		}
	})
	t.Run("V1AlphaGRPCGo", func(t *testing.T) {
		conn, err := grpc.NewClient("passthrough:///"+strings.TrimPrefix(srv.URL, "http://"),
			grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		stream, err := reflectionv1alpha.NewServerReflectionClient(conn).ServerReflectionInfo(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		err = stream.Send(&reflectionv1alpha.ServerReflectionRequest{
			MessageRequest: &reflectionv1alpha.ServerReflectionRequest_ListServices{},
		})
		if err != nil {
			t.Fatal(err)
		}
		res, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range res.GetListServicesResponse().GetService() {
			names = append(names, s.GetName())
		}
		if !slices.Contains(names, helloworldconnect.GreeterName) {
			t.Errorf("v1alpha ListServices = %v", names)
		}
		_ = stream.CloseSend()
	})
}

func TestCORS(t *testing.T) {
	t.Parallel()
	const devOrigin = "http://localhost:5173"
	srv := testserver.Start(t, server.WithAllowedOrigins([]string{devOrigin}))
	procedure := srv.URL + helloworldconnect.GreeterSayHelloProcedure
	call := func(method, origin string, body io.Reader, header map[string]string) *http.Response {
		req, _ := http.NewRequestWithContext(t.Context(), method, procedure, body)
		req.Header.Set("Origin", origin)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		res, _ := testserver.Do(t, http.DefaultClient, req)
		return res
	}
	preflight := func(origin string) *http.Response {
		return call(http.MethodOptions, origin, nil, map[string]string{
			"Access-Control-Request-Method":  "POST",
			"Access-Control-Request-Headers": "authorization,connect-protocol-version,content-type",
		})
	}
	actual := func(origin string) *http.Response {
		return call(http.MethodPost, origin, strings.NewReader(`{"name":"x"}`), map[string]string{"Content-Type": "application/json"})
	}
	t.Run("AllowedOrigin", func(t *testing.T) {
		res := preflight(devOrigin)
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != devOrigin {
			t.Errorf("Allow-Origin = %q", got)
		}
		allowed := strings.ToLower(res.Header.Get("Access-Control-Allow-Headers"))
		for _, h := range []string{"authorization", "connect-protocol-version", "content-type"} {
			if !strings.Contains(allowed, h) {
				t.Errorf("Allow-Headers %q lacks %s", allowed, h)
			}
		}
		exposed := strings.ToLower(actual(devOrigin).Header.Get("Access-Control-Expose-Headers"))
		for _, h := range []string{"grpc-status", "grpc-message", "grpc-status-details-bin"} {
			if !strings.Contains(exposed, h) {
				t.Errorf("Expose-Headers %q lacks %s", exposed, h)
			}
		}
	})
	t.Run("DisallowedOrigin", func(t *testing.T) {
		for _, res := range []*http.Response{preflight("https://evil.example"), actual("https://evil.example")} {
			for k := range res.Header {
				if strings.HasPrefix(k, "Access-Control-") {
					t.Errorf("disallowed origin got %s: %s", k, res.Header.Get(k))
				}
			}
		}
	})
}

// TestCORSDefaultAllowsNoOrigin: by default no origin may call, not even
// the development server's.
func TestCORSDefaultAllowsNoOrigin(t *testing.T) {
	t.Parallel()
	if len(server.DefaultAllowedOrigins) != 0 {
		t.Fatalf("DefaultAllowedOrigins = %q, want none", server.DefaultAllowedOrigins)
	}
	srv := testserver.Start(t)
	for _, origin := range []string{"http://localhost:5173", "http://127.0.0.1:5173", "https://evil.example"} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodOptions, srv.URL+helloworldconnect.GreeterSayHelloProcedure, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("preflight from %s: Allow-Origin %q, want none", origin, got)
		}
	}
}

func TestErrorsOnEveryProtocol(t *testing.T) {
	t.Parallel()
	const limit = 1024
	srv := testserver.Start(t, server.WithReadMaxBytes(limit))
	for _, c := range srv.Clients() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			greeter := helloworldconnect.NewGreeterClient(c.Client, c.BaseURL, c.Options...)
			_, err := greeter.SayHello(context.Background(), connect.NewRequest(&helloworld.HelloRequest{Name: strings.Repeat("x", limit+1)}))
			if got := connect.CodeOf(err); got != connect.CodeResourceExhausted {
				t.Errorf("oversized: code %v (%v), want resource_exhausted", got, err)
			}
			_, err = greeter.SayHello(context.Background(), connect.NewRequest(&helloworld.HelloRequest{Name: strings.Repeat("x", limit-64)}))
			if err != nil {
				t.Errorf("just under the limit: %v", err)
			}
			unknown := connect.NewClient[helloworld.HelloRequest, helloworld.HelloReply](c.Client, c.BaseURL+"/helloworld.Greeter/SayGoodbye", c.Options...)
			_, err = unknown.CallUnary(context.Background(), connect.NewRequest(&helloworld.HelloRequest{}))
			if got := connect.CodeOf(err); got != connect.CodeUnimplemented {
				t.Errorf("unknown procedure: code %v (%v), want unimplemented", got, err)
			}
		})
	}
}

// TestMalformedBodies sends undecodable messages as curl would, in each
// protocol's framing, and expects invalid_argument.
func TestMalformedBodies(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	procedure := srv.URL + helloworldconnect.GreeterSayHelloProcedure
	envelope := func(b []byte) []byte {
		frame := make([]byte, 5, 5+len(b))
		binary.BigEndian.PutUint32(frame[1:], uint32(len(b)))
		return append(frame, b...)
	}
	garbage := []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f} // field 1 with an impossible length
	for _, tc := range []struct {
		name        string
		client      *http.Client
		contentType string
		body        []byte
	}{
		{"ConnectJSON", testserver.HTTP1Client(), "application/json", []byte(`{"name":`)},
		{"ConnectJSONWrongType", testserver.HTTP1Client(), "application/json", []byte(`{"name":42}`)},
		{"ConnectProto", testserver.HTTP1Client(), "application/proto", garbage},
		{"GRPC", testserver.H2CClient(), "application/grpc", envelope(garbage)},
		{"GRPCJSON", testserver.H2CClient(), "application/grpc+json", envelope([]byte(`[1,2`))},
		{"GRPCWeb", testserver.HTTP1Client(), "application/grpc-web+proto", envelope(garbage)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, procedure, bytes.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.contentType)
			if strings.HasPrefix(tc.contentType, "application/grpc") && !strings.Contains(tc.contentType, "web") {
				req.Header.Set("Te", "trailers")
			}
			res, body := testserver.Do(t, tc.client, req)
			switch {
			case strings.HasPrefix(tc.contentType, "application/grpc-web"):
				if !bytes.Contains(body, []byte("grpc-status: 3")) && res.Header.Get("Grpc-Status") != "3" {
					t.Errorf("status %d, headers %v, body %q; want grpc-status 3", res.StatusCode, res.Header, body)
				}
			case strings.HasPrefix(tc.contentType, "application/grpc"):
				status := res.Trailer.Get("Grpc-Status") + res.Header.Get("Grpc-Status")
				if status != "3" {
					t.Errorf("grpc-status %q, want 3", status)
				}
			default:
				if res.StatusCode != http.StatusBadRequest || !bytes.Contains(body, []byte(`"invalid_argument"`)) {
					t.Errorf("status %d body %s; want 400 invalid_argument", res.StatusCode, body)
				}
			}
		})
	}
}

func TestPanicIsInternalWithoutDetails(t *testing.T) {
	t.Parallel()
	err := server.RecoverPanic(server.New(nil, nil), "secret detail in a panic")
	var cerr *connect.Error
	if !errors.As(err, &cerr) || cerr.Code() != connect.CodeInternal {
		t.Fatalf("got %v, want internal", err)
	}
	if strings.Contains(cerr.Message(), "secret") {
		t.Errorf("panic detail leaked: %q", cerr.Message())
	}
}

func TestDrainTurnsHealthNotServing(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	client := grpchealth.NewClient(testserver.H2CClient(), srv.URL, connect.WithGRPC())
	srv.Handler.Drain()
	for _, service := range []string{"", parleyv1connect.MessageServiceName} {
		res, err := client.Check(context.Background(), &grpchealth.CheckRequest{Service: service})
		if err != nil || res.Status != grpchealth.StatusNotServing {
			t.Errorf("Check(%q) after Drain = %v, %v; want NOT_SERVING", service, res, err)
		}
	}
}
