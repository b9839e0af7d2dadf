package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/client"
)

// runSignUp: `parley signup USERNAME`, password on stdin.
func runSignUp(ctx context.Context, e *cli, fs *flag.FlagSet, args []string) error {
	return e.signIn(ctx, fs, args, "signup", (*client.Client).SignUp)
}

// runSignIn: `parley signin USERNAME`, password on stdin.
func runSignIn(ctx context.Context, e *cli, fs *flag.FlagSet, args []string) error {
	return e.signIn(ctx, fs, args, "signin", (*client.Client).SignIn)
}

func (e *cli) signIn(ctx context.Context, fs *flag.FlagSet, args []string, name string,
	call func(*client.Client, context.Context, string, string) (client.Session, error),
) error {
	args, err := e.parseN(fs, args, 1, 1)
	if err != nil {
		return err
	}
	password, err := e.readPassword()
	if err != nil {
		return err
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	s, err := call(c, ctx, args[0], password)
	if err != nil {
		if name == "signin" && parley.ErrorCodeOf(err) == parley.EUNAUTHORIZED {
			return errors.New("wrong username or password")
		}
		if parley.ErrorCodeOf(err) == parley.ECONFLICT {
			return fmt.Errorf("the username %s is taken: pick another, or `parley signin %s`", args[0], args[0])
		}
		return e.explain(err)
	}
	cred := &credential{Username: s.User.Username, UserID: s.User.ID, Token: s.Token, ExpireTime: s.ExpireTime}
	if err := e.credentials().put(e.serverKey(), cred); err != nil {
		return err
	}
	verb := "Signed in"
	if name == "signup" {
		verb = "Signed up"
	}
	return e.show(struct {
		User       userJSON `json:"user"`
		Server     string   `json:"server"`
		ExpireTime string   `json:"expire_time"`
	}{userOut(s.User), e.serverKey(), s.ExpireTime.Format("2006-01-02T15:04:05Z07:00")},
		fmt.Sprintf("%s as %s on %s.", verb, s.User.Username, e.serverKey()))
}

// readPassword reads the password: the first line of stdin. On a terminal
// it prompts and turns echo off while the password is typed (with stty,
// so that no terminal library is needed).
func (e *cli) readPassword() (string, error) {
	if f, ok := e.stdin.(*os.File); ok && isTerminal(f) {
		fmt.Fprint(e.stderr, "Password: ")
		if stty(f, "-echo") == nil {
			defer func() {
				_ = stty(f, "echo")
				fmt.Fprintln(e.stderr)
			}()
		}
	}
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return "", errors.New("no password on stdin: type it, or pipe it in (`echo \"$PASSWORD\" | parley signin NAME`)")
	}
	return password, nil
}

// stty runs stty on the terminal f.
func stty(f *os.File, args ...string) error {
	cmd := exec.Command("stty", args...) //nolint:gosec,noctx // a fixed program with arguments from this file; it returns at once
	cmd.Stdin = f
	return cmd.Run()
}

// isTerminal reports whether f is a terminal (a character device).
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// runSignOut: `parley signout` revokes the token and forgets it.
func runSignOut(ctx context.Context, e *cli, fs *flag.FlagSet, args []string) error {
	c, _, err := e.clientArgs(fs, args, 0, -1)
	if err != nil {
		return err
	}
	err = c.SignOut(ctx)
	if err != nil && parley.ErrorCodeOf(err) != parley.EUNAUTHORIZED {
		return e.explain(err)
	}
	// Revoked now or already invalid: either way forget it.
	if err := e.credentials().put(e.serverKey(), nil); err != nil {
		return err
	}
	return e.show(map[string]string{"server": e.serverKey()}, fmt.Sprintf("Signed out of %s.", e.serverKey()))
}

// runWhoAmI: `parley whoami`.
func runWhoAmI(ctx context.Context, e *cli, fs *flag.FlagSet, args []string) error {
	c, _, err := e.clientArgs(fs, args, 0, -1)
	if err != nil {
		return err
	}
	u, err := c.Me(ctx)
	if err != nil {
		return e.explain(err)
	}
	return e.show(userOut(u), fmt.Sprintf("%s (%s) on %s", u.Username, u.ID, e.serverKey()))
}
