package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/coder/websocket"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
)

// fanoutPeer is a stack the fan-out scenario measures: Parley, or one of
// the floors of floor_peer.go.
type fanoutPeer struct {
	name    string // in tables and CSV files
	child   string // the child peer that serves it
	perConn int    // subscribers one loader connection carries; 0: one each
	join    func(ctx context.Context, c *child) (fanoutRoom, error)
}

// Fan-out floor names (floor_peer.go says what each serves).
const (
	floorH2        = "floor-h2"
	floorSSE       = "floor-sse"
	floorWS        = "floor-ws"
	floorTCP       = "floor-tcp"
	floorTCPShared = "floor-tcp-shared"
)

// floorTCPPerConn is how many subscribers share one raw TCP connection in
// floor-tcp-shared: as many as Parley's streams share one HTTP/2
// connection.
const floorTCPPerConn = 250

// fanoutPeers are measured in this order, rotated each round; the first is
// Parley, whose ratio to each of the others is reported.
var fanoutPeers = []fanoutPeer{
	{name: peerParley, child: peerParley, join: joinParley},
	{name: floorH2, child: peerFloorHTTP, join: joinFloor(connectSubscriber)},
	{name: floorSSE, child: peerFloorHTTP, join: joinFloor(sseSubscriber)},
	{name: floorWS, child: peerFloorHTTP, join: joinFloor(wsSubscriber)},
	{name: floorTCP, child: peerFloorTCP, join: joinFloor(tcpSubscriber)},
	{name: floorTCPShared, child: peerFloorTCP, perConn: floorTCPPerConn, join: joinFloor(tcpSubscriber)},
}

// fanoutRoom is one run's room on a started peer.
type fanoutRoom struct {
	// subscribe opens one connection, or stream, carrying k subscribers.
	subscribe func(ctx context.Context, k int) (eventSource, error)
	// ready waits until n subscribers are registered; nil where a new
	// subscriber gets what was published before (Parley replays the room).
	ready func(ctx context.Context, n int) error
	// send publishes one event.
	send func(ctx context.Context, text, id string) error
}

// eventSource is one connection or stream: next returns the text of the
// next event delivered on it, once per subscriber it carries.
type eventSource interface {
	next() (string, error)
	close()
}

// joinParley signs up one user who creates the room and opens every
// stream: Subscribe, Connect protocol, proto, over h2c.
func joinParley(ctx context.Context, c *child) (fanoutRoom, error) {
	s, err := newParleySession(ctx, c.addr, "fanout")
	if err != nil {
		return fanoutRoom{}, err
	}
	room, err := s.createRoom(ctx, "fanout")
	if err != nil {
		return fanoutRoom{}, err
	}
	return fanoutRoom{
		subscribe: func(ctx context.Context, _ int) (eventSource, error) { return subscribeStream(ctx, s.messages, room) },
		send: func(ctx context.Context, text, id string) error {
			_, err := s.send(ctx, room, text, id)
			return err
		},
	}, nil
}

// subscriber opens one connection carrying k subscribers.
type subscriber func(ctx context.Context, k int) (eventSource, error)

// joinFloor returns a floor's join: subscribers open with what
// newSubscriber returns for the child's address (once per run), events are
// "pub" lines on the child's stdin.
func joinFloor(newSubscriber func(addr string) subscriber) func(context.Context, *child) (fanoutRoom, error) {
	return func(_ context.Context, c *child) (fanoutRoom, error) {
		return fanoutRoom{
			subscribe: newSubscriber(c.addr),
			ready: func(ctx context.Context, n int) error {
				for {
					line, err := c.command("subs", "SUBS")
					if err != nil {
						return err
					}
					if got, _ := strconv.Atoi(line); got >= n {
						return nil
					}
					select {
					case <-ctx.Done():
						return fmt.Errorf("%s: subscribers not registered: %w", c.name, ctx.Err())
					case <-time.After(10 * time.Millisecond):
					}
				}
			},
			send: func(_ context.Context, text, _ string) error {
				_, err := c.command("pub "+text, "PUB")
				return err
			},
		}, nil
	}
}

