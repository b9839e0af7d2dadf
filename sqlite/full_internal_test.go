package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/storetest"
)

// TestStorageFull makes SQLite run out of room (PRAGMA max_page_count on
// the write connection: SQLITE_FULL, as on a full disk) and checks that
// writes fail with ESTORAGEFULL, a failed group commit stores and
// publishes nothing, reads go on, and once there is room again writes
// succeed with every acknowledged message intact. cmd/parleyd's
// TestDiskFull fills a real disk.
func TestStorageFull(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	u := storetest.CreateUser(t, s, "filler")
	room := storetest.CreateRoom(t, s, "full", parley.Public, u)
	var pages int
	if err := s.write.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.write.ExecContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages+2)); err != nil {
		t.Fatal(err)
	}

	published := 0
	acked := map[int64]string{}
	var fullErr error
	for i := 0; fullErr == nil; i++ {
		if i > 10000 {
			t.Fatal("appends never failed")
		}
		id := fmt.Sprintf("m%d", i)
		msg, _, err := s.AppendMessage(ctx, parley.NewMessage{RoomID: room.ID, SenderID: u.ID, Text: id + strings.Repeat("x", 2000), ClientMessageID: id},
			func(*parley.Message) { published++ })
		if err != nil {
			fullErr = err
			break
		}
		acked[msg.Seq] = id
	}
	if got := parley.ErrorCodeOf(fullErr); got != parley.ESTORAGEFULL {
		t.Fatalf("append into a full database: %v (code %q), want %q", fullErr, got, parley.ESTORAGEFULL)
	}
	if published != len(acked) {
		t.Errorf("%d published, %d acknowledged: a failed append was published", published, len(acked))
	}
	if _, err := s.CreateRoom(ctx, strings.Repeat("r", 100), parley.Public, u.ID); parley.ErrorCodeOf(err) != parley.ESTORAGEFULL {
		// A room may still fit in a page already there; then fill on.
		for i := 0; err == nil && i < 1000; i++ {
			_, err = s.CreateRoom(ctx, fmt.Sprintf("room-%d-%s", i, strings.Repeat("r", 200)), parley.Public, u.ID)
		}
		if parley.ErrorCodeOf(err) != parley.ESTORAGEFULL {
			t.Errorf("CreateRoom into a full database: %v, want %q", err, parley.ESTORAGEFULL)
		}
	}
	msgs, head, err := s.ListMessages(ctx, room.ID, parley.HistoryQuery{Forward: true, Limit: 1000})
	if err != nil || int(head) != len(acked) || len(msgs) != len(acked) {
		t.Fatalf("reads while full: %d messages, head %d, %v; %d acknowledged", len(msgs), head, err, len(acked))
	}
	t.Logf("%d appends acknowledged, then: %v", len(acked), fullErr)

	if _, err := s.write.ExecContext(ctx, `PRAGMA max_page_count = 1073741823`); err != nil {
		t.Fatal(err)
	}
	if err := s.ProbeWrite(ctx); err != nil {
		t.Fatalf("ProbeWrite with room again: %v", err)
	}
	msg, _, err := s.AppendMessage(ctx, parley.NewMessage{RoomID: room.ID, SenderID: u.ID, Text: "after", ClientMessageID: "after"}, nil)
	if err != nil || msg.Seq != int64(len(acked)+1) {
		t.Fatalf("append with room again: seq %d, %v; want seq %d", msg.Seq, err, len(acked)+1)
	}
	msgs, _, err = s.ListMessages(ctx, room.ID, parley.HistoryQuery{Forward: true, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs[:len(msgs)-1] {
		if acked[m.Seq] != m.ClientMessageID {
			t.Errorf("seq %d is %q, acknowledged as %q", m.Seq, m.ClientMessageID, acked[m.Seq])
		}
	}
}
