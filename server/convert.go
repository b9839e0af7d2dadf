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
		Id:         r.ID,
		Name:       r.Name,
		Visibility: visibilityToProto(r.Visibility),
		CreatorId:  r.CreatorID,
		CreateTime: timeToProto(r.CreateTime),
		HeadSeq:    r.HeadSeq,
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
	}
}

func filesToProto(files []parley.File) []*parleyv1.File {
	var out []*parleyv1.File
	for _, f := range files {
		out = append(out, fileToProto(f))
	}
	return out
}

func eventToProto(e *parley.Event) *parleyv1.SubscribeResponse {
	switch e.Kind {
	case parley.EventMessage:
		return &parleyv1.SubscribeResponse{Event: &parleyv1.SubscribeResponse_Message{Message: messageToProto(e.Message)}}
	case parley.EventMemberJoined:
		return &parleyv1.SubscribeResponse{Event: &parleyv1.SubscribeResponse_MemberJoined{MemberJoined: memberJoinedToProto(e)}}
	case parley.EventMemberLeft:
		return &parleyv1.SubscribeResponse{Event: &parleyv1.SubscribeResponse_MemberLeft{MemberLeft: memberLeftToProto(e)}}
	}
	return &parleyv1.SubscribeResponse{}
}

func memberJoinedToProto(e *parley.Event) *parleyv1.MemberJoined {
	return &parleyv1.MemberJoined{RoomId: e.RoomID, User: userToProto(e.User), Time: timeToProto(e.Time)}
}

func memberLeftToProto(e *parley.Event) *parleyv1.MemberLeft {
	return &parleyv1.MemberLeft{RoomId: e.RoomID, User: userToProto(e.User), Time: timeToProto(e.Time)}
}

func fileToProto(f parley.File) *parleyv1.File {
	return &parleyv1.File{
		Id:          f.ID,
		RoomId:      f.RoomID,
		Name:        f.Name,
		ContentType: f.ContentType,
		Size:        f.Size,
		Sha256:      f.SHA256,
		Uploader:    userToProto(f.Uploader),
		CreateTime:  timeToProto(f.CreateTime),
	}
}

func uploadToProto(u parley.Upload, offset int64, file *parley.File) *parleyv1.UploadStatus {
	s := &parleyv1.UploadStatus{
		UploadId: u.ID,
		Metadata: &parleyv1.UploadMetadata{
			RoomId: u.Meta.RoomID, Name: u.Meta.Name, ContentType: u.Meta.ContentType, Size: u.Meta.Size, Sha256: u.Meta.SHA256,
		},
		Offset: offset,
	}
	if file != nil {
		s.File = fileToProto(*file)
	}
	return s
}
