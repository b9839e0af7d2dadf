package server_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/gen/helloworld"
	"github.com/parley-chat/parley/gen/helloworld/helloworldconnect"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
	"github.com/parley-chat/parley/internal/testserver"
	"github.com/parley-chat/parley/server"
)

// The fuzz targets send arbitrary request bodies, resume cursors and page
// tokens through the production handler (server.New with every middleware)
// in process, and accept only well-formed protocol errors: no panic (the
// handler's recovery is watched through the log), no internal or unknown
// code, no hang. Without -fuzz they replay their seeds as ordinary tests;
// `task fuzz` runs each for longer.
//
// Upload offsets have their own target, FuzzUploadChunkOffset
// (fuzz_upload_test.go).

// fuzzProcedures are the unary procedures whose bodies are fuzzed. SignOut
// is left out: it would revoke the fuzzer's own token.
var fuzzProcedures = []string{
	helloworldconnect.GreeterSayHelloProcedure,
	parleyv1connect.AuthServiceSignUpProcedure,
	parleyv1connect.AuthServiceSignInProcedure,
	parleyv1connect.AuthServiceGetMeProcedure,
	parleyv1connect.RoomServiceCreateRoomProcedure,
	parleyv1connect.RoomServiceGetRoomProcedure,
	parleyv1connect.RoomServiceListRoomsProcedure,
	parleyv1connect.RoomServiceJoinRoomProcedure,
	parleyv1connect.RoomServiceAddMemberProcedure,
	parleyv1connect.RoomServiceLeaveRoomProcedure,
	parleyv1connect.RoomServiceListMembersProcedure,
	parleyv1connect.MessageServiceSendMessageProcedure,
	parleyv1connect.MessageServiceListMessagesProcedure,
	parleyv1connect.FileServiceCreateUploadProcedure,
	parleyv1connect.FileServiceUploadChunkProcedure,
	parleyv1connect.FileServiceGetUploadProcedure,
}

// fuzzSeeds are valid requests, one per procedure above, to start from.
func fuzzSeeds() []proto.Message {
	return []proto.Message{
		&helloworld.HelloRequest{Name: "fuzz"},
		&parleyv1.SignUpRequest{Username: "mallory", Password: "correct horse"},
		&parleyv1.SignInRequest{Username: "fuzzer", Password: testserver.Password},
		&parleyv1.GetMeRequest{},
		&parleyv1.CreateRoomRequest{Name: "fuzzing", Visibility: parleyv1.Visibility_VISIBILITY_PUBLIC},
		&parleyv1.GetRoomRequest{RoomId: "r1"},
		&parleyv1.ListRoomsRequest{PageSize: 2},
		&parleyv1.JoinRoomRequest{RoomId: "r1"},
		&parleyv1.AddMemberRequest{RoomId: "r1", Username: "fuzzer"},
		&parleyv1.LeaveRoomRequest{RoomId: "r1"},
		&parleyv1.ListMembersRequest{RoomId: "r1", PageSize: 1},
		&parleyv1.SendMessageRequest{RoomId: "r1", Text: "hello", ClientMessageId: "c1"},
		&parleyv1.ListMessagesRequest{RoomId: "r1", Limit: 10},
		&parleyv1.CreateUploadRequest{Metadata: &parleyv1.UploadMetadata{RoomId: "r1", Name: "a.txt", Size: 3,
			Sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}},
		&parleyv1.UploadChunkRequest{UploadId: "up_x", Offset: 0, Data: []byte("abc")},
		&parleyv1.GetUploadRequest{UploadId: "up_x"},
	}
}

// fuzzTarget is the production handler with a signed-up user, a room with
// three messages, and a log that records panics and internal errors.
type fuzzTarget struct {
	handler http.Handler
	token   string
	roomID  string
	head    int64
	log     *problemLog
}

func newFuzzTarget(f *testing.F) *fuzzTarget {
	f.Helper()
	log := &problemLog{}
	srv := testserver.Start(f, server.WithLogger(slog.New(log)), server.WithReadMaxBytes(64<<10))
	u := testserver.SignUp(f, srv.Client(f, "connect/proto/h2c"), "fuzzer")
	room := u.CreateRoom(f, "fuzz", parleyv1.Visibility_VISIBILITY_PUBLIC)
	var head int64
	for i := range 3 {
		head = u.SendMessage(f, room.GetId(), fmt.Sprint("message ", i), fmt.Sprint("seed-", i)).GetSeq()
	}
	return &fuzzTarget{handler: srv.Handler, token: u.Token, roomID: room.GetId(), head: head, log: log}
}

