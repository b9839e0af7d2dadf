package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/gen/helloworld"
	"github.com/parley-chat/parley/gen/helloworld/helloworldconnect"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
	"github.com/parley-chat/parley/internal/testserver"
	"github.com/parley-chat/parley/server"
)

// textTransport makes a connect-go gRPC-Web client (proto codec) speak
// gRPC-Web text, as the official JavaScript client does by default: the
// request body goes out in base64, one padded run per chunk the client
// writes (so a stream's messages are separate runs), and the response is
// decoded in 4-character groups as it arrives. It records the content type
// each text response was answered with.
type textTransport struct {
	base        http.RoundTripper
	contentType string // application/grpc-web-text or application/grpc-web-text+proto

	mu       sync.Mutex
	answered []string
}

func (tt *textTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Content-Type") != "application/grpc-web+proto" {
		return tt.base.RoundTrip(req)
	}
	req = req.Clone(req.Context())
	req.Header.Set("Content-Type", tt.contentType)
	req.Header.Set("Accept", "application/grpc-web-text")
	if req.Body != nil && req.Body != http.NoBody {
		req.Body, req.ContentLength, req.GetBody = base64Runs(req.Body), -1, nil
	}
	res, err := tt.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	ct := res.Header.Get("Content-Type")
	tt.mu.Lock()
	tt.answered = append(tt.answered, ct)
	tt.mu.Unlock()
	if strings.HasPrefix(ct, "application/grpc-web-text") {
		res.Header.Set("Content-Type", "application/grpc-web+proto")
		res.Body, res.ContentLength = &groupDecoder{r: res.Body}, -1
	}
	return res, nil
}

// base64Runs encodes each chunk read from body as its own padded run.
func base64Runs(body io.ReadCloser) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		defer body.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := body.Read(buf)
			if n > 0 {
				if _, werr := io.WriteString(pw, base64.StdEncoding.EncodeToString(buf[:n])); werr != nil {
					return
				}
			}
			if err == io.EOF {
				_ = pw.Close()
				return
			}
			if err != nil {
				_ = pw.CloseWithError(err)
				return
			}
		}
	}()
	return pr
}

// groupDecoder decodes base64 one 4-character group at a time, so padded
// runs may follow each other, and returns each group's bytes at once.
type groupDecoder struct {
	r       io.ReadCloser
	in, out []byte
	err     error
}

