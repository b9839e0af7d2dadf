package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/parley-chat/parley"
)

// headSeqs is the group committer's copy of rooms.head_seq, so that a send
// neither reads nor bumps the room's row: a batch writes each room's new
// head once, at its end. Entries change only inside a write transaction
// (all of them run on the one write connection, one at a time): the
// committer sets the heads it wrote just before committing, and every
// other writer of a head (nextSeq) forgets the room. A failed commit
// forgets them all, as does the first sign of a stale entry (a head
// written by another process), so the next batch reads them again.
//
// It holds up to 65,536 rooms (a few MiB); past that it starts again from
// empty, as forgetting is always safe.
type headSeqs struct {
	mu    sync.Mutex
	heads map[string]int64
}

// maxHeadSeqs is the most rooms headSeqs holds.
const maxHeadSeqs = 1 << 16

func (h *headSeqs) get(roomID string) (int64, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	head, ok := h.heads[roomID]
	return head, ok
}

func (h *headSeqs) set(roomID string, head int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.heads == nil {
		h.heads = map[string]int64{}
	}
	if _, ok := h.heads[roomID]; !ok && len(h.heads) >= maxHeadSeqs {
		clear(h.heads)
	}
	h.heads[roomID] = head
}

func (h *headSeqs) forget(roomID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.heads, roomID)
}

func (h *headSeqs) forgetAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.heads)
}

// errStaleHead says a room's head in the database is not the one the
// committer had: someone else wrote it.
var errStaleHead = errors.New("room head seq changed under the committer")

// batchHeads are the heads of the rooms one batch appends to: base is the
// head the transaction started from, head the last seq it gave out.
type batchHeads map[string]struct{ base, head int64 }

// next returns the seq the room's next append gets, reading the head from
// the committer's copy or, failing that, the database. ENOTFOUND if the
// room does not exist.
func (b batchHeads) next(ctx context.Context, tx *preparedTx, cache *headSeqs, roomID string) (int64, error) {
	if h, ok := b[roomID]; ok {
		return h.head + 1, nil
	}
	head, ok := cache.get(roomID)
	if !ok {
		err := tx.QueryRowContext(ctx, `SELECT head_seq FROM rooms WHERE id = ?`, roomID).Scan(&head)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return 0, parley.Errorf(parley.ENOTFOUND, "room not found")
		case err != nil:
			return 0, fmt.Errorf("select head seq: %w", err)
		}
	}
	b[roomID] = struct{ base, head int64 }{head, head}
	return head + 1, nil
}

// advance records that the room's append at seq is stored.
func (b batchHeads) advance(roomID string, seq int64) {
	h := b[roomID]
	h.head = seq
	b[roomID] = h
}

// write stores the heads the batch advanced, each only if the database
// still has the head the batch started from (errStaleHead if not), and
// makes them the committer's copy. Call it last in the transaction.
func (b batchHeads) write(ctx context.Context, tx *preparedTx, cache *headSeqs) error {
	for roomID, h := range b {
		if h.head == h.base {
			continue
		}
		n, err := execCount(ctx, tx, "write head seq", `UPDATE rooms SET head_seq = ? WHERE id = ? AND head_seq = ?`, h.head, roomID, h.base)
		if err != nil {
			return err
		}
		if n != 1 {
			return errStaleHead
		}
	}
	for roomID, h := range b {
		cache.set(roomID, h.head)
	}
	return nil
}
