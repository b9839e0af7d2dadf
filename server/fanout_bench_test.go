package server_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
	"github.com/parley-chat/parley/inmem"
	"github.com/parley-chat/parley/internal/testserver"
	"github.com/parley-chat/parley/metrics"
	"github.com/parley-chat/parley/server"
	"github.com/parley-chat/parley/sqlite"
)

// fanoutSubscribers is how many Subscribe streams BenchmarkFanout keeps on
// its room: each message sent is that many deliveries.
const fanoutSubscribers = 100

// BenchmarkFanout is the fan-out in process: fanoutSubscribers Subscribe
// streams (Connect, proto) on one room of server.New over SQLite and the
// in-process broker, one member sending messages; each op is one
// SendMessage and its delivery to every subscriber, so the cost per
// delivery is the cost per op / fanoutSubscribers. "metrics" is the same
// with metrics on (the server options and the store's Observer). The
// streams are served by calling the handler with a writer that counts
// the messages framed to it, so no HTTP server, socket or client decoding
// is counted; the sender's calls go through a connect-go client over an
// in-process transport.
func BenchmarkFanout(b *testing.B) {
	for _, withMetrics := range []bool{false, true} {
		name := "nometrics"
		if withMetrics {
			name = "metrics"
		}
		b.Run(name, func(b *testing.B) {
			var storeOpts []sqlite.Option
			opts := []server.Option{server.WithLimits(server.Limits{}), server.WithHeartbeat(time.Hour)}
			if withMetrics {
				m := metrics.New("sqlite")
				storeOpts = append(storeOpts, sqlite.WithObserver(m.Observer()))
				opts = append(opts, m.ServerOptions()...)
			}
			store, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "parley.db"), storeOpts...)
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			h := server.New(store, inmem.NewBroker(), opts...)
			defer h.Drain()

			ctx := b.Context()
			local := &http.Client{Transport: inProcess{h}}
			auth := parleyv1connect.NewAuthServiceClient(local, "http://parley")
			res, err := auth.SignUp(ctx, connect.NewRequest(&parleyv1.SignUpRequest{Username: "fanout", Password: testserver.Password}))
			if err != nil {
				b.Fatal(err)
			}
			token := res.Msg.GetToken()
			rooms := parleyv1connect.NewRoomServiceClient(local, "http://parley", testserver.WithToken(token))
			room, err := rooms.CreateRoom(ctx, connect.NewRequest(&parleyv1.CreateRoomRequest{Name: "fanout"}))
			if err != nil {
				b.Fatal(err)
			}
			roomID := room.Msg.GetRoom().GetId()
			messages := parleyv1connect.NewMessageServiceClient(local, "http://parley", testserver.WithToken(token))
			sent := 0
			send := func() {
				sent++
				_, err := messages.SendMessage(ctx, connect.NewRequest(&parleyv1.SendMessageRequest{
					RoomId: roomID, Text: "hi", ClientMessageId: strconv.Itoa(sent),
				}))
				if err != nil {
					b.Fatal(err)
				}
			}
			send()
			history, err := messages.ListMessages(ctx, connect.NewRequest(&parleyv1.ListMessagesRequest{RoomId: roomID}))
			if err != nil || len(history.Msg.GetMessages()) == 0 {
				b.Fatal("list messages:", err)
			}
			since := history.Msg.GetMessages()[len(history.Msg.GetMessages())-1].GetSeq()

			fan := &fanoutCount{done: make(chan struct{}, 1)}
			subCtx, cancel := context.WithCancel(ctx)
			var streams sync.WaitGroup
			defer func() { cancel(); streams.Wait() }()
			body, _ := proto.Marshal(&parleyv1.SubscribeRequest{RoomId: roomID, SinceSeq: since})
			for range fanoutSubscribers {
				r := httptest.NewRequestWithContext(subCtx, http.MethodPost, parleyv1connect.MessageServiceSubscribeProcedure, bytes.NewReader(envelope(0, body)))
				r.Header.Set("Content-Type", "application/connect+proto")
				r.Header.Set("Authorization", "Bearer "+token)
				w := &framesWriter{header: http.Header{}, fan: fan}
				streams.Go(func() { h.ServeHTTP(w, r) })
			}
			// Every stream is open once it delivered a first message.
			fan.await(fanoutSubscribers, send)

			b.ReportAllocs()
			for b.Loop() {
				fan.await(fanoutSubscribers, send)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*fanoutSubscribers), "ns/delivery")
		})
	}
}

// fanoutCount counts the messages delivered to every stream.
type fanoutCount struct {
	delivered atomic.Int64
	want      atomic.Int64
	done      chan struct{}
}

// await runs send and waits for n more deliveries.
func (f *fanoutCount) await(n int, send func()) {
	f.want.Add(int64(n))
	send()
	select {
	case <-f.done:
	case <-time.After(time.Minute):
		panic("fan-out: deliveries missing after a minute")
	}
}

func (f *fanoutCount) add() {
	if f.delivered.Add(1) == f.want.Load() {
		f.done <- struct{}{}
	}
}

// framesWriter is a streaming http.ResponseWriter that counts the
// Connect envelopes of messages written to it and discards them.
type framesWriter struct {
	header http.Header
	fan    *fanoutCount
	head   [5]byte
	have   int // bytes of head read
	left   int // payload bytes still to skip
}

func (w *framesWriter) Header() http.Header { return w.header }
func (w *framesWriter) WriteHeader(int)     {}
func (w *framesWriter) Flush()              {}

func (w *framesWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if w.left > 0 {
			skip := min(w.left, len(p))
			w.left, p = w.left-skip, p[skip:]
			continue
		}
		c := copy(w.head[w.have:], p)
		w.have, p = w.have+c, p[c:]
		if w.have < len(w.head) {
			break
		}
		w.have, w.left = 0, int(binary.BigEndian.Uint32(w.head[1:]))
		if w.head[0] == 0 { // a message, not the end of the stream
			w.fan.add()
		}
	}
	return n, nil
}

// inProcess is an http.RoundTripper that serves unary calls with h.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	w := httptest.NewRecorder()
	t.h.ServeHTTP(w, r)
	return w.Result(), nil
}
