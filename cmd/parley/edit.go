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
	return e.atSeq(ctx, fs, args, 3, -1, func(c *client.Client, room parley.Room, seq int64, args []string) error {
		msg, err := c.EditMessage(ctx, room.ID, seq, strings.Join(args[2:], " "))
		if err != nil {
			return e.explainMessage(err, args[0], seq)
		}
		return e.printMessage(msg)
	})
}

// runDelete: `parley delete ROOM SEQ`.
func runDelete(ctx context.Context, e *cli, fs *flag.FlagSet, args []string) error {
	return e.atSeq(ctx, fs, args, 2, 2, func(c *client.Client, room parley.Room, seq int64, args []string) error {
		msg, err := c.DeleteMessage(ctx, room.ID, seq)
		if err != nil {
			return e.explainMessage(err, args[0], seq)
		}
		return e.printMessage(msg)
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
