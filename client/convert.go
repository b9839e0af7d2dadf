package client

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/parley-chat/parley"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
)

func timeFromProto(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

func userFromProto(u *parleyv1.User) parley.User {
	return parley.User{ID: u.GetId(), Username: u.GetUsername(), CreateTime: timeFromProto(u.GetCreateTime())}
}

func visibilityFromProto(v parleyv1.Visibility) parley.Visibility {
	if v == parleyv1.Visibility_VISIBILITY_PRIVATE {
		return parley.Private
	}
	return parley.Public
}

func visibilityToProto(v parley.Visibility) parleyv1.Visibility {
	if v == parley.Private {
		return parleyv1.Visibility_VISIBILITY_PRIVATE
	}
	return parleyv1.Visibility_VISIBILITY_PUBLIC
}

func roomFromProto(r *parleyv1.Room) parley.Room {
	return parley.Room{
		ID:         r.GetId(),
		Name:       r.GetName(),
		Visibility: visibilityFromProto(r.GetVisibility()),
		CreatorID:  r.GetCreatorId(),
		CreateTime: timeFromProto(r.GetCreateTime()),
		HeadSeq:    r.GetHeadSeq(),
		ReadSeq:    r.GetReadSeq(),
		Unread:     r.GetUnreadCount(),
	}
}

func memberFromProto(roomID string, m *parleyv1.Member) parley.Member {
	return parley.Member{RoomID: roomID, User: userFromProto(m.GetUser()), JoinTime: timeFromProto(m.GetJoinTime())}
}

func fileFromProto(f *parleyv1.File) parley.File {
	return parley.File{
		ID:          f.GetId(),
		RoomID:      f.GetRoomId(),
		Name:        f.GetName(),
		ContentType: f.GetContentType(),
		Size:        f.GetSize(),
		SHA256:      f.GetSha256(),
		Uploader:    userFromProto(f.GetUploader()),
		CreateTime:  timeFromProto(f.GetCreateTime()),
	}
}

func messageFromProto(m *parleyv1.Message) parley.Message {
	msg := parley.Message{
		ID:              m.GetId(),
		RoomID:          m.GetRoomId(),
		Seq:             m.GetSeq(),
		Sender:          userFromProto(m.GetSender()),
		Text:            m.GetText(),
		ClientMessageID: m.GetClientMessageId(),
		CreateTime:      timeFromProto(m.GetCreateTime()),
		EditTime:        timeFromProto(m.GetEditTime()),
		DeleteTime:      timeFromProto(m.GetDeleteTime()),
	}
	for _, f := range m.GetAttachments() {
		msg.Attachments = append(msg.Attachments, fileFromProto(f))
	}
	return msg
}

func memberEvent(kind parley.EventKind, roomID string, u *parleyv1.User, t *timestamppb.Timestamp) *parley.Event {
	return &parley.Event{Kind: kind, RoomID: roomID, User: userFromProto(u), Time: timeFromProto(t)}
}

func messageEvent(m *parleyv1.Message) *parley.Event {
	msg := messageFromProto(m)
	return &parley.Event{Kind: parley.EventMessage, RoomID: msg.RoomID, Seq: msg.Seq, Message: &msg}
}

// changeEvent converts an edit or a deletion.
func changeEvent(kind parley.EventKind, c *parleyv1.MessageChanged) *parley.Event {
	msg := messageFromProto(c.GetMessage())
	return &parley.Event{Kind: kind, RoomID: msg.RoomID, Seq: c.GetSeq(), Message: &msg}
}

// eventFromProto converts a Subscribe frame; heartbeats (and frames of a
// kind this client does not know) return nil.
func eventFromProto(res *parleyv1.SubscribeResponse) *parley.Event {
	switch e := res.GetEvent().(type) {
	case *parleyv1.SubscribeResponse_Message:
		return messageEvent(e.Message)
	case *parleyv1.SubscribeResponse_MessageEdited:
		return changeEvent(parley.EventMessageEdited, e.MessageEdited)
	case *parleyv1.SubscribeResponse_MessageDeleted:
		return changeEvent(parley.EventMessageDeleted, e.MessageDeleted)
	case *parleyv1.SubscribeResponse_MemberJoined:
		return memberEvent(parley.EventMemberJoined, e.MemberJoined.GetRoomId(), e.MemberJoined.GetUser(), e.MemberJoined.GetTime())
	case *parleyv1.SubscribeResponse_MemberLeft:
		return memberEvent(parley.EventMemberLeft, e.MemberLeft.GetRoomId(), e.MemberLeft.GetUser(), e.MemberLeft.GetTime())
	}
	return nil
}
