package server_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/gen/helloworld"
	"github.com/parley-chat/parley/gen/helloworld/helloworldconnect"
	"github.com/parley-chat/parley/internal/testserver"
)

func TestSayHelloConnectGoMatrix(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	for _, c := range srv.Clients() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			client := helloworldconnect.NewGreeterClient(c.Client, c.BaseURL, c.Options...)
			res, err := client.SayHello(context.Background(), connect.NewRequest(&helloworld.HelloRequest{Name: "Ada"}))
			if err != nil {
				t.Fatalf("SayHello: %v", err)
			}
			if got := res.Msg.GetMessage(); got != "Hello Ada" {
				t.Errorf("message = %q, want %q", got, "Hello Ada")
			}
		})
	}
}

func TestSayHelloGRPCGo(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	for _, tc := range []struct {
		name   string
		target string
		creds  credentials.TransportCredentials
	}{
		{"h2c", strings.TrimPrefix(srv.URL, "http://"), insecure.NewCredentials()},
		{"tls", strings.TrimPrefix(srv.TLSURL, "https://"), credentials.NewTLS(srv.TLSConfig())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			conn, err := grpc.NewClient("passthrough:///"+tc.target, grpc.WithTransportCredentials(tc.creds))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			var reply helloworld.HelloReply
			err = conn.Invoke(context.Background(), helloworldconnect.GreeterSayHelloProcedure,
				&helloworld.HelloRequest{Name: "grpc-go"}, &reply)
			if err != nil {
				t.Fatalf("SayHello: %v", err)
			}
			if reply.GetMessage() != "Hello grpc-go" {
				t.Errorf("message = %q", reply.GetMessage())
			}
		})
	}
}

// TestSayHelloCurl sends requests byte for byte as curl would.
func TestSayHelloCurl(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	procedureURL := srv.URL + helloworldconnect.GreeterSayHelloProcedure

	grpcWebFrame := func(msg proto.Message) []byte {
		b, _ := proto.Marshal(msg)
		frame := make([]byte, 5, 5+len(b))
		binary.BigEndian.PutUint32(frame[1:], uint32(len(b)))
		return append(frame, b...)
	}
	for _, tc := range []struct {
		name       string
		client     *http.Client
		method     string
		url        string
		header     map[string]string
		body       []byte
		wantStatus int
		check      func(t *testing.T, header http.Header, body []byte)
	}{
		{
			name: "ConnectJSONPostHTTP1", client: testserver.HTTP1Client(), method: http.MethodPost, url: procedureURL,
			header: map[string]string{"Content-Type": "application/json"}, body: []byte(`{"name":"curl"}`),
			wantStatus: 200,
			check:      wantBody(`{"message":"Hello curl"}`),
		},
		{
			name: "ConnectJSONPostH2C", client: testserver.H2CClient(), method: http.MethodPost, url: procedureURL,
			header: map[string]string{"Content-Type": "application/json"}, body: []byte(`{"name":"curl"}`),
			wantStatus: 200,
			check:      wantBody(`{"message":"Hello curl"}`),
		},
		{
			name: "ConnectJSONGet", client: testserver.HTTP1Client(), method: http.MethodGet,
			url:        procedureURL + "?encoding=json&message=" + url.QueryEscape(`{"name":"get"}`),
			wantStatus: 200,
			check:      wantBody(`{"message":"Hello get"}`),
		},
		{
			name: "GRPCWebFrame", client: testserver.HTTP1Client(), method: http.MethodPost, url: procedureURL,
			header: map[string]string{"Content-Type": "application/grpc-web+proto", "X-Grpc-Web": "1"},
			body:   grpcWebFrame(&helloworld.HelloRequest{Name: "web"}), wantStatus: 200,
			check: func(t *testing.T, _ http.Header, body []byte) {
				t.Helper()
				if len(body) < 5 || body[0] != 0 {
					t.Fatalf("no data frame first: %q", body)
				}
				n := binary.BigEndian.Uint32(body[1:5])
				var reply helloworld.HelloReply
				if err := proto.Unmarshal(body[5:5+n], &reply); err != nil {
					t.Fatal(err)
				}
				if reply.GetMessage() != "Hello web" {
					t.Errorf("message = %q", reply.GetMessage())
				}
				trailer := body[5+n:]
				if len(trailer) < 5 || trailer[0] != 0x80 || !bytes.Contains(bytes.ToLower(trailer), []byte("grpc-status: 0")) {
					t.Errorf("trailer frame = %q, want grpc-status: 0", trailer)
				}
			},
		},
		{
			name: "GetRootServes200", client: testserver.HTTP1Client(), method: http.MethodGet, url: srv.URL + "/",
			wantStatus: 200,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequestWithContext(t.Context(), tc.method, tc.url, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("User-Agent", "curl/8.5.0")
			req.Header.Set("Accept", "*/*")
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			res, body := testserver.Do(t, tc.client, req)
			if res.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body %q", res.StatusCode, tc.wantStatus, body)
			}
			if tc.check != nil {
				tc.check(t, res.Header, body)
			}
		})
	}
}

func wantBody(want string) func(t *testing.T, _ http.Header, body []byte) {
	return func(t *testing.T, _ http.Header, body []byte) {
		t.Helper()
		if strings.TrimSpace(string(body)) != want {
			t.Errorf("body = %s, want %s", body, want)
		}
	}
}
