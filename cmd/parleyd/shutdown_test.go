package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
	"github.com/parley-chat/parley/internal/testserver"
)

// streamEnd is how one stream ended after SIGTERM.
type streamEnd struct {
	name string
	err  error
	at   time.Time
}

// positions returns the StreamPosition and UploadPosition details of err.
func positions(err error) (streams []string, upload *parleyv1.UploadPosition) {
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		return nil, nil
	}
	for _, d := range cerr.Details() {
		v, err := d.Value()
		if err != nil {
			continue
		}
		switch v := v.(type) {
		case *parleyv1.StreamPosition:
			streams = append(streams, fmt.Sprintf("%s@%d", v.GetRoomId(), v.GetLastSeq()))
		case *parleyv1.UploadPosition:
			upload = v
		}
	}
	return streams, upload
}

// TestShutdownEndsIdleStreams starts parleyd as a child process, opens on
// each protocol an idle Subscribe stream (also over HTTP/1.1), an idle
// Chat stream that joined two rooms and an idle Upload stream that sent one
// chunk, and sends
// SIGTERM: each stream ends with unavailable and its resume point (a
// StreamPosition for Subscribe, one per room for Chat, an UploadPosition
// for Upload), and parleyd exits 0 well within --shutdown-timeout.
func TestShutdownEndsIdleStreams(t *testing.T) {
	t.Parallel()
	const shutdownTimeout = 10 * time.Second
	cmd, url := startChild(t, t.TempDir(), "--shutdown-timeout", shutdownTimeout.String())
	ctx := context.Background()
	hc := testserver.H2CClient()
	u := testserver.SignUp(t, testserver.H2C(url), "stopper")
	token := testserver.WithToken(u.Token)
	rooms, messages := u.Rooms, u.Messages
	var roomIDs []string
	for i, n := range []int{3, 5} { // room i has n messages
		room, err := rooms.CreateRoom(ctx, connect.NewRequest(&parleyv1.CreateRoomRequest{Name: fmt.Sprintf("stop-%d", i)}))
		if err != nil {
			t.Fatal(err)
		}
		roomIDs = append(roomIDs, room.Msg.GetRoom().GetId())
		for j := range n {
			id := fmt.Sprintf("r%d-m%d", i, j)
			if _, err := messages.SendMessage(ctx, connect.NewRequest(&parleyv1.SendMessageRequest{RoomId: room.Msg.GetRoom().GetId(), Text: id, ClientMessageId: id})); err != nil {
				t.Fatal(err)
			}
		}
	}
	wantChat := []string{roomIDs[0] + "@3", roomIDs[1] + "@5"}
	slices.Sort(wantChat)

	protocols := []struct {
		name string
		opts []connect.ClientOption
	}{
		{"connect", []connect.ClientOption{token}},
		{"grpc", []connect.ClientOption{token, connect.WithGRPC()}},
		{"grpcweb", []connect.ClientOption{token, connect.WithGRPCWeb()}},
	}
	// Browsers on plain http speak HTTP/1.1: Subscribe there too.
	http1 := []struct {
		name string
		opts []connect.ClientOption
	}{
		{"connect/http1", []connect.ClientOption{token}},
		{"grpcweb/http1", []connect.ClientOption{token, connect.WithGRPCWeb()}},
	}
	ended := make(chan streamEnd, 3*len(protocols)+len(http1))
	for _, proto := range http1 {
		messages := parleyv1connect.NewMessageServiceClient(testserver.HTTP1Client(), url, proto.opts...)
		sub, err := messages.Subscribe(ctx, connect.NewRequest(&parleyv1.SubscribeRequest{RoomId: roomIDs[1], SinceSeq: 4}))
		if err != nil {
			t.Fatal(err)
		}
		if !sub.Receive() || sub.Msg().GetMessage().GetSeq() != 5 {
			t.Fatalf("%s: Subscribe: %v, %v; want seq 5", proto.name, sub.Msg(), sub.Err())
		}
		go func() {
			for sub.Receive() {
			}
			ended <- streamEnd{proto.name + " Subscribe", sub.Err(), time.Now()}
		}()
	}
	wantUpload := map[string]string{} // stream name -> upload id
	const chunk = 64 << 10
	for _, proto := range protocols {
		messages := parleyv1connect.NewMessageServiceClient(hc, url, proto.opts...)
		files := parleyv1connect.NewFileServiceClient(hc, url, proto.opts...)

		sub, err := messages.Subscribe(ctx, connect.NewRequest(&parleyv1.SubscribeRequest{RoomId: roomIDs[1], SinceSeq: 2}))
		if err != nil {
			t.Fatal(err)
		}
		for seq := int64(3); seq <= 5; seq++ {
			if !sub.Receive() || sub.Msg().GetMessage().GetSeq() != seq {
				t.Fatalf("%s: Subscribe: %v, %v; want seq %d", proto.name, sub.Msg(), sub.Err(), seq)
			}
		}
		go func() {
			for sub.Receive() {
			}
			ended <- streamEnd{proto.name + " Subscribe", sub.Err(), time.Now()}
		}()

		chat := messages.Chat(ctx)
		replayed := 0
		for i, roomID := range roomIDs {
			if err := chat.Send(&parleyv1.ChatRequest{FrameId: fmt.Sprint("join", i), Frame: &parleyv1.ChatRequest_Join{Join: &parleyv1.ChatJoin{RoomId: roomID}}}); err != nil {
				t.Fatal(err)
			}
		}
		for acks := 0; acks < 2 || replayed < 8; {
			res, err := chat.Receive()
			if err != nil {
				t.Fatalf("%s: Chat: %v", proto.name, err)
			}
			switch {
			case res.GetAck() != nil:
				acks++
			case res.GetMessage() != nil:
				replayed++
			}
		}
		go func() {
			var err error
			for err == nil {
				_, err = chat.Receive()
			}
			ended <- streamEnd{proto.name + " Chat", err, time.Now()}
		}()

		data := make([]byte, 4*chunk)
		_, _ = rand.Read(data)
		sum := sha256.Sum256(data)
		upload := files.Upload(ctx)
		if err := upload.Send(&parleyv1.UploadRequest{Frame: &parleyv1.UploadRequest_Start{Start: &parleyv1.UploadStart{Target: &parleyv1.UploadStart_Metadata{
			Metadata: &parleyv1.UploadMetadata{RoomId: roomIDs[0], Name: proto.name + ".bin", Size: int64(len(data)), Sha256: hex.EncodeToString(sum[:])},
		}}}}); err != nil {
			t.Fatal(err)
		}
		if err := upload.Send(&parleyv1.UploadRequest{Frame: &parleyv1.UploadRequest_Chunk{Chunk: data[:chunk]}}); err != nil {
			t.Fatal(err)
		}
		conn, err := upload.Conn()
		if err != nil {
			t.Fatal(err)
		}
		name := proto.name + " Upload"
		wantUpload[name] = ""
		go func() {
			// Wait for the answer with the request side still open: an
			// idle upload that never closes it.
			err := conn.Receive(new(parleyv1.UploadResponse))
			ended <- streamEnd{name, err, time.Now()}
		}()
	}
	// Let the uploads' first chunks be stored: the position must count them.
	time.Sleep(300 * time.Millisecond)

	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var exitErr error
	select {
	case exitErr = <-exited:
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatal("parleyd did not exit")
	}
	took := time.Since(start)
	if exitErr != nil {
		t.Errorf("parleyd exited with %v after SIGTERM, want status 0", exitErr)
	}
	t.Logf("SIGTERM to exit: %v (--shutdown-timeout %v)", took.Round(time.Millisecond), shutdownTimeout)
	if took > timeBound(shutdownTimeout/5) {
		t.Errorf("exit took %v, want well within %v", took, shutdownTimeout)
	}

	for range 3*len(protocols) + len(http1) {
		var e streamEnd
		select {
		case e = <-ended:
		case <-time.After(5 * time.Second):
			t.Fatal("a stream did not end")
		}
		streams, upload := positions(e.err)
		t.Logf("%-16s ended after %6v: %v %q; positions %v upload %v", e.name, e.at.Sub(start).Round(time.Millisecond),
			connect.CodeOf(e.err), errMessage(e.err), streams, upload)
		if connect.CodeOf(e.err) != connect.CodeUnavailable {
			t.Errorf("%s ended with %v, want unavailable", e.name, e.err)
		}
		switch {
		case strings.HasSuffix(e.name, "Subscribe"):
			if !slices.Equal(streams, []string{roomIDs[1] + "@5"}) {
				t.Errorf("%s: positions %v, want %v", e.name, streams, []string{roomIDs[1] + "@5"})
			}
		case strings.HasSuffix(e.name, "Chat"):
			if !slices.Equal(streams, wantChat) {
				t.Errorf("%s: positions %v, want one per room: %v", e.name, streams, wantChat)
			}
		default:
			if upload.GetUploadId() == "" || upload.GetOffset() != chunk {
				t.Errorf("%s: upload position %v, want offset %d", e.name, upload, chunk)
			}
		}
	}
}