func (d *groupDecoder) Read(p []byte) (int, error) {
	for len(d.out) == 0 {
		if d.err != nil {
			return 0, d.err
		}
		buf := make([]byte, 4096)
		n, err := d.r.Read(buf)
		d.in = append(d.in, buf[:n]...)
		for len(d.in) >= 4 && d.err == nil {
			group, derr := base64.StdEncoding.DecodeString(string(d.in[:4]))
			d.out, d.in, d.err = append(d.out, group...), d.in[4:], derr
		}
		if d.err == nil && err != nil {
			if errors.Is(err, io.EOF) && len(d.in) > 0 {
				err = fmt.Errorf("response ends inside a base64 group: %q", d.in)
			}
			d.err = err
		}
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
}

func (d *groupDecoder) Close() error { return d.r.Close() }

// textClients are the text-mode clients of srv over every transport,
// alternating the two text content types.
func textClients(srv *testserver.Server) []testserver.Client {
	var out []testserver.Client
	for _, c := range srv.Clients() {
		if c.Protocol != "grpcweb" || c.Codec != "proto" {
			continue
		}
		for _, ct := range []string{"application/grpc-web-text", "application/grpc-web-text+proto"} {
			tc := c
			tc.Name = strings.TrimPrefix(ct, "application/") + "/" + c.HTTP
			tc.Client = &http.Client{Transport: &textTransport{base: c.Client.Transport, contentType: ct}}
			out = append(out, tc)
		}
	}
	return out
}

// TestGRPCWebText runs the calls a browser frontend makes over gRPC-Web
// text, on HTTP/1.1, h2c and TLS, with both text content types: unary
// calls and their errors with details, a live Subscribe, and a stream's
// deadline.
func TestGRPCWebText(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	for _, c := range textClients(srv) {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			tt := c.Client.Transport.(*textTransport)
			ctx := rpcContext(t)

			t.Run("SayHello", func(t *testing.T) {
				greeter := helloworldconnect.NewGreeterClient(c.Client, c.BaseURL, c.Options...)
				res, err := greeter.SayHello(ctx, connect.NewRequest(&helloworld.HelloRequest{Name: "text"}))
				if err != nil {
					t.Fatal(err)
				}
				if got := res.Msg.GetMessage(); got != "Hello text" {
					t.Errorf("message %q", got)
				}
				tt.mu.Lock()
				defer tt.mu.Unlock()
				if got := tt.answered[len(tt.answered)-1]; got != tt.contentType {
					t.Errorf("answered with Content-Type %q, want %q", got, tt.contentType)
				}
			})

			u := testserver.SignUp(t, c, "text-"+strings.NewReplacer("/", "-", "+", "-").Replace(strings.TrimPrefix(c.Name, "grpc-web-")))
			room, err := u.Rooms.CreateRoom(ctx, connect.NewRequest(&parleyv1.CreateRoomRequest{Name: u.User.GetUsername()}))
			if err != nil {
				t.Fatal(err)
			}
			roomID := room.Msg.GetRoom().GetId()

			t.Run("ErrEmptyText", func(t *testing.T) {
				_, err := u.Messages.SendMessage(ctx, connect.NewRequest(&parleyv1.SendMessageRequest{RoomId: roomID, ClientMessageId: "empty"}))
				wantFieldViolations(t, err, "text")
			})

			t.Run("SubscribeLive", func(t *testing.T) {
				stream := (&rpcFixture{ctx: ctx}).subscribe(t, u.Services, roomID, 0)
				<-stream.opened
				for i := range 3 {
					text := fmt.Sprint("live ", i)
					start := time.Now()
					if _, err := u.Messages.SendMessage(ctx, connect.NewRequest(&parleyv1.SendMessageRequest{
						RoomId: roomID, Text: text, ClientMessageId: fmt.Sprint("live-", i),
					})); err != nil {
						t.Fatal(err)
					}
					select {
					case ev := <-stream.events:
						if got := ev.GetMessage().GetText(); got != text {
							t.Fatalf("event %v, want message %q", ev, text)
						}
						t.Logf("message %d arrived %v after its SendMessage was sent", i, time.Since(start).Round(time.Microsecond))
					case <-time.After(time.Second):
						t.Fatalf("message %d not delivered within 1 s", i)
					}
				}
			})

			t.Run("ErrDeadlineExceeded", func(t *testing.T) {
				ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
				defer cancel()
				stream, err := u.Messages.Subscribe(ctx, connect.NewRequest(&parleyv1.SubscribeRequest{RoomId: roomID, SinceSeq: 3}))
				if err != nil {
					t.Fatal(err)
				}
				for stream.Receive() {
				}
				wantConnectCode(t, stream.Err(), connect.CodeDeadlineExceeded)
			})
		})
	}
}

// TestGRPCWebTextStreamsLikeBinary: gRPC-Web text serves client and bidi
// streams exactly as binary gRPC-Web does, since it is only an encoding of
// it. On HTTP/1.1 connect-go refuses bidi streams (505) for both; on
// HTTP/2 the Chat stream is served in either.
func TestGRPCWebTextStreamsLikeBinary(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	for _, c := range textClients(srv) {
		if strings.HasSuffix(c.Name, "+proto/"+c.HTTP) {
			continue // one text type is enough here
		}
		binary := srv.Client(t, "grpcweb/proto/"+c.HTTP)
		t.Run(c.HTTP, func(t *testing.T) {
			t.Parallel()
			var codes [2]connect.Code
			var acks [2]string
			for i, client := range []testserver.Client{binary, c} {
				u := testserver.SignUp(t, client, fmt.Sprintf("chatter%d-%s", i, c.HTTP))
				room, err := u.Rooms.CreateRoom(rpcContext(t), connect.NewRequest(&parleyv1.CreateRoomRequest{Name: u.User.GetUsername()}))
				if err != nil {
					t.Fatal(err)
				}
				stream := u.Messages.Chat(rpcContext(t))
				_ = stream.Send(&parleyv1.ChatRequest{FrameId: "1", Frame: &parleyv1.ChatRequest_Join{Join: &parleyv1.ChatJoin{RoomId: room.Msg.GetRoom().GetId()}}})
				for {
					res, err := stream.Receive()
					if err != nil {
						codes[i] = connect.CodeOf(err)
						break
					}
					if ack := res.GetAck(); ack != nil {
						acks[i] = ack.GetFrameId()
						break
					}
				}
				_ = stream.CloseRequest()
				_ = stream.CloseResponse()
			}
			if codes[0] != codes[1] || acks[0] != acks[1] {
				t.Errorf("binary: code %v ack %q; text: code %v ack %q", codes[0], acks[0], codes[1], acks[1])
			}
			if want := map[bool]string{true: "", false: "1"}[c.HTTP == "http1"]; acks[1] != want {
				t.Errorf("text Chat over %s: ack %q, want %q (code %v)", c.HTTP, acks[1], want, codes[1])
			}
		})
	}
}

