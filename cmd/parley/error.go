package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/parley-chat/parley"
)

// explain turns the errors people run into into sentences that say what
// to do. Anything else is returned with the server's message.
func (e *cli) explain(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	var perr *parley.Error
	if !errors.As(err, &perr) {
		return err
	}
	server := e.serverKey()
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("cannot connect to %s: is the server running? Start it with `parleyd`, or pick another with --server", server)
	case strings.Contains(perr.Message, "looked like an HTTP/1.1"),
		strings.Contains(perr.Message, "client conn could not be established"): // the same answer, read before the preface was written (seen under -race)
		return fmt.Errorf("%s does not accept HTTP/2 without TLS (h2c): retry with --http1, or enable h2c on the server", server)
	case strings.Contains(perr.Message, "505") || strings.Contains(perr.Message, "HTTP Version Not Supported"):
		return fmt.Errorf("this needs HTTP/2 but %s (or a proxy in between) answered with HTTP/1.1: drop --http1, or use https://", server)
	}
	switch perr.Code {
	case parley.EUNAUTHORIZED:
		if e.getenv("PARLEY_TOKEN") == "" {
			if _, ok, _ := e.credentials().get(server); !ok {
				return fmt.Errorf("not signed in to %s: run `parley signin USERNAME` (or set PARLEY_TOKEN)", server)
			}
		}
		return fmt.Errorf("your session on %s has expired or was revoked (%s): run `parley signin USERNAME`", server, perr.Message)
	case parley.EINVALID:
		if len(perr.Violations) > 0 {
			var parts []string
			for _, v := range perr.Violations {
				parts = append(parts, v.Field+" "+v.Description)
			}
			return fmt.Errorf("invalid input: %s", strings.Join(parts, "; "))
		}
		return fmt.Errorf("invalid input: %s", perr.Message)
	case parley.ENOTIMPLEMENTED:
		return fmt.Errorf("%s does not support this yet (%s)", server, perr.Message)
	case parley.ERATELIMITED:
		limit, _, _ := strings.Cut(perr.Message, "; retry in ") // said below, rounded
		return fmt.Errorf("rate limited by %s (%s): try again in %s", server, limit, retryDelay(perr.RetryAfter))
	}
	return fmt.Errorf("%s (%s)", perr.Message, perr.Code)
}

// explainRoom adds the room to the errors of a call about one.
func (e *cli) explainRoom(err error, room string) error {
	switch parley.ErrorCodeOf(err) {
	case parley.EFORBIDDEN:
		return fmt.Errorf("you are not a member of room %s: join it with `parley rooms join %s` (public rooms), or ask a member to add you", room, room)
	case parley.ENOTFOUND:
		return fmt.Errorf("no room %s that you can see: `parley rooms list` shows them", room)
	}
	return e.explain(err)
}

// explainMessage is explainRoom for a call about the message at seq of a
// room already found: not_found means there is no message there (the seq
// may be another event of the room's log, a member joining, say).
func (e *cli) explainMessage(err error, room string, seq int64) error {
	if parley.ErrorCodeOf(err) == parley.ENOTFOUND {
		return fmt.Errorf("no message #%d in room %s: `parley history %s` lists them", seq, room, room)
	}
	return e.explainRoom(err, room)
}

// retryDelay is a retry delay as people read it: whole seconds from 1 s up
// (rounded up, so trying again then passes), milliseconds below.
func retryDelay(d time.Duration) time.Duration {
	if d >= time.Second {
		return (d + time.Second - 1).Truncate(time.Second)
	}
	return (d + time.Millisecond - 1).Truncate(time.Millisecond)
}
