package server_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
	"github.com/parley-chat/parley/internal/testserver"
	"github.com/parley-chat/parley/server"
)

// flushRecorder is a ResponseWriter that records the body, the flushes,
// and how much of the body had been flushed; it counts complete envelopes.
type flushRecorder struct {
	header http.Header

	mu      sync.Mutex
	body    bytes.Buffer
	flushes int
	flushed int // body bytes written before the last Flush
}

func (r *flushRecorder) Header() http.Header { return r.header }
func (r *flushRecorder) WriteHeader(int)     {}

func (r *flushRecorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.body.Write(p)
}

func (r *flushRecorder) Flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushes++
	r.flushed = r.body.Len()
}

// state returns the bytes of the first n data envelopes (nil if fewer
// arrived), the flush count, and whether every byte written is flushed.
func (r *flushRecorder) state(n int) ([]byte, int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.body.Bytes()
	end := 0
	for range n {
		if len(b)-end < 5 || b[end] != 0 {
			return nil, r.flushes, r.flushed == len(b)
		}
		size := int(binary.BigEndian.Uint32(b[end+1 : end+5]))
		if len(b)-end-5 < size {
			return nil, r.flushes, r.flushed == len(b)
		}
		end += 5 + size
	}
	return bytes.Clone(b[:end]), r.flushes, r.flushed == len(b)
}

// TestSubscribeBurstFlushes replays a backlog through Subscribe on every
// streaming protocol and codec: the bytes are identical to those of the
// same handler without the flush hold, in far fewer flushes, and a lone
// live event afterwards is flushed at once.
func TestSubscribeBurstFlushes(t *testing.T) {
	t.Parallel()
	const backlog = 150 // more than two holds' worth (maxHeldMessages)
	srv := testserver.Start(t, server.WithHeartbeat(time.Hour))
	u := testserver.SignUp(t, srv.Client(t, "connect/proto/h2c"), "burst")
	ctx := context.Background()
	roomID := u.CreateRoom(t, "burst", parleyv1.Visibility_VISIBILITY_UNSPECIFIED).GetId()
	for i := range backlog {
		u.SendMessage(t, roomID, fmt.Sprintf("m%d", i), fmt.Sprintf("m%d", i))
	}
	held := http.Handler(srv.Handler)
	unheld := server.WithoutFlushHold(srv.Handler)
	req := &parleyv1.SubscribeRequest{RoomId: roomID}
	pb, _ := proto.Marshal(req)
	js, _ := protojson.Marshal(req)
	for _, tc := range []struct {
		name, contentType string
		msg               []byte
	}{
		{"connect/proto", "application/connect+proto", pb},
		{"connect/json", "application/connect+json", js},
		{"grpc/proto", "application/grpc", pb},
		{"grpc/json", "application/grpc+json", js},
		{"grpcweb/proto", "application/grpc-web+proto", pb},
		{"grpcweb/json", "application/grpc-web+json", js},
	} {
		subscribe := func(h http.Handler, onBacklog func()) ([]byte, int, bool) {
			t.Helper()
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			frame := make([]byte, 5, 5+len(tc.msg))
			binary.BigEndian.PutUint32(frame[1:], uint32(len(tc.msg)))
			r := httptest.NewRequestWithContext(ctx, http.MethodPost, parleyv1connect.MessageServiceSubscribeProcedure, bytes.NewReader(append(frame, tc.msg...)))
			r.ProtoMajor, r.ProtoMinor, r.Proto = 2, 0, "HTTP/2.0"
			r.Header.Set("Content-Type", tc.contentType)
			r.Header.Set("Te", "trailers")
			r.Header.Set("Authorization", "Bearer "+u.Token)
			rec := &flushRecorder{header: make(http.Header)}
			done := make(chan struct{})
			go func() { defer close(done); h.ServeHTTP(rec, r) }()
			defer func() { cancel(); <-done }()
			want := backlog
			deadline := time.Now().Add(20 * time.Second)
			for {
				b, flushes, allFlushed := rec.state(want)
				if b != nil && allFlushed {
					if want == backlog+1 {
						return b, flushes, true
					}
					if onBacklog == nil {
						return b, flushes, false
					}
					onBacklog()
					onBacklog = nil
					want++
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: %d envelopes not all written and flushed (flushes %d, all flushed %v)", tc.name, want, flushes, allFlushed)
				}
				time.Sleep(time.Millisecond)
			}
		}
		refBytes, refFlushes, _ := subscribe(unheld, nil)
		gotBytes, gotFlushes, _ := subscribe(held, nil)
		if !bytes.Equal(gotBytes, refBytes) {
			t.Errorf("%s: %d bytes with the hold differ from %d without", tc.name, len(gotBytes), len(refBytes))
		}
		t.Logf("%s: %d events, %d bytes: %d flushes held, %d without", tc.name, backlog, len(gotBytes), gotFlushes, refFlushes)
		if refFlushes < backlog || gotFlushes > backlog/10 {
			t.Errorf("%s: flushes for %d events: %d held, %d unheld", tc.name, backlog, gotFlushes, refFlushes)
		}
		// A lone live event after the backlog is flushed without waiting
		// for another one (state requires every written byte flushed).
		i := 0
		live := func() {
			i++
			text := fmt.Sprintf("live-%s-%d", tc.name, i)
			if _, err := u.Messages.SendMessage(ctx, connect.NewRequest(&parleyv1.SendMessageRequest{RoomId: roomID, Text: text, ClientMessageId: text})); err != nil {
				t.Fatal(err)
			}
		}
		subscribe(held, live)
	}
}
