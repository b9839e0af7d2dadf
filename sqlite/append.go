package sqlite

import (
	"context"
	"errors"
	"fmt"

	"github.com/parley-chat/parley"
)

// maxAppendBatch is the most appends one group commit holds. A batch is
// whatever is waiting when the writer is free, so a lone send commits at
// once and a burst shares one fsync.
const maxAppendBatch = 256

// errClosed answers appends made after Close.
var errClosed = errors.New("sqlite store closed")

// appendRequest is one AppendMessage call waiting for the group committer.
type appendRequest struct {
	ctx     context.Context
	m       parley.NewMessage
	publish func(*parley.Message)
	done    chan appendResult // buffered: the committer never blocks on it
}

type appendResult struct {
	msg     parley.Message
	created bool
	err     error
}

// AppendMessage stores m with the room's next seq, stamped with the Store's
// clock, and returns it once committed, with created true. If the sender
// already stored a message with the same ClientMessageID, in any room, it
// returns that one unchanged with created false.
//
// Appends are group-committed: one goroutine takes every append waiting
// (up to 256) into one transaction and commits them with one fsync; one
// failing append leaves the others alone (see commitBatch). That goroutine
// keeps each room's head seq in memory and writes it once per batch. m.Sender,
// if given, is the sender returned; otherwise the user is read.
// publish is called for each new message after the commit, from that
// goroutine, in commit order, before any of the batch's callers return; it
// must be quick and must not call the Store. ctx bounds the caller's wait;
// an append already in a batch when ctx ends may still be stored.
//
// ENOTFOUND if the room or the sender does not exist. It does not check that
// the sender is a member: that is the caller's decision.
func (s *Store) AppendMessage(ctx context.Context, m parley.NewMessage, publish func(*parley.Message)) (parley.Message, bool, error) {
	req := &appendRequest{ctx: ctx, m: m, publish: publish, done: make(chan appendResult, 1)}
	select {
	case s.appends <- req:
	case <-s.closing:
		return parley.Message{}, false, errClosed
	case <-ctx.Done():
		return parley.Message{}, false, ctx.Err()
	}
	// The committer answers every request it took before it stops; one
	// queued after it stopped was never taken, so nothing was stored. A
	// caller that gives up may still find its message stored: a retry
	// with the same client message id returns it.
	select {
	case r := <-req.done:
		return r.msg, r.created, r.err
	case <-ctx.Done():
		return parley.Message{}, false, ctx.Err()
	case <-s.committerDone:
		select {
		case r := <-req.done:
			return r.msg, r.created, r.err
		default:
			return parley.Message{}, false, errClosed
		}
	}
}

// commitAppends is the group committer: it runs until Close, then answers
// what is still queued with errClosed.
func (s *Store) commitAppends() {
	defer close(s.committerDone)
	batch := make([]*appendRequest, 0, maxAppendBatch)
	for {
		select {
		case req := <-s.appends:
			batch = append(batch[:0], req)
		case <-s.closing:
			for {
				select {
				case req := <-s.appends:
					req.done <- appendResult{err: errClosed}
				default:
					return
				}
			}
		}
	fill:
		for len(batch) < maxAppendBatch {
			select {
			case req := <-s.appends:
				batch = append(batch, req)
			default:
				break fill
			}
		}
		s.commitBatch(batch)
		clear(batch) // drop references to answered requests
	}
}

// commitBatch appends the batch in one transaction and answers each
// request. A failed commit fails every append of the batch; nothing of it
// was published.
//
// The batch first runs without savepoints, trusting the committer's copy
// of the rooms' heads. If any append fails, that transaction is rolled
// back and the batch runs again with the heads read from the database and
// each append in a savepoint, so that one failing append leaves the
// others alone.
func (s *Store) commitBatch(batch []*appendRequest) {
	results := make([]appendResult, len(batch))
	err := s.inBatchTx(func(tx *preparedTx) error { return s.fillBatch(tx, batch, results, false) })
	if errors.Is(err, errRetryCareful) {
		s.heads.forgetAll()
		clear(results)
		err = s.inBatchTx(func(tx *preparedTx) error { return s.fillBatch(tx, batch, results, true) })
	}
	if err != nil {
		s.heads.forgetAll() // the heads it set were never committed
	}
	if commit := s.obs.Commit; commit != nil {
		commit(len(batch), err)
	}
	for i, req := range batch {
		if err != nil {
			results[i] = appendResult{err: err}
		}
		if results[i].created && req.publish != nil {
			msg := results[i].msg // a copy, so the event does not pin results
			req.publish(&msg)
		}
	}
	for i, req := range batch {
		req.done <- results[i]
	}
}

// errRetryCareful says a batch run without savepoints met an error: run
// it again with them.
var errRetryCareful = errors.New("append failed: retry the batch with savepoints")

// fillBatch appends the batch inside tx, each result in results, and
// writes the rooms' new heads. Without careful, the first failing append
// fails it with errRetryCareful; with careful, each append runs in a
// savepoint and fails alone, unless the fault is not its own.
func (s *Store) fillBatch(tx *preparedTx, batch []*appendRequest, results []appendResult, careful bool) error {
	ctx := context.Background()
	heads := batchHeads{}
	for i, req := range batch {
		if err := req.ctx.Err(); err != nil {
			results[i].err = err // gave up before its turn: not stored
			continue
		}
		if !careful {
			if results[i] = s.appendMessage(ctx, tx, req.m, heads); results[i].err != nil {
				return errRetryCareful
			}
			continue
		}
		results[i] = s.appendInSavepoint(ctx, tx, req.m, heads)
		if err := classify(results[i].err); err != nil && (parley.ErrorCodeOf(err) == parley.EINTERNAL || parley.ErrorCodeOf(err) == parley.ESTORAGEFULL) {
			// Not the append's own fault (I/O, disk full, ...): SQLite
			// may have rolled the whole transaction back already, so
			// no later append may run outside it. Fail the batch.
			return err
		}
	}
	err := heads.write(ctx, tx, &s.heads)
	if err != nil && !careful {
		return errRetryCareful // a stale head, most likely: read them again
	}
	return err
}

// inBatchTx runs fill in a write transaction and commits it, unless fill
// fails. The context is not any one caller's: a caller that goes away must
// not roll back the others' appends.
func (s *Store) inBatchTx(fill func(*preparedTx) error) error {
	tx, err := s.write.BeginTx(context.Background(), nil)
	if err != nil {
		return fmt.Errorf("begin append messages: %w", err)
	}
	defer tx.Rollback()
	if err := fill(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit append messages: %w", err)
	}
	return nil
}

// appendInSavepoint appends m inside tx, undoing its own writes if it
// fails so the rest of the batch can commit.
func (s *Store) appendInSavepoint(ctx context.Context, tx *preparedTx, m parley.NewMessage, heads batchHeads) appendResult {
	if _, err := tx.ExecContext(ctx, `SAVEPOINT append_message`); err != nil {
		return appendResult{err: fmt.Errorf("savepoint: %w", err)}
	}
	r := s.appendMessage(ctx, tx, m, heads)
	if r.err != nil {
		if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO append_message`); rerr != nil {
			r.err = errors.Join(r.err, fmt.Errorf("rollback to savepoint: %w", rerr))
		}
	}
	if _, rerr := tx.ExecContext(ctx, `RELEASE append_message`); rerr != nil && r.err == nil {
		r.err = fmt.Errorf("release savepoint: %w", rerr)
	}
	return r
}