// noStatus marks an answer without grpc-status.
const noStatus = connect.Code(999)

// textCall is one raw gRPC-Web text request and what came back.
type textCall struct {
	status  int
	header  http.Header
	frames  [][]byte // data frames, decoded
	code    connect.Code
	message string
}

// callText posts body, as is, to procedure and decodes the answer.
func callText(t *testing.T, client *http.Client, baseURL, procedure string, header http.Header, body io.Reader) textCall {
	t.Helper()
	req, err := http.NewRequestWithContext(rpcContext(t), http.MethodPost, baseURL+procedure, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/grpc-web-text")
	req.Header.Set("X-Grpc-Web", "1")
	for k, v := range header {
		req.Header[k] = v
	}
	res, raw := testserver.Do(t, client, req)
	call := textCall{status: res.StatusCode, header: res.Header, code: noStatus}
	decoded, err := io.ReadAll(&groupDecoder{r: io.NopCloser(bytes.NewReader(raw))})
	if err != nil {
		t.Fatalf("response is not base64 in 4-character groups: %v: %q", err, raw)
	}
	status, message := res.Header.Get("Grpc-Status"), res.Header.Get("Grpc-Message")
	for len(decoded) >= 5 {
		n := int(binary.BigEndian.Uint32(decoded[1:5]))
		if len(decoded) < 5+n {
			t.Fatalf("truncated frame in %q", decoded)
		}
		frame := decoded[5 : 5+n]
		if decoded[0]&0x80 == 0 {
			call.frames = append(call.frames, frame)
		} else {
			for line := range strings.SplitSeq(string(frame), "\r\n") {
				name, value, _ := strings.Cut(line, ":")
				switch name {
				case "grpc-status":
					status = strings.TrimSpace(value)
				case "grpc-message":
					message = strings.TrimSpace(value)
				}
			}
		}
		decoded = decoded[5+n:]
	}
	if status != "" {
		n, err := strconv.Atoi(status)
		if err != nil {
			t.Fatalf("grpc-status %q", status)
		}
		call.code = connect.Code(n)
		call.message, _ = url.PathUnescape(message)
	}
	return call
}

func b64(parts ...[]byte) string {
	var s strings.Builder
	for _, p := range parts {
		s.WriteString(base64.StdEncoding.EncodeToString(p))
	}
	return s.String()
}

// endlessReader is an endless body: prefix, then filler forever. It counts
// what the server took.
type endlessReader struct {
	prefix []byte
	filler []byte
	mu     sync.Mutex
	n      int64
}

func (r *endlessReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for n < len(p) {
		if len(r.prefix) > 0 {
			k := copy(p[n:], r.prefix)
			r.prefix, n = r.prefix[k:], n+k
			continue
		}
		n += copy(p[n:], r.filler)
	}
	r.n += int64(n)
	return n, nil
}

func (r *endlessReader) taken() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// TestGRPCWebTextHostile sends malformed and hostile gRPC-Web text bodies
// over HTTP/1.1 and h2c and checks the exact status of each: a gRPC-Web
// answer (HTTP 200, base64 body, grpc-status) and never a hang.
func TestGRPCWebTextHostile(t *testing.T) {
	t.Parallel()
	const readMax = 64 << 10
	srv := testserver.Start(t, server.WithReadMaxBytes(readMax))
	signUp, err := parleyv1connect.NewAuthServiceClient(testserver.H2CClient(), srv.URL).SignUp(rpcContext(t),
		connect.NewRequest(&parleyv1.SignUpRequest{Username: "hostile", Password: testserver.Password}))
	if err != nil {
		t.Fatal(err)
	}
	authorized := http.Header{"Authorization": {"Bearer " + signUp.Msg.GetToken()}}
	hello, _ := proto.Marshal(&helloworld.HelloRequest{Name: "hi"})
	bomb := gzipped(make([]byte, 64<<20)) // 64 MiB of zeros in 64 KiB

	cases := []struct {
		name        string
		procedure   string
		header      http.Header
		body        func() io.Reader
		wantCode    connect.Code
		wantMessage string
	}{
		{
			name: "OKPaddedRuns", procedure: helloworldconnect.GreeterSayHelloProcedure,
			// The envelope split in three runs, each padded.
			body:     func() io.Reader { e := envelope(0, hello); return strings.NewReader(b64(e[:1], e[1:5], e[5:])) },
			wantCode: 0,
		},
		{
			name: "OKLineBreaks", procedure: helloworldconnect.GreeterSayHelloProcedure,
			body: func() io.Reader {
				s := b64(envelope(0, hello))
				return strings.NewReader(s[:8] + "\r\n" + s[8:] + "\n")
			},
			wantCode: 0,
		},
		{
			name: "ErrNotBase64", procedure: helloworldconnect.GreeterSayHelloProcedure,
			body:     func() io.Reader { return strings.NewReader("AAAA!!!!") },
			wantCode: connect.CodeInvalidArgument, wantMessage: "gRPC-Web text: request body is not base64",
		},
		{
			name: "ErrPaddingInsideGroup", procedure: helloworldconnect.GreeterSayHelloProcedure,
			body:     func() io.Reader { return strings.NewReader("AA=A") },
			wantCode: connect.CodeInvalidArgument, wantMessage: "gRPC-Web text: request body is not base64",
		},
		{
			name: "ErrEndsInsideGroup", procedure: helloworldconnect.GreeterSayHelloProcedure,
			body:     func() io.Reader { return strings.NewReader(b64(envelope(0, hello))[:10]) },
			wantCode: connect.CodeInvalidArgument, wantMessage: "gRPC-Web text: request body ends inside a 4-character base64 group",
		},
		{
			name: "ErrOnlyLineBreaks", procedure: helloworldconnect.GreeterSayHelloProcedure,
			body:     func() io.Reader { return &endlessReader{filler: []byte("\r\n")} },
			wantCode: connect.CodeInvalidArgument, wantMessage: "gRPC-Web text: more than 2 line-break bytes in a row in the request body",
		},
		{
			name: "ErrEndsInsideFrame", procedure: helloworldconnect.GreeterSayHelloProcedure,
			body:     func() io.Reader { return strings.NewReader(b64(envelope(0, hello)[:8])) },
			wantCode: connect.CodeInternal, wantMessage: "protocol error: promised 4 bytes in enveloped message, got 3 bytes",
		},
		{
			name: "ErrEndsInsidePrefix", procedure: helloworldconnect.GreeterSayHelloProcedure,
			body:     func() io.Reader { return strings.NewReader(b64([]byte{0, 0, 0})) },
			wantCode: connect.CodeInternal, wantMessage: "protocol error: incomplete envelope",
		},
		{
			name: "ErrDeclaredLengthPastLimit", procedure: helloworldconnect.GreeterSayHelloProcedure,
			body: func() io.Reader {
				return strings.NewReader(b64([]byte{0, 0x40, 0, 0, 0})) // declares 1 GiB, sends nothing
			},
			wantCode: connect.CodeResourceExhausted, wantMessage: "message size 1073741824 is larger than configured max 65536",
		},
		{
			name: "ErrGzipBomb", procedure: helloworldconnect.GreeterSayHelloProcedure,
			header:   http.Header{"Grpc-Encoding": {"gzip"}},
			body:     func() io.Reader { return strings.NewReader(b64(envelope(1, bomb))) },
			wantCode: connect.CodeResourceExhausted, wantMessage: "message size 67108864 is larger than configured max 65536",
		},
		{
			name: "ErrUnauthenticatedBeforeDecoding", procedure: parleyv1connect.MessageServiceSubscribeProcedure,
			body:     func() io.Reader { return strings.NewReader("not base64 at all") },
			wantCode: connect.CodeUnauthenticated, wantMessage: "missing bearer token",
		},
		{
			name: "ErrSubscribeBodyNotBase64", procedure: parleyv1connect.MessageServiceSubscribeProcedure, header: authorized,
			body:     func() io.Reader { return strings.NewReader("not base64 at all") },
			wantCode: connect.CodeInvalidArgument, wantMessage: "gRPC-Web text: request body is not base64",
		},
	}
	for _, transport := range []struct {
		name   string
		client *http.Client
	}{{"http1", testserver.HTTP1Client()}, {"h2c", testserver.H2CClient()}} {
		for _, tc := range cases {
			t.Run(transport.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				start := time.Now()
				call := callText(t, transport.client, srv.URL, tc.procedure, tc.header, tc.body())
				if call.status != http.StatusOK || call.header.Get("Content-Type") != "application/grpc-web-text" {
					t.Fatalf("HTTP %d, Content-Type %q", call.status, call.header.Get("Content-Type"))
				}
				if call.code != tc.wantCode || !strings.Contains(call.message, tc.wantMessage) {
					t.Errorf("%v %q, want %v %q", call.code, call.message, tc.wantCode, tc.wantMessage)
				}
				if tc.wantCode == 0 {
					var reply helloworld.HelloReply
					if len(call.frames) != 1 || proto.Unmarshal(call.frames[0], &reply) != nil || reply.GetMessage() != "Hello hi" {
						t.Errorf("frames %q, want one HelloReply", call.frames)
					}
				}
				t.Logf("code %d (%v) %q in %v", call.code, call.code, call.message, time.Since(start).Round(time.Millisecond))
			})
		}
	}

	// The unary wire cap counts decoded bytes: an endless body declaring
	// a message past the limit (connect-go discards it to its end) is cut
	// off soon after the cap.
	for _, transport := range []struct {
		name   string
		client *http.Client
	}{{"http1", testserver.HTTP1Client()}, {"h2c", testserver.H2CClient()}} {
		t.Run(transport.name+"/ErrEndlessBody", func(t *testing.T) {
			t.Parallel()
			prefix := []byte(b64([]byte{0, 0x40, 0, 0, 0})) // declares 1 GiB
			body := &endlessReader{prefix: prefix, filler: []byte(b64(make([]byte, 3<<10)))}
			call := callText(t, transport.client, srv.URL, helloworldconnect.GreeterSayHelloProcedure, nil, body)
			if call.code != connect.CodeResourceExhausted {
				t.Errorf("%v %q, want resource_exhausted", call.code, call.message)
			}
			if taken := body.taken(); taken > 8<<20 {
				t.Errorf("the server took %d bytes of the endless body", taken)
			}
			t.Logf("%v %q after %d KiB of the body", call.code, call.message, body.taken()>>10)
		})
	}

	// A stream's deadline (grpc-timeout) ends it with deadline_exceeded
	// in the trailer frame, after the messages already sent.
	t.Run("h2c/ErrSubscribeDeadline", func(t *testing.T) {
		t.Parallel()
		rooms := parleyv1connect.NewRoomServiceClient(testserver.H2CClient(), srv.URL, testserver.WithToken(signUp.Msg.GetToken()))
		room, err := rooms.CreateRoom(rpcContext(t), connect.NewRequest(&parleyv1.CreateRoomRequest{Name: "deadline"}))
		if err != nil {
			t.Fatal(err)
		}
		req, _ := proto.Marshal(&parleyv1.SubscribeRequest{RoomId: room.Msg.GetRoom().GetId()})
		header := authorized.Clone()
		header.Set("Grpc-Timeout", "1S")
		start := time.Now()
		call := callText(t, testserver.H2CClient(), srv.URL, parleyv1connect.MessageServiceSubscribeProcedure, header, strings.NewReader(b64(envelope(0, req))))
		elapsed := time.Since(start)
		if call.code != connect.CodeDeadlineExceeded || elapsed < time.Second || elapsed > 5*time.Second {
			t.Errorf("%v %q after %v, want deadline_exceeded after 1 s", call.code, call.message, elapsed)
		}
		t.Logf("%v after %v", call.code, elapsed.Round(time.Millisecond))
	})
}

