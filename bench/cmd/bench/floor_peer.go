package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/coder/websocket"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
	"github.com/parley-chat/parley/server"
)

// Fan-out floor peers: the least a server can do to hand one event to
// many subscribers over each transport, measured in the same rounds as
// Parley (fanout.go). Nothing is stored and nothing is checked: a "pub
// TEXT" line on stdin is one event, encoded once per transport and handed
// to every subscriber.
//
// floor-http serves, on server.NewHTTPServer (Parley's own http.Server
// settings: h2c, 250 streams per connection):
//   - Subscribe's Connect path, a bare handler writing pre-encoded Connect
//     envelopes of a SubscribeResponse and flushing each (the HTTP/2 floor;
//     Parley's loader reads it with the same connect-go client);
//   - GET /sse, "data: TEXT\n\n" lines with a flush each (SSE; the loader
//     uses HTTP/1.1);
//   - GET /ws, a text message TEXT each, github.com/coder/websocket.
//
// Each such subscriber is a handler goroutine with a queue that grows as
// events arrive (as Parley's broker queues do, so an idle subscriber holds
// no buffer).
// floor-tcp is raw TCP: a client sends one line with the number of
// subscribers its connection carries, then receives "TEXT\n" once per
// subscriber per event, written by the publishing goroutine itself, one
// write() per connection per event.
const (
	peerFloorHTTP = "floor-http"
	peerFloorTCP  = "floor-tcp"
)

// Routes of floor-http beside Subscribe's.
const (
	floorSSEPath = "/sse"
	floorWSPath  = "/ws"
)

// frameKind is a floor transport's encoding of an event.
type frameKind int

const (
	frameConnect frameKind = iota
	frameSSE
	frameWS
	frameTCP
	frameKinds
)

// hub is a floor peer's set of subscribers.
type hub struct {
	mu   sync.Mutex
	subs map[*floorSub]struct{}
	n    int   // subscribers, a shared connection's counted each
	seq  int64 // events published
}

// floorSub is one subscriber, or for raw TCP one connection carrying k.
type floorSub struct {
	kind frameKind
	k    int
	conn net.Conn // raw TCP: the publisher writes to it

	// For the other transports, the events its handler has yet to write.
	mu    sync.Mutex
	queue [][]byte
	ready chan struct{} // capacity 1: the queue has something
}

// push queues f for the handler; it never waits.
func (s *floorSub) push(f []byte) {
	s.mu.Lock()
	s.queue = append(s.queue, f)
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default: // already signalled
	}
}

// take returns what is queued and empties the queue.
func (s *floorSub) take() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queue
	s.queue = nil
	return q
}

func newHub() *hub { return &hub{subs: map[*floorSub]struct{}{}} }

func (h *hub) add(s *floorSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subs[s] = struct{}{}
	h.n += s.k
}

func (h *hub) remove(s *floorSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		h.n -= s.k
	}
}

// commands are the hub's stdin commands: "pub TEXT" publishes an event,
// "subs" counts the subscribers.
func (h *hub) commands() peerCommands {
	return peerCommands{
		"pub": func(text string) (string, error) { h.publish(text); return "PUB ok", nil },
		"subs": func(string) (string, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			return "SUBS " + strconv.Itoa(h.n), nil
		},
	}
}

// publish encodes text once per transport and hands it to every
// subscriber; it returns when every raw TCP write is done and every other
// subscriber has the event queued.
func (h *hub) publish(text string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	frames := encodeFrames(text, h.seq)
	shared := map[int][]byte{1: frames[frameTCP]}
	for s := range h.subs {
		if s.conn == nil {
			s.push(frames[s.kind])
			continue
		}
		b, ok := shared[s.k]
		if !ok {
			b = bytes.Repeat(frames[frameTCP], s.k)
			shared[s.k] = b
		}
		if _, err := s.conn.Write(b); err != nil {
			delete(h.subs, s)
			h.n -= s.k
			_ = s.conn.Close() // the subscriber is gone
		}
	}
}

