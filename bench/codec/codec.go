// Package codec measures protobuf binary against protojson on Parley's real
// messages (gen/parley/v1 and gen/helloworld). Cases and Bench are shared by
// the `go test -bench` benchmarks in this package and by the bench command's
// seed scenario ("JSON 100 us vs protobuf 10 us", "protobuf ~20 B vs JSON
// ~55 B"), so both report the same work.
//
//	go test -run '^$' -bench . -benchmem ./codec
package codec

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/parley-chat/parley/gen/helloworld"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
)

// Case is one message to encode and decode.
type Case struct {
	Name string
	Msg  proto.Message
}

// Op is one codec operation.
type Op string

// Operations measured per case.
const (
	ProtoMarshal   Op = "proto-marshal"
	ProtoUnmarshal Op = "proto-unmarshal"
	JSONMarshal    Op = "protojson-marshal"
	JSONUnmarshal  Op = "protojson-unmarshal"
)

// Ops lists every operation in report order.
var Ops = []Op{ProtoMarshal, ProtoUnmarshal, JSONMarshal, JSONUnmarshal}

// Cases returns Parley's messages as a chat sends them: a tiny hello, a
// User (id, name, time: the shape of the seed's size claim), a
// SendMessageRequest with two attachment ids, a stored Message with sender,
// time and two attachments, and the same Message as a Subscribe event.
func Cases() []Case {
	at := timestamppb.New(time.Date(2026, 5, 1, 12, 30, 0, 0, time.UTC))
	alice := &parleyv1.User{Id: "usr_01J9Z8Q4W6X3M2N7P5R1T0V8YB", Username: "alice", CreateTime: at}
	file := func(id, name, typ string, size int64) *parleyv1.File {
		return &parleyv1.File{
			Id: id, RoomId: "room_01J9Z8QB3K5D7F9H1M3P5R7T9V", Name: name, ContentType: typ, Size: size,
			Sha256: strings.Repeat("9f86d081884c7d65", 4), Uploader: alice, CreateTime: at,
		}
	}
	msg := &parleyv1.Message{
		Id: "msg_01J9Z8QJ2D4F6H8K0M2P4R6T8V", RoomId: "room_01J9Z8QB3K5D7F9H1M3P5R7T9V", Seq: 48213,
		Sender: alice, Text: "Shipping the release notes now, the screenshots are attached below.",
		CreateTime: at, ClientMessageId: "c7a4e1f2-3b5d-4c6e-8f90-1a2b3c4d5e6f",
		Attachments: []*parleyv1.File{
			file("file_01J9Z8QM4F6H8K0M2P4R6T8VXA", "release-notes.png", "image/png", 184320),
			file("file_01J9Z8QN5G7J9L1N3Q5S7U9WXB", "changelog.pdf", "application/pdf", 52011),
		},
	}
	return []Case{
		{"HelloRequest", &helloworld.HelloRequest{Name: "world"}},
		{"User", alice},
		{"SendMessageRequest", &parleyv1.SendMessageRequest{
			RoomId: msg.GetRoomId(), Text: msg.GetText(), ClientMessageId: msg.GetClientMessageId(),
			AttachmentIds: []string{msg.GetAttachments()[0].GetId(), msg.GetAttachments()[1].GetId()},
		}},
		{"Message", msg},
		{"SubscribeResponse", &parleyv1.SubscribeResponse{Event: &parleyv1.SubscribeResponse_Message{Message: msg}}},
	}
}

// Sizes returns the protobuf binary and protojson encodings' lengths of m.
func Sizes(m proto.Message) (protoBytes, jsonBytes int, err error) {
	p, err := proto.Marshal(m)
	if err != nil {
		return 0, 0, err
	}
	j, err := protojson.Marshal(m)
	if err != nil {
		return 0, 0, err
	}
	return len(p), len(j), nil
}

// Bench runs op on c.Msg b.N times and reports the encoded size as the
// bytes/msg metric. Unmarshal decodes into one reused message, as a server
// reading a stream would.
func Bench(b *testing.B, c Case, op Op) {
	pb, err := proto.Marshal(c.Msg)
	if err != nil {
		b.Fatal(err)
	}
	js, err := protojson.Marshal(c.Msg)
	if err != nil {
		b.Fatal(err)
	}
	dst := c.Msg.ProtoReflect().New().Interface()
	size := len(pb)
	if op == JSONMarshal || op == JSONUnmarshal {
		size = len(js)
	}
	b.ReportAllocs()
	b.SetBytes(int64(size))
	b.ResetTimer()
	switch op {
	case ProtoMarshal:
		for b.Loop() {
			if _, err := proto.Marshal(c.Msg); err != nil {
				b.Fatal(err)
			}
		}
	case ProtoUnmarshal:
		for b.Loop() {
			if err := proto.Unmarshal(pb, dst); err != nil {
				b.Fatal(err)
			}
		}
	case JSONMarshal:
		for b.Loop() {
			if _, err := protojson.Marshal(c.Msg); err != nil {
				b.Fatal(err)
			}
		}
	case JSONUnmarshal:
		for b.Loop() {
			if err := protojson.Unmarshal(js, dst); err != nil {
				b.Fatal(err)
			}
		}
	default:
		b.Fatalf("unknown op %q", op)
	}
	b.ReportMetric(float64(size), "bytes/msg")
}
