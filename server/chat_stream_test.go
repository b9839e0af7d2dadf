package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/internal/testserver"
)

// bidiChat wraps a client's Chat stream with a receiver goroutine.
type bidiChat struct {
	stream *connect.BidiStreamForClient[parleyv1.ChatRequest, parleyv1.ChatResponse]
	frames chan *parleyv1.ChatResponse
	ended  chan error
}

func openBidiChat(t *testing.T, ctx context.Context, u *testserver.User) *bidiChat {
	t.Helper()
	c := &bidiChat{stream: u.Messages.Chat(ctx), frames: make(chan *parleyv1.ChatResponse, 1024), ended: make(chan error, 1)}
	if err := c.stream.Send(nil); err != nil { // open the stream now
		t.Fatalf("open chat: %v", err)
	}
	go func() {
		for {
			f, err := c.stream.Receive()
			if err != nil {
				c.ended <- err
				close(c.frames)
				return
			}
			c.frames <- f
		}
	}()
	return c
}

func (c *bidiChat) send(t *testing.T, req *parleyv1.ChatRequest) {
	t.Helper()
	if err := c.stream.Send(req); err != nil {
		t.Fatalf("send frame %s: %v", req.GetFrameId(), err)
	}
}

// next returns the next frame that is not a heartbeat or typing notice.
func (c *bidiChat) next(t *testing.T) *parleyv1.ChatResponse {
	t.Helper()
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				t.Fatalf("chat stream ended: %v", <-c.ended)
			}
			if f.GetHeartbeat() == nil && f.GetTyping() == nil {
				return f
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no chat frame within 10s")
		}
	}
}

func chatSendFrame(id, roomID, text string) *parleyv1.ChatRequest {
	return &parleyv1.ChatRequest{FrameId: id, Frame: &parleyv1.ChatRequest_Send{Send: &parleyv1.SendMessageRequest{
		RoomId: roomID, Text: text, ClientMessageId: id,
	}}}
}

func chatJoinFrame(id, roomID string, since int64) *parleyv1.ChatRequest {
	return &parleyv1.ChatRequest{FrameId: id, Frame: &parleyv1.ChatRequest_Join{Join: &parleyv1.ChatJoin{RoomId: roomID, SinceSeq: since}}}
}

// TestChatTwoClients: two people chat through one room over one bidi
// stream each, on gRPC and Connect, over h2c and TLS. Each sees its acks and
// both sides' messages in seq order; a bad frame gets its own error and the
// stream lives on.
func TestChatTwoClients(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	for _, pair := range [][2]string{
		{"grpc/proto/h2c", "connect/json/h2c"},
		{"connect/proto/tls", "grpc/json/tls"},
	} {
		t.Run(pair[0]+"+"+pair[1], func(t *testing.T) {
			t.Parallel()
			tag := fmt.Sprint(time.Now().UnixNano() % 1e9)
			ada := testserver.SignUp(t, srv.Client(t, pair[0]), "ada"+tag)
			bob := testserver.SignUp(t, srv.Client(t, pair[1]), "bob"+tag)
			roomID := ada.CreateRoom(t, "chat"+tag, parleyv1.Visibility_VISIBILITY_UNSPECIFIED).GetId()
			bob.JoinRoom(t, roomID)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			a, b := openBidiChat(t, ctx, ada), openBidiChat(t, ctx, bob)
			for _, c := range []*bidiChat{a, b} {
				c.send(t, chatJoinFrame("j", roomID, 0))
				f := c.next(t) // the replay first: bob's join, seq 1
				if j := f.GetMemberJoined(); j.GetSeq() != 1 || j.GetUser().GetId() != bob.User.GetId() {
					t.Fatalf("join replayed %v, want bob's member_joined at seq 1", f)
				}
				if ack := c.next(t).GetAck(); ack.GetFrameId() != "j" || ack.GetHeadSeq() != 1 {
					t.Fatalf("join ack = %v", ack)
				}
			}
			const rounds = 5
			for i := range rounds {
				a.send(t, chatSendFrame(fmt.Sprintf("a%d", i), roomID, fmt.Sprintf("from ada %d", i)))
				b.send(t, chatSendFrame(fmt.Sprintf("b%d", i), roomID, fmt.Sprintf("from bob %d", i)))
			}
			// A bad frame: its own error, and the stream goes on.
			a.send(t, chatSendFrame("bad", roomID, "   "))
			a.send(t, chatSendFrame("after-bad", roomID, "still here"))

			for name, c := range map[string]*bidiChat{"ada": a, "bob": b} {
				var seqs []int64
				acks := map[string]int64{}
				sawBad := false
				for len(seqs) < 2*rounds+1 || len(acks) < rounds+chatBoolInt(name == "ada") {
					f := c.next(t)
					switch {
					case f.GetMessage() != nil:
						seqs = append(seqs, f.GetMessage().GetSeq())
					case f.GetAck() != nil:
						acks[f.GetAck().GetFrameId()] = f.GetAck().GetMessage().GetSeq()
					case f.GetError() != nil:
						e := f.GetError()
						if e.GetFrameId() != "bad" || e.GetCode() != "invalid_argument" || len(e.GetFieldViolations()) == 0 || e.GetFieldViolations()[0].GetField() != "send.text" {
							t.Errorf("%s: unexpected error frame %v", name, e)
						}
						sawBad = true
					}
				}
				for i, seq := range seqs {
					if seq != int64(i+2) {
						t.Fatalf("%s saw message seqs %v, want 2..%d in order (after bob's join)", name, seqs, 2*rounds+2)
					}
				}
				if name == "ada" && (!sawBad || acks["after-bad"] == 0) {
					t.Errorf("ada: bad frame error %v, ack after it %d", sawBad, acks["after-bad"])
				}
			}
			_ = a.stream.CloseRequest()
			_ = b.stream.CloseRequest()
		})
	}
}

func chatBoolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestChatResumeAfterDrop: a chatter's stream drops at a random point while
// another sends; it rejoins with since_seq and misses nothing.
func TestChatResumeAfterDrop(t *testing.T) {
	t.Parallel()
	const total = 300
	srv := testserver.Start(t)
	sender := testserver.SignUp(t, srv.Client(t, "connect/proto/h2c"), "resumesender")
	roomID := sender.CreateRoom(t, "resume", parleyv1.Visibility_VISIBILITY_UNSPECIFIED).GetId()
	reader := sender.Via(srv.Client(t, "grpc/proto/h2c"))
	l := &ledger{acks: make(map[int64]string)}
	go func() {
		for i := range total {
			res, err := sender.Messages.SendMessage(context.Background(), connect.NewRequest(&parleyv1.SendMessageRequest{
				RoomId: roomID, Text: fmt.Sprint("m", i), ClientMessageId: fmt.Sprint("c", i),
			}))
			if err != nil {
				t.Errorf("send: %v", err)
				return
			}
			l.ack(t, res.Msg.GetMessage())
		}
	}()
	var got []*parleyv1.Message
	var last int64
	for drops := 0; last < total; drops++ {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		c := openBidiChat(t, ctx, reader)
		c.send(t, chatJoinFrame("j", roomID, last))
		dropAfter := 20 + drops*37%50
		n := 0
		for last < total && (n < dropAfter || drops >= 5) {
			f := c.next(t)
			if m := f.GetMessage(); m != nil {
				got = append(got, m)
				last = m.GetSeq()
				n++
			}
		}
		cancel() // drop the stream
	}
	for l.count() < total { // the sender may still be finishing its acks
		time.Sleep(10 * time.Millisecond)
	}
	l.checkDeliveries(t, "resuming chatter", got, 0, total)
}

// TestChatOverHTTP1 documents what bidi streaming over HTTP/1.1 does: the
// server answers 505 and closes the connection, which connect-go reports as
// an error on the first receive.
func TestChatOverHTTP1(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	for _, name := range []string{"connect/proto/http1", "grpc/proto/http1"} {
		u := testserver.SignUp(t, srv.Client(t, name), fmt.Sprint("h1user", len(name)))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		stream := u.Messages.Chat(ctx)
		_ = stream.Send(&parleyv1.ChatRequest{FrameId: "x"})
		_, err := stream.Receive()
		cancel()
		code := connect.CodeOf(err)
		if err == nil || (code != connect.CodeUnknown && code != connect.CodeUnavailable && code != connect.CodeUnimplemented) {
			t.Errorf("%s: bidi over HTTP/1.1: %v (code %v), want the 505 mapped to unknown/unavailable/unimplemented", name, err, code)
		}
		t.Logf("%s: %v (%v)", name, err, code)
	}
}