// encodeFrames encodes one event for each transport. The Connect frame
// carries a Message shaped like Parley's (ids, seq, sender, time).
func encodeFrames(text string, seq int64) [frameKinds][]byte {
	msg, _ := proto.Marshal(&parleyv1.SubscribeResponse{Event: &parleyv1.SubscribeResponse_Message{Message: &parleyv1.Message{
		Id: "m_floor" + strconv.FormatInt(seq, 10), RoomId: "r_floor", Seq: seq,
		Sender: &parleyv1.User{Id: "u_floor", Username: "fanout", CreateTime: timestamppb.Now()},
		Text:   text, CreateTime: timestamppb.Now(), ClientMessageId: "m" + strconv.FormatInt(seq, 10),
	}}})
	// A Connect envelope: flags 0, the big-endian length, the message.
	envelope := make([]byte, 5+len(msg))
	binary.BigEndian.PutUint32(envelope[1:5], uint32(len(msg))) //nolint:gosec // a message of a few hundred bytes
	copy(envelope[5:], msg)
	return [frameKinds][]byte{
		frameConnect: envelope,
		frameSSE:     []byte("data: " + text + "\n\n"),
		frameWS:      []byte(text),
		frameTCP:     []byte(text + "\n"),
	}
}

// feed registers a subscriber of kind and writes each of its events with
// write until write fails or ctx ends.
func (h *hub) feed(ctx context.Context, kind frameKind, write func([]byte) error) {
	s := &floorSub{kind: kind, k: 1, ready: make(chan struct{}, 1)}
	h.add(s)
	defer h.remove(s)
	for {
		select {
		case <-s.ready:
			for _, f := range s.take() {
				if err := write(f); err != nil {
					return
				}
			}
		case <-ctx.Done():
			return
		}
	}
}

// serveFlushed answers with contentType and writes each event followed by
// a flush: the Connect and SSE floors.
func (h *hub) serveFlushed(kind frameKind, contentType string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		if rc.Flush() != nil {
			return
		}
		h.feed(r.Context(), kind, func(f []byte) error {
			if _, err := w.Write(f); err != nil {
				return err
			}
			return rc.Flush()
		})
	}
}

func (h *hub) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return
	}
	defer func() { _ = c.CloseNow() }() // the subscriber is gone or the peer stops
	ctx := c.CloseRead(r.Context())     // answers pings and the close handshake
	h.feed(ctx, frameWS, func(f []byte) error { return c.Write(ctx, websocket.MessageText, f) })
}

// serveFloorHTTP serves floor-http's routes on lis.
func serveFloorHTTP(lis net.Listener) peerCommands {
	h := newHub()
	mux := http.NewServeMux()
	mux.Handle(parleyv1connect.MessageServiceSubscribeProcedure, h.serveFlushed(frameConnect, "application/connect+proto"))
	mux.Handle("GET "+floorSSEPath, h.serveFlushed(frameSSE, "text/event-stream"))
	mux.HandleFunc("GET "+floorWSPath, h.serveWebSocket)
	s := server.NewHTTPServer(mux, false, slog.New(slog.DiscardHandler))
	go func() { _ = s.Serve(lis) }()
	return h.commands()
}

// serveFloorTCP accepts raw TCP subscribers on lis.
func serveFloorTCP(lis net.Listener) peerCommands {
	h := newHub()
	go func() {
		for {
			conn, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				line, err := bufio.NewReader(conn).ReadString('\n')
				k, err2 := strconv.Atoi(strings.TrimSpace(line))
				if err != nil || err2 != nil || k < 1 {
					_ = conn.Close() // not a subscriber
					return
				}
				h.add(&floorSub{kind: frameTCP, k: k, conn: conn})
			}()
		}
	}()
	return h.commands()
}

// peerCommands are stdin commands a peer answers beyond stats and mem: by
// the line's first word, with the rest of the line; the answer is one line.
type peerCommands map[string]func(arg string) (string, error)

// run answers line if it names one of cmds.
func (cmds peerCommands) run(line string) (answer string, ok bool, err error) {
	verb, arg, _ := strings.Cut(line, " ")
	f := cmds[verb]
	if f == nil {
		return "", false, nil
	}
	answer, err = f(arg)
	if err != nil {
		return "", true, fmt.Errorf("%s: %w", verb, err)
	}
	return answer, true, nil
}
