package server_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
	"github.com/parley-chat/parley/internal/testserver"
	"github.com/parley-chat/parley/server"
)

// bombFrame returns an UploadRequest frame (chunk empty) carrying an
// unknown field of n zero bytes: it compresses about a thousandfold and
// is thrown away once decoded, so only a per-stream cap on decoded bytes
// stops a stream of them.
func bombFrame(n int) *parleyv1.UploadRequest {
	req := &parleyv1.UploadRequest{Frame: &parleyv1.UploadRequest_Chunk{}}
	req.ProtoReflect().SetUnknown(protowire.AppendBytes(protowire.AppendTag(nil, 99, protowire.BytesType), make([]byte, n)))
	return req
}

// countingTransport counts the bytes request bodies put on the wire.
type countingTransport struct {
	next http.RoundTripper
	sent *int64
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		r.Body = &countingReader{r.Body, c.sent}
	}
	return c.next.RoundTrip(r)
}

type countingReader struct {
	io.ReadCloser
	n *int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	*c.n += int64(n)
	return n, err
}

// TestUploadStreamByteCap sends a gzip'd Upload stream for a 1 MiB file
// whose frames each decode to 256 KiB of an unknown field, well within the
// per-message limit: 3,200 of them would inflate 800 MiB. The stream ends
// with resource_exhausted once it carried more than the file's size plus
// framing, one frame over, with an UploadPosition. A JSON stream of 4 MiB
// frames is cut the same way. A real 1 MiB upload, gzip'd, is not affected.
func TestUploadStreamByteCap(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	const size = 1 << 20
	const limit = size + size/16 + 64<<10 // uploadStreamLimit, binary
	for _, tc := range []struct {
		name string
		opts []connect.ClientOption
	}{
		{"grpc", []connect.ClientOption{connect.WithGRPC()}},
		{"connect", nil},
		{"grpcweb", []connect.ClientOption{connect.WithGRPCWeb()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := newFileUser(t, srv, "grpc/proto/h2c", "bomber-"+tc.name)
			var sent int64
			hc := &http.Client{Transport: countingTransport{testserver.H2CClient().Transport, &sent}}
			files := parleyv1connect.NewFileServiceClient(hc, srv.URL, append(tc.opts, testserver.WithToken(u.Token), connect.WithSendGzip())...)
			data, sum := testserver.RandomContent(size)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			// A real upload, gzip'd, in 64 KiB chunks.
			stream := files.Upload(ctx)
			_ = stream.Send(&parleyv1.UploadRequest{Frame: &parleyv1.UploadRequest_Start{Start: &parleyv1.UploadStart{Target: &parleyv1.UploadStart_Metadata{
				Metadata: &parleyv1.UploadMetadata{RoomId: u.roomID, Name: "real.bin", Size: size, Sha256: sum},
			}}}})
			for off := 0; off < size; off += 64 << 10 {
				_ = stream.Send(&parleyv1.UploadRequest{Frame: &parleyv1.UploadRequest_Chunk{Chunk: data[off : off+64<<10]}})
			}
			res, err := stream.CloseAndReceive()
			if err != nil || res.Msg.GetUpload().GetFile() == nil {
				t.Fatalf("a real gzip'd upload: %v, %v", res, err)
			}

			// The bomb: announce 1 MiB, then send frames of 256 KiB each.
			start := time.Now()
			sent = 0
			stream = files.Upload(ctx)
			_ = stream.Send(&parleyv1.UploadRequest{Frame: &parleyv1.UploadRequest_Start{Start: &parleyv1.UploadStart{Target: &parleyv1.UploadStart_Metadata{
				Metadata: &parleyv1.UploadMetadata{RoomId: u.roomID, Name: "bomb.bin", Size: size, Sha256: sum},
			}}}})
			frame := bombFrame(256 << 10)
			frames := 0
			for ; frames < 3200; frames++ {
				if err := stream.Send(frame); err != nil {
					break // the server answered: the reason comes with the response
				}
			}
			_, err = stream.CloseAndReceive()
			took := time.Since(start)
			var cerr *connect.Error
			if !errors.As(err, &cerr) || cerr.Code() != connect.CodeResourceExhausted {
				t.Fatalf("bomb: %v, want resource_exhausted", err)
			}
			var carried int64
			if _, serr := fmt.Sscanf(cerr.Message(), "upload stream carried %d bytes", &carried); serr != nil {
				t.Fatalf("bomb: message %q does not say what the stream carried", cerr.Message())
			}
			var pos *parleyv1.UploadPosition
			for _, d := range cerr.Details() {
				if v, err := d.Value(); err == nil {
					if p, ok := v.(*parleyv1.UploadPosition); ok {
						pos = p
					}
				}
			}
			t.Logf("%s: %d frames of %d KiB sent (%d KiB gzip'd on the wire) in %v; server: %q; position %v",
				tc.name, frames, len(frame.ProtoReflect().GetUnknown())>>10, sent>>10, took.Round(time.Millisecond), cerr.Message(), pos)
			if carried > limit+int64(proto.Size(frame))+5 {
				t.Errorf("the stream inflated %d bytes before it was cut, want at most the cap %d plus one frame", carried, limit)
			}
			if pos == nil || pos.GetOffset() != 0 {
				t.Errorf("position %v, want offset 0", pos)
			}
		})
	}
	t.Run("connect-json", func(t *testing.T) {
		t.Parallel()
		u := newFileUser(t, srv, "grpc/proto/h2c", "bomber-json")
		_, sum := testserver.RandomContent(16)
		// JSON drops unknown fields, so only the decoded size shows the
		// bomb: the Connect streaming protocol by hand, each envelope gzip'd.
		envelope := func(payload string) []byte {
			var z bytes.Buffer
			zw := gzip.NewWriter(&z)
			_, _ = zw.Write([]byte(payload))
			_ = zw.Close()
			out := []byte{1, 0, 0, 0, 0}
			binary.BigEndian.PutUint32(out[1:], uint32(z.Len()))
			return append(out, z.Bytes()...)
		}
		var body bytes.Buffer
		body.Write(envelope(fmt.Sprintf(`{"start":{"metadata":{"roomId":%q,"name":"bomb.json","size":"16","sha256":%q}}}`, u.roomID, sum)))
		bomb := envelope(`{"chunk":"","x":"` + strings.Repeat("a", server.DefaultReadMaxBytes-64) + `"}`)
		for range 200 {
			body.Write(bomb)
		}
		wire := body.Len()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+parleyv1connect.FileServiceUploadProcedure, &body)
		req.Header.Set("Content-Type", "application/connect+json")
		req.Header.Set("Connect-Content-Encoding", "gzip")
		req.Header.Set("Authorization", "Bearer "+u.Token)
		start := time.Now()
		res, err := testserver.H2CClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(res.Body)
		res.Body.Close()
		t.Logf("connect-json: 200 frames of 4 MiB JSON, %d KiB gzip'd, in %v: %s", wire>>10, time.Since(start).Round(time.Millisecond), bytes.TrimLeft(out[5:], "\x00"))
		if !bytes.Contains(out, []byte(`"resource_exhausted"`)) || !bytes.Contains(out, []byte("upload stream carried")) {
			t.Errorf("JSON bomb answered %q, want resource_exhausted from the stream cap", out)
		}
	})
}