// streamSource is a Subscribe stream, Parley's or floor-h2's.
type streamSource struct {
	stream *connect.ServerStreamForClient[parleyv1.SubscribeResponse]
}

func subscribeStream(ctx context.Context, client parleyv1connect.MessageServiceClient, room string) (eventSource, error) {
	stream, err := client.Subscribe(ctx, connect.NewRequest(&parleyv1.SubscribeRequest{RoomId: room}))
	if err != nil {
		return nil, err
	}
	return streamSource{stream}, nil
}

func (s streamSource) next() (string, error) {
	for s.stream.Receive() {
		if m := s.stream.Msg().GetMessage(); m != nil {
			return m.GetText(), nil
		}
	}
	if err := s.stream.Err(); err != nil {
		return "", err
	}
	return "", errStreamEnded
}

var errStreamEnded = errors.New("stream ended")

func (s streamSource) close() { _ = s.stream.Close() } // the run is over

// connectSubscriber opens floor-h2's Subscribe with the client Parley's
// streams use: one stdlib transport for the run over h2c, so a new
// connection each 250 streams.
func connectSubscriber(addr string) subscriber {
	client := parleyv1connect.NewMessageServiceClient(httpClient(true), "http://"+addr)
	return func(ctx context.Context, _ int) (eventSource, error) {
		return subscribeStream(ctx, client, "r_floor")
	}
}

// lineSource reads events as lines: SSE's "data: TEXT" (other lines are
// skipped) or raw TCP's "TEXT".
type lineSource struct {
	r      *bufio.Reader
	prefix string
	c      interface{ Close() error }
}

func (s lineSource) next() (string, error) {
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return "", err
		}
		if text, ok := strings.CutPrefix(line, s.prefix); ok && line != "\n" {
			return strings.TrimSuffix(text, "\n"), nil
		}
	}
}

func (s lineSource) close() { _ = s.c.Close() } // the run is over

// sseSubscriber opens GET /sse over HTTP/1.1: a connection per
// subscriber.
func sseSubscriber(addr string) subscriber {
	hc := httpClient(false)
	return func(ctx context.Context, _ int) (eventSource, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+floorSSEPath, nil)
		if err != nil {
			return nil, err
		}
		res, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		if res.StatusCode != http.StatusOK {
			_ = res.Body.Close() // the status is the error
			return nil, fmt.Errorf("sse: %s", res.Status)
		}
		return lineSource{r: bufio.NewReader(res.Body), prefix: "data: ", c: res.Body}, nil
	}
}

// wsSource is a WebSocket connection.
type wsSource struct {
	ctx context.Context
	c   *websocket.Conn
}

// wsSubscriber opens GET /ws as a WebSocket, uncompressed, over HTTP/1.1:
// a connection per subscriber.
func wsSubscriber(addr string) subscriber {
	opts := &websocket.DialOptions{HTTPClient: httpClient(false), CompressionMode: websocket.CompressionDisabled}
	return func(ctx context.Context, _ int) (eventSource, error) {
		c, _, err := websocket.Dial(ctx, "ws://"+addr+floorWSPath, opts) //nolint:bodyclose // the handshake's body is the connection; c.CloseNow closes it
		if err != nil {
			return nil, err
		}
		return wsSource{ctx, c}, nil
	}
}

func (s wsSource) next() (string, error) {
	_, b, err := s.c.Read(s.ctx)
	return string(b), err
}

func (s wsSource) close() { _ = s.c.CloseNow() } // the run is over

// tcpSubscriber connects to floor-tcp and asks for k subscribers on the
// connection; the connection closes when ctx ends.
func tcpSubscriber(addr string) subscriber {
	return func(ctx context.Context, k int) (eventSource, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		if _, err := fmt.Fprintf(conn, "%d\n", k); err != nil {
			_ = conn.Close() // the write error is the one to report
			return nil, err
		}
		context.AfterFunc(ctx, func() { _ = conn.Close() }) // unblocks a read
		return lineSource{r: bufio.NewReader(conn), c: conn}, nil
	}
}
