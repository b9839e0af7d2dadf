package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"

	"github.com/parley-chat/parley"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
	"github.com/parley-chat/parley/inmem"
	"github.com/parley-chat/parley/internal/testserver"
	"github.com/parley-chat/parley/server"
	"github.com/parley-chat/parley/sqlite"
)

// fullStore is a SQLite store whose appends and probe writes fail for lack
// of space while full is set, as SQLite's do on a full disk
// (cmd/parleyd's TestDiskFull fills a real one).
type fullStore struct {
	*sqlite.Store
	full atomic.Bool
}

func (s *fullStore) AppendMessage(ctx context.Context, m parley.NewMessage, publish func(*parley.Message)) (parley.Message, bool, error) {
	if s.full.Load() {
		return parley.Message{}, false, fmt.Errorf("commit append messages: %w: %w", parley.ErrStorageFull, errNoSpace)
	}
	return s.Store.AppendMessage(ctx, m, publish)
}

func (s *fullStore) ProbeWrite(ctx context.Context) error {
	if s.full.Load() {
		return fmt.Errorf("probe write: %w: %w", parley.ErrStorageFull, errNoSpace)
	}
	return s.Store.ProbeWrite(ctx)
}

var errNoSpace = fmt.Errorf("database or disk is full (SQLITE_FULL)")

// TestStorageFull: a send that fails for lack of space is resource_exhausted
// on every protocol, saying so; health turns NOT_SERVING at once while reads
// go on; once a probe write succeeds health is SERVING again and sends go
// through.
func TestStorageFull(t *testing.T) {
	t.Parallel()
	store := &fullStore{Store: testserver.OpenStore(t)}
	h := server.New(store, inmem.NewBroker())
	srv := httptest.NewUnstartedServer(h)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(h.Drain)
	go h.WatchStore(t.Context(), 10*time.Millisecond)

	hc := testserver.H2CClient()
	ctx := context.Background()
	up, err := parleyv1connect.NewAuthServiceClient(hc, srv.URL).SignUp(ctx, connect.NewRequest(&parleyv1.SignUpRequest{Username: "full", Password: "password-full"}))
	if err != nil {
		t.Fatal(err)
	}
	token := testserver.WithToken(up.Msg.GetToken())
	room, err := parleyv1connect.NewRoomServiceClient(hc, srv.URL, token).CreateRoom(ctx, connect.NewRequest(&parleyv1.CreateRoomRequest{Name: "full"}))
	if err != nil {
		t.Fatal(err)
	}
	roomID := room.Msg.GetRoom().GetId()
	protocols := map[string][]connect.ClientOption{
		"connect": {token},
		"grpc":    {token, connect.WithGRPC()},
		"grpcweb": {token, connect.WithGRPCWeb()},
	}
	health := grpchealth.NewClient(hc, srv.URL, connect.WithGRPC())
	status := func() grpchealth.Status {
		res, err := health.Check(ctx, &grpchealth.CheckRequest{Service: parleyv1connect.MessageServiceName})
		if err != nil {
			t.Fatal(err)
		}
		return res.Status
	}
	waitStatus := func(want grpchealth.Status) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); status() != want; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("health %v, want %v", status(), want)
			}
		}
	}
	waitStatus(grpchealth.StatusServing)

	store.full.Store(true)
	for name, opts := range protocols {
		messages := parleyv1connect.NewMessageServiceClient(hc, srv.URL, opts...)
		_, err := messages.SendMessage(ctx, connect.NewRequest(&parleyv1.SendMessageRequest{RoomId: roomID, Text: "x", ClientMessageId: "full-" + name}))
		if connect.CodeOf(err) != connect.CodeResourceExhausted || !strings.Contains(err.Error(), "storage is full") {
			t.Errorf("%s: send on a full store: %v, want resource_exhausted saying the storage is full", name, err)
		}
		// Health flipped with the failed write, not at the next tick.
		if got := status(); got != grpchealth.StatusNotServing {
			t.Errorf("%s: health right after the failed write: %v, want NOT_SERVING", name, got)
		}
		if _, err := messages.ListMessages(ctx, connect.NewRequest(&parleyv1.ListMessagesRequest{RoomId: roomID})); err != nil {
			t.Errorf("%s: reads while full: %v", name, err)
		}
	}
	time.Sleep(50 * time.Millisecond) // probes fail meanwhile
	if got := status(); got != grpchealth.StatusNotServing {
		t.Errorf("health while probes fail: %v, want NOT_SERVING", got)
	}

	store.full.Store(false)
	waitStatus(grpchealth.StatusServing)
	for name, opts := range protocols {
		messages := parleyv1connect.NewMessageServiceClient(hc, srv.URL, opts...)
		if _, err := messages.SendMessage(ctx, connect.NewRequest(&parleyv1.SendMessageRequest{RoomId: roomID, Text: "x", ClientMessageId: "full-" + name})); err != nil {
			t.Errorf("%s: send once space is back: %v", name, err)
		}
	}
}
