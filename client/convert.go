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

// memberChange is what MemberJoined and MemberLeft have in common.
type memberChange interface {
	GetRoomId() string
	GetUser() *parleyv1.User
	GetActor() *parleyv1.User
	GetTime() *timestamppb.Timestamp
	GetSeq() int64
}

// memberEvent converts a member change: by the user themselves it is self
// (joined, left), by someone else other (added, removed).
func memberEvent(self, other parley.EventKind, m memberChange) *parley.Event {
	ev := &parley.Event{Kind: self, RoomID: m.GetRoomId(), Seq: m.GetSeq(), User: userFromProto(m.GetUser()), Actor: userFromProto(m.GetActor()), Time: timeFromProto(m.GetTime())}
	if ev.Actor.ID == "" {
		ev.Actor = ev.User
	}
	if ev.Actor.ID != ev.User.ID {
		ev.Kind = other
	}
	return ev
}

func readMarkerEvent(m *parleyv1.ReadMarker) *parley.Event {
	return &parley.Event{Kind: parley.EventReadMarker, RoomID: m.GetRoomId(), ReadSeq: m.GetReadSeq(), Time: timeFromProto(m.GetTime())}
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
		return memberEvent(parley.EventMemberJoined, parley.EventMemberAdded, e.MemberJoined)
	case *parleyv1.SubscribeResponse_MemberLeft:
		return memberEvent(parley.EventMemberLeft, parley.EventMemberRemoved, e.MemberLeft)
	case *parleyv1.SubscribeResponse_ReadMarker:
		return readMarkerEvent(e.ReadMarker)
	}
	return nil
}