// call sends one request through the handler and fails the test on a hang
// or on a panic or internal error recorded in the log.
func (ft *fuzzTarget) call(t *testing.T, procedure, contentType string, header http.Header, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := ft.request(ctx, procedure, contentType, body)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	ft.serve(t, rec, req, procedure)
	return rec
}

// request is a call of procedure as the fuzz target's user.
func (ft *fuzzTarget) request(ctx context.Context, procedure, contentType string, body []byte) *http.Request {
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, procedure, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+ft.token)
	return req
}

// serve runs req through the handler and fails the test, naming what was
// called, on a hang or on a panic or internal error recorded in the log.
func (ft *fuzzTarget) serve(t *testing.T, w http.ResponseWriter, req *http.Request, what string) {
	t.Helper()
	start := time.Now()
	ft.handler.ServeHTTP(w, req)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("%s took %v", what, d)
	}
	if problem := ft.log.take(); problem != "" {
		t.Fatalf("%s logged: %s", what, problem)
	}
}

// problemLog is a slog.Handler that keeps the first panic or internal error
// the server logged. The one line per request is not a problem by itself:
// framing errors are internal by the protocols' own rules (see allowed).
type problemLog struct {
	mu      sync.Mutex
	problem string
}

func (l *problemLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *problemLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *problemLog) WithGroup(string) slog.Handler            { return l }
func (l *problemLog) Handle(_ context.Context, r slog.Record) error {
	if r.Level < slog.LevelError || r.Message == "rpc" {
		return nil
	}
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.problem == "" {
		l.problem = b.String()
	}
	return nil
}

func (l *problemLog) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.problem
	l.problem = ""
	return p
}

// allowed reports whether a garbage request may earn code: anything but
// unknown, and internal only as connect-go's verdict on a malformed body or
// envelope ("protocol error: ...", "corrupt response: ...", "gRPC-Web
// protocol error: ..."; the gRPC spec makes framing errors internal).
// Parley's own internal errors say only "internal error", and are caught
// in the log as well.
func allowed(code connect.Code, message string) bool {
	switch code {
	case connect.CodeUnknown:
		return false
	case connect.CodeInternal:
		return message != "internal error"
	}
	return code >= connect.CodeCanceled && code <= connect.CodeUnauthenticated
}

func pick(i uint8, n int) int { return int(i) % n }

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// envelope frames msg as the gRPC and Connect streaming protocols do.
func envelope(flags byte, msg []byte) []byte {
	out := make([]byte, 5, 5+len(msg))
	out[0] = flags
	binary.BigEndian.PutUint32(out[1:], uint32(len(msg)))
	return append(out, msg...)
}

// checkConnectUnary accepts a 200 or a Connect error body with a valid code.
func checkConnectUnary(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code == http.StatusOK {
		return
	}
	var e struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("HTTP %d with a body that is not a Connect error: %v: %q", rec.Code, err, rec.Body.String())
	}
	var code connect.Code
	if err := code.UnmarshalText([]byte(e.Code)); err != nil || !allowed(code, e.Message) {
		t.Fatalf("HTTP %d, code %q: %s", rec.Code, e.Code, rec.Body.String())
	}
}

// checkGRPCStatus accepts a grpc-status in the valid range, from the
// trailers, the headers (trailers-only) or, for gRPC-Web, the trailer frame.
func checkGRPCStatus(t *testing.T, rec *httptest.ResponseRecorder, web bool) {
	t.Helper()
	res := rec.Result()
	var body []byte
	if web {
		body = rec.Body.Bytes()
	}
	status, message, truncated := testserver.GRPCStatus(res, body)
	if truncated {
		t.Fatalf("truncated gRPC-Web frame: %q", rec.Body.String())
	}
	if rec.Code != http.StatusOK {
		t.Fatalf("HTTP %d (gRPC answers 200): %q", rec.Code, rec.Body.String())
	}
	code, err := strconv.Atoi(status)
	if err != nil {
		t.Fatalf("no grpc-status (%q): headers %v trailers %v", status, res.Header, res.Trailer)
	}
	if message, err = url.PathUnescape(message); err != nil {
		t.Fatalf("grpc-message not percent-encoded: %v", err)
	}
	if code != 0 && !allowed(connect.Code(code), message) {
		t.Fatalf("grpc-status %d (%s): %s", code, connect.Code(code), message)
	}
}

