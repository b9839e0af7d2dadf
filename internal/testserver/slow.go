package testserver

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
)

// SlowSubscriber opens a gRPC Subscribe of roomID at baseURL (http://, h2c)
// as the holder of token and returns it once its headers arrived, reading
// nothing: a client whose 64 KiB flow-control windows fill, so the
// server's writes block and its queue grows until the stream is cut off.
// The caller reads it with RecvMsg; the connection closes when the test
// ends. Messages the test sends should not compress well: a grpc-go client
// accepts gzip once anything in the binary registers it.
func SlowSubscriber(t *testing.T, ctx context.Context, baseURL, token, roomID string) grpc.ClientStream {
	t.Helper()
	conn, err := grpc.NewClient("passthrough:///"+strings.TrimPrefix(baseURL, "http://"),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	slow, err := conn.NewStream(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token),
		&grpc.StreamDesc{ServerStreams: true}, parleyv1connect.MessageServiceSubscribeProcedure)
	if err != nil {
		t.Fatal(err)
	}
	if err := slow.SendMsg(&parleyv1.SubscribeRequest{RoomId: roomID}); err != nil {
		t.Fatal(err)
	}
	if err := slow.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := slow.Header(); err != nil {
		t.Fatal(err)
	}
	return slow
}
