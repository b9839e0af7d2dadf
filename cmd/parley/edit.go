package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/client"
)

// runEdit: `parley edit ROOM SEQ TEXT...`.
func runEdit(ctx context.Context, e *cli, fs *flag.FlagSet, args []string) error {
	return e.changeMessage(ctx, fs, args, 3, -1, func(c *client.Client, roomID string, seq int64, args []string) (parley.Message, error) {
		return c.EditMessage(ctx, roomID, seq, strings.Join(args[2:], " "))
	})
}

// runDelete: `parley delete ROOM SEQ`.
func runDelete(ctx context.Context, e *cli, fs *flag.FlagSet, args []string) error {
	return e.changeMessage(ctx, fs, args, 2, 2, func(c *client.Client, roomID string, seq int64, _ []string) (parley.Message, error) {
		return c.DeleteMessage(ctx, roomID, seq)
	})
}

// runRead: `parley read ROOM SEQ`.
func runRead(ctx context.Context, e *cli, fs *flag.FlagSet, args []string) error {
	return e.atSeq(ctx, fs, args, 2, 2, func(c *client.Client, room parley.Room, seq int64, args []string) error {
		marker, err := c.MarkRead(ctx, room.ID, seq)
		if err != nil {
			return e.explainRoom(err, args[0])
		}
		_, err = fmt.Fprintf(e.stdout, "Read %s up to #%d.\n", room.Name, marker)
		return err
	})
}

// changeMessage is atSeq for the commands that change the message at SEQ:
// change returns the message as changed, printed as history shows it.
func (e *cli) changeMessage(ctx context.Context, fs *flag.FlagSet, args []string, minArgs, maxArgs int,
	change func(c *client.Client, roomID string, seq int64, args []string) (parley.Message, error),
) error {
	return e.atSeq(ctx, fs, args, minArgs, maxArgs, func(c *client.Client, room parley.Room, seq int64, args []string) error {
		msg, err := change(c, room.ID, seq, args)
		if err != nil {
			return e.explainMessage(err, args[0], seq)
		}
		return e.printMessage(msg)
	})
}

// atSeq starts a command whose arguments are ROOM SEQ and, with more than
// 2 as maxArgs (-1: any), more: it parses them (the seq before
// connecting, so that a malformed one fails at once) and calls do with a
// client, the room, the seq and the arguments parsed.
func (e *cli) atSeq(ctx context.Context, fs *flag.FlagSet, args []string, minArgs, maxArgs int,
	do func(c *client.Client, room parley.Room, seq int64, args []string) error,
) error {
	args, err := e.parseN(fs, args, minArgs, maxArgs)
	if err != nil {
		return err
	}
	seq, err := parseSeq(args[1])
	if err != nil {
		return err
	}
	c, room, err := e.roomClient(ctx, args[0])
	if err != nil {
		return err
	}
	return do(c, room, seq, args)
}

// parseSeq reads a seq argument: a positive number, with or without "#".
func parseSeq(s string) (int64, error) {
	seq, err := strconv.ParseInt(strings.TrimPrefix(s, "#"), 10, 64)
	if err != nil || seq < 0 {
		return 0, fmt.Errorf("%w: SEQ must be a message's number, like 12 or #12", errUsage)
	}
	return seq, nil
}
