package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
)

// runWatch: `parley watch ROOM` prints the room's log as it grows
// (messages, edits, deletions, members joining, leaving, added and
// removed) and the caller's read marker moving (from any of their
// sessions), until interrupted. When the connection breaks or the server
// restarts it reconnects by itself and resumes after the last event
// printed, so every event of the log is printed exactly once.
func runWatch(ctx context.Context, e *cli, fs *flag.FlagSet, args []string) error {
	since := fs.Int64("since", -1, "print the stored log after this seq first (0: all); by default only new events")
	count := fs.Int("n", 0, "exit after this many messages, edits and deletions (0: never)")
	c, room, args, err := e.roomArgs(ctx, fs, args, 1, 1)
	if err != nil {
		return err
	}
	from := *since
	if from < 0 {
		from = room.HeadSeq
	}
	sub := c.Subscribe(ctx, room.ID, from)
	defer func() { _ = sub.Close() }() // the watch is over: nothing left to report
	if !e.g.json {
		fmt.Fprintf(e.stderr, "Watching %s (after #%d); Ctrl-C to stop.\n", room.Name, from)
	}
	printed := 0
	for sub.Receive() {
		ev := sub.Event()
		if err := e.show(eventOut(ev), eventLine(ev)); err != nil {
			return err
		}
		if ev.Kind.IsMessage() {
			printed++
			if *count > 0 && printed >= *count {
				return nil
			}
		}
	}
	if errors.Is(sub.Err(), context.Canceled) && ctx.Err() != nil {
		return nil // interrupted: the normal way to stop watching
	}
	return e.explainRoom(sub.Err(), args[0])
}
