package main

import (
	"strings"
	"testing"

	"github.com/parley-chat/parley/internal/testserver"
)

// TestEditDeleteAndUnread edits and deletes messages with the CLI, reads
// unread counts in `rooms list`, marks the room read, and replays the room
// with `watch --since 0`: the edit and the deletion are shown, and history
// shows the latest form.
func TestEditDeleteAndUnread(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	ada, bob := newUser(t, srv.URL), newUser(t, srv.URL)
	ada.signup("ada")
	bob.signup("bob")
	ada.ok("rooms", "create", "general")
	bob.ok("rooms", "join", "general")                                                 // #1 of the room's log
	ada.ok("send", "general", "helo bob")                                              // #2
	ada.ok("send", "general", "wrong one")                                             // #3
	contains(t, ada.ok("edit", "general", "2", "hello", "bob"), "#2 ")                 // #4
	contains(t, ada.ok("edit", "general", "#2", "hello", "bob"), "hello bob (edited)") // a retry
	contains(t, ada.ok("delete", "general", "3"), "#3 ")                               // #5
	contains(t, bob.fails("edit", "general", "2", "mine now"), "")
	contains(t, ada.fails("edit", "general", "1", "x"), "no message #1 in room general") // bob's join
	contains(t, bob.ok("rooms", "list"), "UNREAD")
	list := bob.ok("rooms", "list")
	if !strings.Contains(list, "general") || !strings.Contains(strings.Fields(lineWith(list, "general"))[4], "1") {
		t.Fatalf("rooms list for bob:\n%s\nwant 1 unread (ada's edited message; the deleted one does not count)", list)
	}
	contains(t, bob.ok("read", "general", "5"), "up to #5")
	if f := strings.Fields(lineWith(bob.ok("rooms", "list"), "general")); f[4] != "0" {
		t.Fatalf("unread after read: %v", f)
	}
	hist := bob.ok("history", "general")
	contains(t, hist, "ada: hello bob (edited)")
	contains(t, hist, "ada: (deleted)")
	if strings.Contains(hist, "wrong one") {
		t.Fatalf("history still shows the deleted text:\n%s", hist)
	}
	watch := bob.ok("watch", "general", "--since", "0", "-n", "4")
	contains(t, watch, "-- bob joined")
	contains(t, watch, "-- #2 edited: hello bob")
	contains(t, watch, "-- #3 deleted")
}

// lineWith returns the first line of out containing s.
func lineWith(out, s string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}