func addBodySeeds(f *testing.F, marshal func(proto.Message) ([]byte, error), frame bool) {
	for i, msg := range fuzzSeeds() {
		b, err := marshal(msg)
		if err != nil {
			f.Fatal(err)
		}
		if frame {
			b = envelope(0, b)
		}
		f.Add(uint8(i), false, b)
	}
	f.Add(uint8(0), true, []byte{})
}

func FuzzConnectProto(f *testing.F) {
	addBodySeeds(f, proto.Marshal, false)
	fuzzConnectUnary(f, "application/proto")
}

func FuzzConnectJSON(f *testing.F) {
	addBodySeeds(f, protojson.Marshal, false)
	f.Add(uint8(11), false, []byte(`{"roomId":"r1","text":"\ud800","clientMessageId":"x"}`))
	f.Add(uint8(12), false, []byte(`{"roomId":"r1","afterSeq":"-9223372036854775808","limit":2147483647}`))
	fuzzConnectUnary(f, "application/json")
}

// fuzzConnectUnary fuzzes unary Connect calls with bodies of contentType,
// gzipped when compress is set, against a new target.
func fuzzConnectUnary(f *testing.F, contentType string) {
	ft := newFuzzTarget(f)
	f.Fuzz(func(t *testing.T, proc uint8, compress bool, body []byte) {
		header := http.Header{}
		if compress {
			header.Set("Content-Encoding", "gzip")
			body = gzipped(body)
		}
		rec := ft.call(t, fuzzProcedures[pick(proc, len(fuzzProcedures))], contentType, header, body)
		checkConnectUnary(t, rec)
	})
}

// FuzzGRPC fuzzes the whole gRPC body, envelopes included, so framing
// (compressed flag, lengths, trailing bytes) is fuzzed with the message.
func FuzzGRPC(f *testing.F) {
	addBodySeeds(f, proto.Marshal, true)
	f.Add(uint8(0), false, envelope(1, gzipped([]byte("\x0a\x04fuzz"))))
	f.Add(uint8(0), false, []byte{0, 0xff, 0xff, 0xff, 0xff})
	ft := newFuzzTarget(f)
	f.Fuzz(func(t *testing.T, proc uint8, compress bool, body []byte) {
		header := http.Header{"Te": {"trailers"}}
		if compress {
			header.Set("Grpc-Encoding", "gzip")
		}
		rec := ft.call(t, fuzzProcedures[pick(proc, len(fuzzProcedures))], "application/grpc", header, body)
		checkGRPCStatus(t, rec, false)
	})
}

func FuzzGRPCWeb(f *testing.F) {
	addBodySeeds(f, proto.Marshal, true)
	f.Add(uint8(0), false, append(envelope(0, []byte("\x0a\x04fuzz")), envelope(0x80, []byte("grpc-status: 0\r\n"))...))
	ft := newFuzzTarget(f)
	f.Fuzz(func(t *testing.T, proc uint8, compress bool, body []byte) {
		header := http.Header{}
		if compress {
			header.Set("Grpc-Encoding", "gzip")
		}
		rec := ft.call(t, fuzzProcedures[pick(proc, len(fuzzProcedures))], "application/grpc-web+proto", header, body)
		checkGRPCStatus(t, rec, true)
	})
}

