package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/parley-chat/parley"
)

// The JSON shapes --json prints, one object per line. Field names follow
// the API's JSON (snake_case); times are RFC 3339.

type userJSON struct {
	ID         string     `json:"id"`
	Username   string     `json:"username"`
	CreateTime *time.Time `json:"create_time,omitempty"`
}

type roomJSON struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Visibility string    `json:"visibility"`
	CreatorID  string    `json:"creator_id"`
	CreateTime time.Time `json:"create_time"`
	HeadSeq    int64     `json:"head_seq"`
	ReadSeq    int64     `json:"read_seq"`
	Unread     int64     `json:"unread_count"`
}

type memberJSON struct {
	RoomID   string    `json:"room_id"`
	User     userJSON  `json:"user"`
	JoinTime time.Time `json:"join_time"`
}

type fileJSON struct {
	ID          string    `json:"id"`
	RoomID      string    `json:"room_id"`
	Name        string    `json:"name"`
	ContentType string    `json:"content_type,omitempty"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	Uploader    userJSON  `json:"uploader"`
	CreateTime  time.Time `json:"create_time"`
}

type messageJSON struct {
	ID              string     `json:"id"`
	RoomID          string     `json:"room_id"`
	Seq             int64      `json:"seq"`
	Sender          userJSON   `json:"sender"`
	Text            string     `json:"text"`
	CreateTime      time.Time  `json:"create_time"`
	ClientMessageID string     `json:"client_message_id"`
	Attachments     []fileJSON `json:"attachments,omitempty"`
	EditTime        *time.Time `json:"edit_time,omitempty"`
	DeleteTime      *time.Time `json:"delete_time,omitempty"`
}

// eventJSON is one line of `watch --json` and `chat --json`.
type eventJSON struct {
	Type    string       `json:"type"` // message, message_edited, message_deleted, member_joined, member_left, read_marker, typing
	RoomID  string       `json:"room_id"`
	Seq     int64        `json:"seq,omitempty"`
	Message *messageJSON `json:"message,omitempty"`
	User    *userJSON    `json:"user,omitempty"`
	Actor   *userJSON    `json:"actor,omitempty"` // who added or removed User; unset when they joined or left themselves
	ReadSeq int64        `json:"read_seq,omitempty"`
	Time    *time.Time   `json:"time,omitempty"`
}

func userOut(u parley.User) userJSON {
	out := userJSON{ID: u.ID, Username: u.Username}
	if !u.CreateTime.IsZero() {
		out.CreateTime = &u.CreateTime
	}
	return out
}

func roomOut(r parley.Room) roomJSON {
	v := "public"
	if r.Visibility == parley.Private {
		v = "private"
	}
	return roomJSON{ID: r.ID, Name: r.Name, Visibility: v, CreatorID: r.CreatorID, CreateTime: r.CreateTime, HeadSeq: r.HeadSeq,
		ReadSeq: r.ReadSeq, Unread: r.Unread}
}

func memberOut(m parley.Member) memberJSON {
	return memberJSON{RoomID: m.RoomID, User: userOut(m.User), JoinTime: m.JoinTime}
}

func fileOut(f parley.File) fileJSON {
	return fileJSON{ID: f.ID, RoomID: f.RoomID, Name: f.Name, ContentType: f.ContentType, Size: f.Size,
		SHA256: f.SHA256, Uploader: userOut(f.Uploader), CreateTime: f.CreateTime}
}

func messageOut(m parley.Message) messageJSON {
	out := messageJSON{ID: m.ID, RoomID: m.RoomID, Seq: m.Seq, Sender: userOut(m.Sender), Text: m.Text,
		CreateTime: m.CreateTime, ClientMessageID: m.ClientMessageID}
	for _, f := range m.Attachments {
		out.Attachments = append(out.Attachments, fileOut(f))
	}
	if !m.EditTime.IsZero() {
		out.EditTime = &m.EditTime
	}
	if m.Deleted() {
		out.DeleteTime = &m.DeleteTime
	}
	return out
}

func eventOut(ev *parley.Event) eventJSON {
	out := eventJSON{RoomID: ev.RoomID, Seq: ev.Seq}
	switch ev.Kind {
	case parley.EventMessage:
		m := messageOut(*ev.Message)
		out.Type, out.Message = "message", &m
	case parley.EventMessageEdited, parley.EventMessageDeleted:
		m := messageOut(*ev.Message)
		out.Type, out.Message = "message_edited", &m
		if ev.Kind == parley.EventMessageDeleted {
			out.Type = "message_deleted"
		}
	case parley.EventMemberJoined, parley.EventMemberAdded, parley.EventMemberLeft, parley.EventMemberRemoved:
		out.Type = "member_joined"
		if ev.Kind == parley.EventMemberLeft || ev.Kind == parley.EventMemberRemoved {
			out.Type = "member_left"
		}
		u := userOut(ev.User)
		out.User, out.Time = &u, &ev.Time
		if ev.Kind == parley.EventMemberAdded || ev.Kind == parley.EventMemberRemoved {
			a := userOut(ev.Actor)
			out.Actor = &a
		}
	case parley.EventReadMarker:
		out.Type, out.ReadSeq, out.Time = "read_marker", ev.ReadSeq, &ev.Time
	}
	return out
}

// show prints a command's result: v as one line of JSON with --json,
// else text and a newline.
func (e *cli) show(v any, text string) error {
	if e.g.json {
		return e.printJSON(v)
	}
	_, err := fmt.Fprintln(e.stdout, text)
	return err
}

// printJSON writes v as one line of JSON to stdout.
func (e *cli) printJSON(v any) error { return e.printJSONTo(e.stdout, v) }

func (e *cli) printJSONTo(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// messageLine is how text output shows a message:
// "#SEQ HH:MM username: text", then one line per attachment.
func messageLine(m parley.Message) string {
	var b strings.Builder
	switch {
	case m.Deleted():
		fmt.Fprintf(&b, "#%d %s %s: (deleted)", m.Seq, m.CreateTime.Local().Format("15:04"), m.Sender.Username)
	case !m.EditTime.IsZero():
		fmt.Fprintf(&b, "#%d %s %s: %s (edited)", m.Seq, m.CreateTime.Local().Format("15:04"), m.Sender.Username, m.Text)
	default:
		fmt.Fprintf(&b, "#%d %s %s: %s", m.Seq, m.CreateTime.Local().Format("15:04"), m.Sender.Username, m.Text)
	}
	for _, f := range m.Attachments {
		fmt.Fprintf(&b, "\n    [file %s] %s (%s)", f.ID, f.Name, byteSize(f.Size))
	}
	return b.String()
}

// eventLine is how text output shows an event.
func eventLine(ev *parley.Event) string {
	switch ev.Kind {
	case parley.EventMessage:
		return messageLine(*ev.Message)
	case parley.EventMessageEdited:
		return fmt.Sprintf("-- #%d edited: %s", ev.Message.Seq, ev.Message.Text)
	case parley.EventMessageDeleted:
		return fmt.Sprintf("-- #%d deleted", ev.Message.Seq)
	case parley.EventMemberJoined:
		return fmt.Sprintf("-- %s joined", ev.User.Username)
	case parley.EventMemberAdded:
		return fmt.Sprintf("-- %s was added by %s", ev.User.Username, ev.Actor.Username)
	case parley.EventMemberLeft:
		return fmt.Sprintf("-- %s left", ev.User.Username)
	case parley.EventMemberRemoved:
		return fmt.Sprintf("-- %s was removed by %s", ev.User.Username, ev.Actor.Username)
	case parley.EventReadMarker:
		return fmt.Sprintf("-- you read up to #%d", ev.ReadSeq)
	}
	return ""
}

// byteSize formats n bytes for people: 999 B, 1.5 KiB, 25.0 MiB.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