// TestChatStreamByteCap sends gzip'd Chat frames that each decode to
// 900 KiB of an unknown field: the first fits the 1 MiB burst, the second
// ends the stream with resource_exhausted and the joined room's position.
func TestChatStreamByteCap(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	u := newFileUser(t, srv, "grpc/proto/h2c", "chatbomber")
	messages := parleyv1connect.NewMessageServiceClient(testserver.H2CClient(), srv.URL, connect.WithGRPC(), testserver.WithToken(u.Token), connect.WithSendGzip())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	chat := messages.Chat(ctx)
	if err := chat.Send(&parleyv1.ChatRequest{FrameId: "j", Frame: &parleyv1.ChatRequest_Join{Join: &parleyv1.ChatJoin{RoomId: u.roomID}}}); err != nil {
		t.Fatal(err)
	}
	if res, err := chat.Receive(); err != nil || res.GetAck() == nil {
		t.Fatalf("join: %v, %v", res, err)
	}
	frame := &parleyv1.ChatRequest{FrameId: "t", Frame: &parleyv1.ChatRequest_Typing{Typing: &parleyv1.ChatTyping{RoomId: u.roomID}}}
	frame.ProtoReflect().SetUnknown(protowire.AppendBytes(protowire.AppendTag(nil, 99, protowire.BytesType), make([]byte, 900<<10)))
	start := time.Now()
	sent := 0
	for ; sent < 200; sent++ {
		if err := chat.Send(frame); err != nil {
			break
		}
	}
	var err error
	for err == nil {
		_, err = chat.Receive()
	}
	var cerr *connect.Error
	if !errors.As(err, &cerr) || cerr.Code() != connect.CodeResourceExhausted || !strings.Contains(cerr.Message(), "chat stream sent more than") {
		t.Fatalf("chat bomb: %v, want resource_exhausted from the stream cap", err)
	}
	var positions []string
	for _, d := range cerr.Details() {
		if v, err := d.Value(); err == nil {
			if p, ok := v.(*parleyv1.StreamPosition); ok {
				positions = append(positions, fmt.Sprintf("%s@%d", p.GetRoomId(), p.GetLastSeq()))
			}
		}
	}
	t.Logf("chat: %d frames of 900 KiB sent before the end, %v: %q, positions %v", sent, time.Since(start).Round(time.Millisecond), cerr.Message(), positions)
	if len(positions) != 1 || positions[0] != u.roomID+"@0" {
		t.Errorf("positions %v, want %s@0", positions, u.roomID)
	}
}