// FuzzSubscribeSince resumes a Subscribe stream from arbitrary sequences
// over each protocol: a negative cursor is invalid_argument, one beyond
// the head out_of_range, anything else replays exactly (since, head] in
// order before going live.
func FuzzSubscribeSince(f *testing.F) {
	for _, since := range []int64{0, 1, 2, 3, 4, -1, 1 << 62, -1 << 63} {
		for protocol := range uint8(3) {
			f.Add(since, protocol)
		}
	}
	ft := newFuzzTarget(f)
	f.Fuzz(func(t *testing.T, since int64, protocol uint8) {
		req, err := proto.Marshal(&parleyv1.SubscribeRequest{RoomId: ft.roomID, SinceSeq: since})
		if err != nil {
			t.Fatal(err)
		}
		contentType, body := "application/connect+proto", envelope(0, req)
		switch protocol % 3 {
		case 1:
			contentType = "application/grpc"
		case 2:
			contentType = "application/grpc-web+proto"
		}
		want := max(ft.head-max(since, 0), 0)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		w := &streamRecorder{ResponseRecorder: httptest.NewRecorder(), cancel: cancel, want: int(want)}
		if since == ft.head {
			// Nothing to replay: the stream goes live at once, so end it
			// once its headers are out.
			w.want = 0
		}
		r := ft.request(ctx, parleyv1connect.MessageServiceSubscribeProcedure, contentType, body)
		ft.serve(t, w, r, fmt.Sprintf("since %d: Subscribe", since))
		var seqs []int64
		for _, frame := range w.messages() {
			var res parleyv1.SubscribeResponse
			if err := proto.Unmarshal(frame, &res); err != nil {
				t.Fatalf("since %d: bad frame: %v", since, err)
			}
			if m := res.GetMessage(); m != nil {
				seqs = append(seqs, m.GetSeq())
			}
		}
		switch {
		case since < 0 || since > ft.head:
			if len(seqs) != 0 {
				t.Fatalf("since %d: got messages %v, want an error", since, seqs)
			}
		default:
			for i, seq := range seqs {
				if seq != since+int64(i)+1 {
					t.Fatalf("since %d: got %v, want %d..%d", since, seqs, since+1, ft.head)
				}
			}
			if int64(len(seqs)) != want {
				t.Fatalf("since %d: got %v, want %d messages", since, seqs, want)
			}
		}
	})
}

// streamRecorder collects a server stream's enveloped frames and cancels
// the call once the wanted number of messages (or an end) arrived.
type streamRecorder struct {
	*httptest.ResponseRecorder
	mu     sync.Mutex
	cancel context.CancelFunc
	want   int
}

func (w *streamRecorder) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.ResponseRecorder.Write(b)
	frames, end := splitFrames(w.Body.Bytes())
	if end || len(frames) >= w.want {
		w.cancel()
	}
	return n, err
}

func (w *streamRecorder) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ResponseRecorder.Flush()
	if w.want == 0 {
		w.cancel()
	}
}

func (w *streamRecorder) messages() [][]byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	frames, _ := splitFrames(w.Body.Bytes())
	return frames
}

// splitFrames returns the data frames in b (not the end-of-stream or
// trailer frame) and whether such an end frame arrived.
func splitFrames(b []byte) (frames [][]byte, end bool) {
	for len(b) >= 5 {
		n := int(binary.BigEndian.Uint32(b[1:5]))
		if len(b) < 5+n {
			break
		}
		if b[0]&0x82 != 0 {
			end = true
		} else {
			frames = append(frames, b[5:5+n])
		}
		b = b[5+n:]
	}
	return frames, end
}

// FuzzPageToken pages ListRooms and ListMembers with arbitrary tokens and
// sizes: a token the server did not issue is invalid_argument, never a
// crash or a listing of someone else's data.
func FuzzPageToken(f *testing.F) {
	for _, token := range []string{
		"",
		base64.RawURLEncoding.EncodeToString([]byte("rooms:fuzz")),
		base64.RawURLEncoding.EncodeToString([]byte("members:fuzzer")),
		base64.RawURLEncoding.EncodeToString([]byte("rooms:")),
		base64.RawURLEncoding.EncodeToString([]byte("members:\x00\xff")),
		"!!not base64!!",
		strings.Repeat("A", 300),
	} {
		f.Add(false, token, int32(1))
		f.Add(true, token, int32(-1))
	}
	ft := newFuzzTarget(f)
	f.Fuzz(func(t *testing.T, members bool, token string, size int32) {
		procedure := parleyv1connect.RoomServiceListRoomsProcedure
		var msg proto.Message = &parleyv1.ListRoomsRequest{PageSize: size, PageToken: token}
		if members {
			procedure = parleyv1connect.RoomServiceListMembersProcedure
			msg = &parleyv1.ListMembersRequest{RoomId: ft.roomID, PageSize: size, PageToken: token}
		}
		body, err := proto.Marshal(msg)
		if err != nil {
			return // invalid UTF-8: the body fuzzers cover what the server does with it
		}
		rec := ft.call(t, procedure, "application/proto", nil, body)
		checkConnectUnary(t, rec)
	})
}
