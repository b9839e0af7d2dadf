package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/parley-chat/parley"
)

// runChat: `parley chat ROOM` joins the room over one Chat stream, prints
// the last few messages and then everything as it happens, and sends each
// line typed. /quit or end of input leaves. The stream reconnects by
// itself; nothing is printed twice.
func runChat(ctx context.Context, e *cli, fs *flag.FlagSet, args []string) error {
	last := fs.Int64("last", 10, "show this many earlier messages first")
	c, room, args, err := e.roomArgs(ctx, fs, args, 1, 1)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := c.Chat(ctx)
	if err != nil {
		return e.explain(err)
	}
	defer func() { _ = ch.Close() }() // the session is over: nothing left to report
	if _, err := ch.Join(ctx, room.ID, max(room.HeadSeq-*last, 0)); err != nil {
		return e.explainRoom(err, args[0])
	}
	out := &lockedWriter{w: e.stdout}
	if !e.g.json {
		fmt.Fprintf(e.stderr, "Chatting in %s. Type a message and press Enter; /quit or Ctrl-D leaves.\n", room.Name)
	}

	received := make(chan error, 1)
	go func() {
		for ch.Receive() {
			ev := ch.Event()
			switch {
			case ev.Typing != nil && e.g.json:
				_ = e.printJSONTo(out, eventJSON{Type: "typing", RoomID: ev.Typing.RoomID, User: ptr(userOut(ev.Typing.User))})
			case ev.Typing != nil:
				// Line mode shows no typing notices: they would break
				// the line being typed.
			case e.g.json:
				_ = e.printJSONTo(out, eventOut(ev.Event))
			default:
				fmt.Fprintln(out, eventLine(ev.Event))
			}
		}
		received <- ch.Err()
	}()

	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(e.stdin)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-received:
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return e.explainRoom(err, args[0])
		case line, ok := <-lines:
			if !ok {
				return nil
			}
			text := strings.TrimSpace(line)
			switch text {
			case "":
				continue
			case "/quit":
				return nil
			}
			if _, err := ch.Send(ctx, room.ID, line); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				if code := parley.ErrorCodeOf(err); code == parley.EINVALID || code == parley.ERATELIMITED {
					fmt.Fprintln(e.stderr, "not sent:", e.explain(err))
					continue
				}
				return e.explainRoom(err, args[0])
			}
		}
	}
}

// lockedWriter serializes writes from the receiving goroutine and others.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func ptr[T any](v T) *T { return &v }