func errMessage(err error) string {
	var cerr *connect.Error
	if errors.As(err, &cerr) {
		return cerr.Message()
	}
	return fmt.Sprint(err)
}

// TestShutdownEndsStalledDownload opens a Download of a file larger than
// the client's HTTP/2 flow-control window and stops reading it, so the
// server's writes block, and sends SIGTERM: the write deadline set at
// Drain (1 s) ends the stream and parleyd exits 0 soon after, not at
// --shutdown-timeout.
func TestShutdownEndsStalledDownload(t *testing.T) {
	t.Parallel()
	const shutdownTimeout = 10 * time.Second
	cmd, url := startChild(t, t.TempDir(), "--shutdown-timeout", shutdownTimeout.String())
	ctx := context.Background()
	u := testserver.SignUp(t, testserver.H2C(url), "staller")
	room := u.CreateRoom(t, "stall", parleyv1.Visibility_VISIBILITY_UNSPECIFIED)
	files := parleyv1connect.NewFileServiceClient(testserver.H2CClient(), url, testserver.WithToken(u.Token), connect.WithGRPC())
	data := make([]byte, 12<<20) // more than the 4 MiB a Go client's stream window takes
	_, _ = rand.Read(data)
	uploadID := createUpload(t, files, room.GetId(), "big.bin", data)
	var fileID string
	for off := 0; off < len(data); off += 1 << 20 {
		res, err := files.UploadChunk(ctx, connect.NewRequest(&parleyv1.UploadChunkRequest{UploadId: uploadID, Offset: int64(off), Data: data[off : off+1<<20]}))
		if err != nil {
			t.Fatal(err)
		}
		fileID = res.Msg.GetUpload().GetFile().GetId()
	}
	download, err := files.Download(ctx, connect.NewRequest(&parleyv1.DownloadRequest{FileId: fileID}))
	if err != nil {
		t.Fatal(err)
	}
	if !download.Receive() {
		t.Fatal(download.Err())
	}
	time.Sleep(300 * time.Millisecond) // the window fills; the server's next write blocks

	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("parleyd exited with %v after SIGTERM, want status 0", err)
		}
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatal("parleyd did not exit")
	}
	took := time.Since(start)
	received := 1
	for download.Receive() {
		received++
	}
	t.Logf("SIGTERM to exit with a stalled Download: %v (--shutdown-timeout %v); the client read %d frames of %d, then %v",
		took.Round(time.Millisecond), shutdownTimeout, received, len(data)/(64<<10), download.Err())
	if took > timeBound(3*time.Second) {
		t.Errorf("exit took %v, want about the 1 s write grace (at most %v)", took, timeBound(3*time.Second))
	}
}
