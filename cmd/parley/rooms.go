package main

import (
	"context"
	"flag"
	"fmt"
	"text/tabwriter"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/client"
)

// runRooms: `parley rooms list|create|join|add|leave|members`.
func runRooms(ctx context.Context, e *cli, fs *flag.FlagSet, args []string) error {
	e.setUsage(fs, "rooms", "list | create NAME [--private] | join ROOM | add ROOM USERNAME | leave ROOM | members ROOM")
	private := fs.Bool("private", false, "create: make the room private (members add others)")
	args, err := e.parse(fs, args)
	if err != nil {
		return err
	}
	want := map[string]int{"list": 0, "create": 1, "join": 1, "add": 2, "leave": 1, "members": 1}
	if len(args) == 0 {
		args = []string{"list"}
	}
	if n, ok := want[args[0]]; !ok || len(args)-1 != n {
		fs.Usage()
		return errUsage
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	switch sub, rest := args[0], args[1:]; sub {
	case "list":
		rooms, err := c.ListRooms(ctx)
		if err != nil {
			return e.explain(err)
		}
		return e.printRooms(rooms)
	case "create":
		v := parley.Public
		if *private {
			v = parley.Private
		}
		room, err := c.CreateRoom(ctx, rest[0], v)
		if parley.ErrorCodeOf(err) == parley.ECONFLICT {
			return fmt.Errorf("a room named %s exists already: `parley rooms join %s`", rest[0], rest[0])
		} else if err != nil {
			return e.explain(err)
		}
		return e.printRoom("Created", room)
	case "join":
		room, err := e.resolveRoom(ctx, c, rest[0])
		if err != nil {
			return err
		}
		room, err = c.JoinRoom(ctx, room.ID)
		if parley.ErrorCodeOf(err) == parley.EFORBIDDEN {
			return fmt.Errorf("room %s is private: ask a member to add you (`parley rooms add %s YOUR_NAME`)", rest[0], rest[0])
		} else if err != nil {
			return e.explainRoom(err, rest[0])
		}
		return e.printRoom("Joined", room)
	case "add":
		room, err := e.resolveRoom(ctx, c, rest[0])
		if err != nil {
			return err
		}
		m, err := c.AddMember(ctx, room.ID, rest[1])
		switch parley.ErrorCodeOf(err) {
		case "":
		case parley.ECONFLICT:
			return fmt.Errorf("%s is already a member of %s", rest[1], room.Name)
		case parley.ENOTFOUND:
			return fmt.Errorf("no user %s (or no room %s)", rest[1], rest[0])
		default:
			return e.explainRoom(err, rest[0])
		}
		return e.show(memberOut(m), fmt.Sprintf("Added %s to %s.", m.User.Username, room.Name))
	case "leave":
		room, err := e.resolveRoom(ctx, c, rest[0])
		if err != nil {
			return err
		}
		err = c.LeaveRoom(ctx, room.ID)
		if parley.ErrorCodeOf(err) == parley.EPRECONDITION {
			return fmt.Errorf("you are not a member of %s", room.Name)
		} else if err != nil {
			return e.explainRoom(err, rest[0])
		}
		return e.printRoom("Left", room)
	default: // members
		room, err := e.resolveRoom(ctx, c, rest[0])
		if err != nil {
			return err
		}
		members, err := c.ListMembers(ctx, room.ID)
		if err != nil {
			return e.explainRoom(err, rest[0])
		}
		for _, m := range members {
			if err := e.show(memberOut(m), m.User.Username); err != nil {
				return err
			}
		}
		return nil
	}
}

func (e *cli) printRooms(rooms []parley.Room) error {
	if e.g.json {
		for _, r := range rooms {
			if err := e.printJSON(roomOut(r)); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tID\tVISIBILITY\tHEAD\tUNREAD")
	for _, r := range rooms {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\n", r.Name, r.ID, roomOut(r).Visibility, r.HeadSeq, r.Unread)
	}
	return tw.Flush()
}

func (e *cli) printRoom(verb string, r parley.Room) error {
	return e.show(roomOut(r), fmt.Sprintf("%s %s room %s (%s).", verb, roomOut(r).Visibility, r.Name, r.ID))
}

// roomClient returns a client for the chosen server and the room named by
// nameOrID: the start of every command that works in one room.
func (e *cli) roomClient(ctx context.Context, nameOrID string) (*client.Client, parley.Room, error) {
	c, err := e.client()
	if err != nil {
		return nil, parley.Room{}, err
	}
	room, err := e.resolveRoom(ctx, c, nameOrID)
	if err != nil {
		return nil, parley.Room{}, err
	}
	return c, room, nil
}

// roomArgs is parseN, then roomClient for the room the first argument
// names (minArgs is at least 1).
func (e *cli) roomArgs(ctx context.Context, fs *flag.FlagSet, args []string, minArgs, maxArgs int) (*client.Client, parley.Room, []string, error) {
	args, err := e.parseN(fs, args, minArgs, maxArgs)
	if err != nil {
		return nil, parley.Room{}, nil, err
	}
	c, room, err := e.roomClient(ctx, args[0])
	return c, room, args, err
}

// resolveRoom finds a room by name or id among the rooms the caller can
// see, and falls back to asking for it by id (a private room one was just
// added to is listed too, so the fallback is for ids of rooms one cannot
// see yet, which then fail clearly).
func (e *cli) resolveRoom(ctx context.Context, c *client.Client, nameOrID string) (parley.Room, error) {
	rooms, err := c.ListRooms(ctx)
	if err != nil {
		return parley.Room{}, e.explain(err)
	}
	for _, r := range rooms {
		if r.Name == nameOrID || r.ID == nameOrID {
			return r, nil
		}
	}
	room, err := c.GetRoom(ctx, nameOrID)
	if err != nil {
		if code := parley.ErrorCodeOf(err); code == parley.ENOTFOUND || code == parley.EINVALID {
			return parley.Room{}, fmt.Errorf("no room %s that you can see: `parley rooms list` shows them", nameOrID)
		}
		return parley.Room{}, e.explain(err)
	}
	return room, nil
}
