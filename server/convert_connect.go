package server

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/parley-chat/parley"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
)

func timeToProto(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func userToProto(u parley.User) *parleyv1.User {
	return &parleyv1.User{Id: u.ID, Username: u.Username, CreateTime: timeToProto(u.CreateTime)}
}

func visibilityToProto(v parley.Visibility) parleyv1.Visibility {
	if v == parley.Private {
		return parleyv1.Visibility_VISIBILITY_PRIVATE
	}
	return parleyv1.Visibility_VISIBILITY_PUBLIC
}

func roomToProto(r parley.Room) *parleyv1.Room {
	return &parleyv1.Room{
		Id:          r.ID,
		Name:        r.Name,
		Visibility:  visibilityToProto(r.Visibility),
		CreatorId:   r.CreatorID,
		CreateTime:  timeToProto(r.CreateTime),
		HeadSeq:     r.HeadSeq,
		ReadSeq:     r.ReadSeq,
		UnreadCount: r.Unread,
	}
}

func memberToProto(m parley.Member) *parleyv1.Member {
	return &parleyv1.Member{User: userToProto(m.User), JoinTime: timeToProto(m.JoinTime)}
}

func messageToProto(m *parley.Message) *parleyv1.Message {
	return &parleyv1.Message{
		Id:              m.ID,
		RoomId:          m.RoomID,
		Seq:             m.Seq,
		Sender:          userToProto(m.Sender),
		Text:            m.Text,
		CreateTime:      timeToProto(m.CreateTime),
		ClientMessageId: m.ClientMessageID,
		Attachments:     filesToProto(m.Attachments),
		EditTime:        timeToProto(m.EditTime),
		DeleteTime:      timeToProto(m.DeleteTime),
	}
}

func filesToProto(files []parley.File) []*parleyv1.File {
	var out []*parleyv1.File
	for _, f := range files {
		out = append(out, fileToProto(f))
	}
	return out
}

// eventWrappers put a converted room event into one stream's response
// type: one function per event kind the stream carries (nil for a kind it
// does not).
type eventWrappers[T any] struct {
	message      func(*parleyv1.Message) T
	memberJoined func(*parleyv1.MemberJoined) T
	memberLeft   func(*parleyv1.MemberLeft) T
	typing       func(*parleyv1.Typing) T
	edited       func(*parleyv1.MessageChanged) T
	deleted      func(*parleyv1.MessageChanged) T
	readMarker   func(*parleyv1.ReadMarker) T
}

// eventToProto is the one conversion of room events to protobuf, wrapped
// for the stream that carries it; false for a kind the stream does not
// carry.
func eventToProto[T any](e *parley.Event, wrap eventWrappers[T]) (T, bool) {
	switch {
	case e.Kind == parley.EventMessage && wrap.message != nil:
		return wrap.message(messageToProto(e.Message)), true
	case (e.Kind == parley.EventMemberJoined || e.Kind == parley.EventMemberAdded) && wrap.memberJoined != nil:
		return wrap.memberJoined(&parleyv1.MemberJoined{RoomId: e.RoomID, User: userToProto(e.User), Time: timeToProto(e.Time), Seq: e.Seq, Actor: userToProto(e.Actor)}), true
	case (e.Kind == parley.EventMemberLeft || e.Kind == parley.EventMemberRemoved) && wrap.memberLeft != nil:
		return wrap.memberLeft(&parleyv1.MemberLeft{RoomId: e.RoomID, User: userToProto(e.User), Time: timeToProto(e.Time), Seq: e.Seq, Actor: userToProto(e.Actor)}), true
	case e.Kind == parley.EventMessageEdited && wrap.edited != nil:
		return wrap.edited(&parleyv1.MessageChanged{Seq: e.Seq, Message: messageToProto(e.Message)}), true
	case e.Kind == parley.EventMessageDeleted && wrap.deleted != nil:
		return wrap.deleted(&parleyv1.MessageChanged{Seq: e.Seq, Message: messageToProto(e.Message)}), true
	case e.Kind == parley.EventTyping && wrap.typing != nil:
		return wrap.typing(&parleyv1.Typing{RoomId: e.RoomID, User: userToProto(e.User)}), true
	case e.Kind == parley.EventReadMarker && wrap.readMarker != nil:
		return wrap.readMarker(&parleyv1.ReadMarker{RoomId: e.RoomID, ReadSeq: e.ReadSeq, Time: timeToProto(e.Time)}), true
	}
	var none T
	return none, false
}

// subscribeEvents wraps room events as Subscribe responses (typing notices
// are for Chat).
var subscribeEvents = eventWrappers[*parleyv1.SubscribeResponse]{
	message: func(m *parleyv1.Message) *parleyv1.SubscribeResponse {
		return &parleyv1.SubscribeResponse{Event: &parleyv1.SubscribeResponse_Message{Message: m}}
	},
	memberJoined: func(m *parleyv1.MemberJoined) *parleyv1.SubscribeResponse {
		return &parleyv1.SubscribeResponse{Event: &parleyv1.SubscribeResponse_MemberJoined{MemberJoined: m}}
	},
	edited: func(m *parleyv1.MessageChanged) *parleyv1.SubscribeResponse {
		return &parleyv1.SubscribeResponse{Event: &parleyv1.SubscribeResponse_MessageEdited{MessageEdited: m}}
	},
	deleted: func(m *parleyv1.MessageChanged) *parleyv1.SubscribeResponse {
		return &parleyv1.SubscribeResponse{Event: &parleyv1.SubscribeResponse_MessageDeleted{MessageDeleted: m}}
	},
	memberLeft: func(m *parleyv1.MemberLeft) *parleyv1.SubscribeResponse {
		return &parleyv1.SubscribeResponse{Event: &parleyv1.SubscribeResponse_MemberLeft{MemberLeft: m}}
	},
	readMarker: func(m *parleyv1.ReadMarker) *parleyv1.SubscribeResponse {
		return &parleyv1.SubscribeResponse{Event: &parleyv1.SubscribeResponse_ReadMarker{ReadMarker: m}}
	},
}

func fileToProto(f parley.File) *parleyv1.File {
	return &parleyv1.File{
		Id:          f.ID,
		RoomId:      f.RoomID,
		Name:        f.Name,
		ContentType: f.ServedContentType(), // never the declared type: see parley.ServedContentType
		Size:        f.Size,
		Sha256:      f.SHA256,
		Uploader:    userToProto(f.Uploader),
		CreateTime:  timeToProto(f.CreateTime),
	}
}

func uploadToProto(st uploadState) *parleyv1.UploadStatus {
	u := st.upload
	s := &parleyv1.UploadStatus{
		UploadId: u.ID,
		Metadata: &parleyv1.UploadMetadata{
			RoomId: u.Meta.RoomID, Name: u.Meta.Name, ContentType: u.Meta.ContentType, Size: u.Meta.Size, Sha256: u.Meta.SHA256,
		},
		Offset: st.offset,
	}
	if st.file != nil {
		s.File = fileToProto(*st.file)
	}
	return s
}