// TestGRPCWebTextHTTP checks the HTTP around the translation: the content
// type answered, Accept-Post on a 415, CORS preflight and exposed headers,
// and that answers which are not gRPC-Web pass through.
func TestGRPCWebTextHTTP(t *testing.T) {
	t.Parallel()
	const origin = "http://frontend.example"
	srv := testserver.Start(t, server.WithAllowedOrigins([]string{origin}))
	hello := b64(envelope(0, []byte("\x0a\x02hi")))
	post := func(t *testing.T, path, contentType, body string, header http.Header) *http.Response {
		t.Helper()
		req, _ := http.NewRequestWithContext(rpcContext(t), http.MethodPost, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		for k, v := range header {
			req.Header[k] = v
		}
		res, err := testserver.H2CClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		return res
	}
	t.Run("ContentTypeAnswered", func(t *testing.T) {
		t.Parallel()
		for _, ct := range []string{"application/grpc-web-text", "application/grpc-web-text+proto", "application/grpc-web-text+proto; charset=utf-8", "Application/GRPC-Web-Text"} {
			res := post(t, helloworldconnect.GreeterSayHelloProcedure, ct, hello, nil)
			want := strings.ToLower(strings.TrimSuffix(ct, "; charset=utf-8"))
			if got := res.Header.Get("Content-Type"); res.StatusCode != http.StatusOK || got != want {
				t.Errorf("%s: HTTP %d, Content-Type %q, want %q", ct, res.StatusCode, got, want)
			}
		}
	})
	t.Run("AcceptPost", func(t *testing.T) {
		t.Parallel()
		res := post(t, helloworldconnect.GreeterSayHelloProcedure, "text/plain", "hi", nil)
		accept := strings.Split(res.Header.Get("Accept-Post"), ", ")
		if res.StatusCode != http.StatusUnsupportedMediaType {
			t.Fatalf("HTTP %d, want 415", res.StatusCode)
		}
		for _, want := range []string{"application/grpc-web-text", "application/grpc-web-text+proto", "application/grpc-web+proto", "application/proto"} {
			if !slices.Contains(accept, want) {
				t.Errorf("Accept-Post %q lacks %s", accept, want)
			}
		}
	})
	t.Run("NotGRPCWebPassesThrough", func(t *testing.T) {
		t.Parallel()
		res := post(t, "/no.Such/Method", "application/grpc-web-text", hello, nil)
		if res.StatusCode != http.StatusNotFound || strings.HasPrefix(res.Header.Get("Content-Type"), "application/grpc-web") {
			t.Errorf("HTTP %d, Content-Type %q, want a plain 404", res.StatusCode, res.Header.Get("Content-Type"))
		}
	})
	t.Run("CORS", func(t *testing.T) {
		t.Parallel()
		req, _ := http.NewRequestWithContext(rpcContext(t), http.MethodOptions, srv.URL+parleyv1connect.MessageServiceSubscribeProcedure, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,grpc-timeout,x-grpc-web,x-user-agent")
		res, err := testserver.H2CClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != origin {
			t.Errorf("preflight: Access-Control-Allow-Origin %q", got)
		}
		allowed := strings.ToLower(res.Header.Get("Access-Control-Allow-Headers"))
		for _, h := range []string{"authorization", "content-type", "grpc-timeout", "x-grpc-web", "x-user-agent"} {
			if !strings.Contains(allowed, h) {
				t.Errorf("preflight allows %q, not %s", allowed, h)
			}
		}
		res = post(t, helloworldconnect.GreeterSayHelloProcedure, "application/grpc-web-text", hello, http.Header{"Origin": {origin}})
		exposed := strings.ToLower(res.Header.Get("Access-Control-Expose-Headers"))
		for _, h := range []string{"grpc-status", "grpc-message", "grpc-status-details-bin"} {
			if !strings.Contains(exposed, h) {
				t.Errorf("Access-Control-Expose-Headers %q lacks %s", exposed, h)
			}
		}
		if res.Header.Get("Access-Control-Allow-Origin") != origin {
			t.Errorf("call: Access-Control-Allow-Origin %q", res.Header.Get("Access-Control-Allow-Origin"))
		}
	})
}
