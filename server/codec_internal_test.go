package server

import (
	"bytes"
	"testing"

	"github.com/parley-chat/parley"
)

// TestSharedEncodingIsNeverHandedOut guards the bug where connect-go put a
// subscriber's frame into its buffer pool and the next message overwrote
// the bytes every other subscriber was about to send.
func TestSharedEncodingIsNeverHandedOut(t *testing.T) {
	t.Parallel()
	ev := &parley.Event{Kind: parley.EventMessage, RoomID: "r1", Seq: 1, Message: &parley.Message{ID: "m1", RoomID: "r1", Seq: 1, Text: "hello"}}
	for _, codec := range []*sharingCodec{{name: "proto"}, {name: "json", json: true}} {
		first, err := codec.Marshal(&eventFrame{shared: ev})
		if err != nil {
			t.Fatal(err)
		}
		want := bytes.Clone(first)
		for i := range first {
			first[i] = 'X' // as a pooled buffer's next user would
		}
		again, err := codec.MarshalAppend([]byte("prefix"), &eventFrame{shared: ev})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, append([]byte("prefix"), want...)) {
			t.Errorf("%s: the shared encoding was changed through a returned slice: %q", codec.name, again)
		}
	}
}
