package main

import (
	"context"
	"fmt"
	"github.com/parley-chat/parley"
	"strconv"
	"strings"
)

// runEdit: `parley edit ROOM SEQ TEXT...`.
func runEdit(ctx context.Context, e *cli, args []string) error {
	fs := e.commandFlags("edit", "ROOM SEQ TEXT...")
	args, err := e.parse(fs, args)
	if err != nil {
		return err
	}
	if len(args) < 3 {
		fs.Usage()
		return errUsage
	}
	seq, err := parseSeq(args[1])
	if err != nil {
		return err
	}
	c, room, err := e.roomClient(ctx, args[0])
	if err != nil {
		return err
	}
	msg, err := c.EditMessage(ctx, room.ID, seq, strings.Join(args[2:], " "))
	if err != nil {
		return e.explainMessage(err, args[0], seq)
	}
	return e.printMessage(msg)
}

// runDelete: `parley delete ROOM SEQ`.
func runDelete(ctx context.Context, e *cli, args []string) error {
	fs := e.commandFlags("delete", "ROOM SEQ")
	args, err := e.parse(fs, args)
	if err != nil {
		return err
	}
	if len(args) != 2 {
		fs.Usage()
		return errUsage
	}
	seq, err := parseSeq(args[1])
	if err != nil {
		return err
	}
	c, room, err := e.roomClient(ctx, args[0])
	if err != nil {
		return err
	}
	msg, err := c.DeleteMessage(ctx, room.ID, seq)
	if err != nil {
		return e.explainMessage(err, args[0], seq)
	}
	return e.printMessage(msg)
}

// runRead: `parley read ROOM SEQ`.
func runRead(ctx context.Context, e *cli, args []string) error {
	fs := e.commandFlags("read", "ROOM SEQ")
	args, err := e.parse(fs, args)
	if err != nil {
		return err
	}
	if len(args) != 2 {
		fs.Usage()
		return errUsage
	}
	seq, err := parseSeq(args[1])
	if err != nil {
		return err
	}
	c, room, err := e.roomClient(ctx, args[0])
	if err != nil {
		return err
	}
	marker, err := c.MarkRead(ctx, room.ID, seq)
	if err != nil {
		return e.explainRoom(err, args[0])
	}
	_, err = fmt.Fprintf(e.stdout, "Read %s up to #%d.\n", room.Name, marker)
	return err
}

// parseSeq reads a seq argument: a positive number, with or without "#".
func parseSeq(s string) (int64, error) {
	seq, err := strconv.ParseInt(strings.TrimPrefix(s, "#"), 10, 64)
	if err != nil || seq < 0 {
		return 0, fmt.Errorf("%w: SEQ must be a message's number, like 12 or #12", errUsage)
	}
	return seq, nil
}

// printMessage prints the message an edit or a delete returned: as JSON
// with --json, else as the one line history shows.
func (e *cli) printMessage(msg parley.Message) error {
	if e.g.json {
		return e.printJSON(messageOut(msg))
	}
	_, err := fmt.Fprintln(e.stdout, messageLine(msg))
	return err
}
