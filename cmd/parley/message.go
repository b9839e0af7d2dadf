package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/client"
)

// runSend: `parley send ROOM TEXT...`; text "-" reads it from stdin.
func runSend(ctx context.Context, e *cli, fs *flag.FlagSet, args []string) error {
	id := fs.String("id", "", "client message id: sending again with the same id stores nothing new (default: random)")
	var attach stringList
	fs.Var(&attach, "attach", "id of a file uploaded to the room to attach (repeatable)")
	args, err := e.parseN(fs, args, 1, -1)
	if err != nil {
		return err
	}
	if len(args) < 2 && len(attach) == 0 {
		fs.Usage()
		return errUsage
	}
	c, room, err := e.roomClient(ctx, args[0])
	if err != nil {
		return err
	}
	if *id == "" {
		*id = client.NewClientMessageID()
	}
	opts := []client.SendOption{client.WithAttachments(attach...), client.WithClientMessageID(*id)}
	text := strings.Join(args[1:], " ")
	msg, err := c.SendMessage(ctx, room.ID, text, opts...)
	if wait, ok := retryOnce(err); ok {
		// The same client message id: if the first send was stored after
		// all, this one returns it instead of storing a second copy.
		fmt.Fprintf(e.stderr, "rate limited: sending again in %s\n", retryDelay(wait))
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
		msg, err = c.SendMessage(ctx, room.ID, text, opts...)
	}
	if err != nil {
		return e.explainRoom(err, args[0])
	}
	return e.printMessage(msg)
}

// maxSendRetryWait is the longest rate-limit delay send waits out (once)
// before sending again; a longer one is reported instead.
const maxSendRetryWait = 10 * time.Second

// retryOnce reports whether a send that failed with err is worth sending
// again, and after how long: a rate limit that lifts within
// maxSendRetryWait.
func retryOnce(err error) (time.Duration, bool) {
	var perr *parley.Error
	if !errors.As(err, &perr) || perr.Code != parley.ERATELIMITED || perr.RetryAfter <= 0 || perr.RetryAfter > maxSendRetryWait {
		return 0, false
	}
	return perr.RetryAfter, true
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// runHistory: `parley history ROOM [--limit N] [--after SEQ | --before SEQ]`.
func runHistory(ctx context.Context, e *cli, fs *flag.FlagSet, args []string) error {
	limit := fs.Int("limit", 20, "how many messages, 1 to 500")
	after := fs.Int64("after", -1, "read forward from this seq (exclusive); 0 from the first message")
	before := fs.Int64("before", 0, "read the newest messages before this seq")
	c, room, args, err := e.roomArgs(ctx, fs, args, 1, 1)
	if err != nil {
		return err
	}
	q := parley.HistoryQuery{Limit: *limit, BeforeSeq: *before}
	if *after >= 0 {
		q.Forward, q.AfterSeq = true, *after
	}
	msgs, _, err := c.ListMessages(ctx, room.ID, q)
	if err != nil {
		return e.explainRoom(err, args[0])
	}
	for _, m := range msgs {
		if err := e.printMessage(m); err != nil {
			return err
		}
	}
	return nil
}

// printMessage prints a message: as JSON with --json, else as the lines
// history shows.
func (e *cli) printMessage(msg parley.Message) error {
	return e.show(messageOut(msg), messageLine(msg))
}
