package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/parley-chat/parley/client"
)

// defaultServer is where parley goes without --server or PARLEY_SERVER.
const defaultServer = "http://localhost:8080"

// errUsage is returned after the usage was printed: main prints nothing more.
var errUsage = errors.New("usage")

// command is one `parley NAME` command. run gets the command's flag set
// (see commandFlags), to add its own flags to, and the arguments after the
// name.
type command struct {
	name    string
	args    string // shown in the usage after the name
	summary string
	run     func(ctx context.Context, e *cli, fs *flag.FlagSet, args []string) error
}

func commands() []command {
	return []command{
		{"signup", "USERNAME", "create an account (password from stdin) and sign in", runSignUp},
		{"signin", "USERNAME", "sign in (password from stdin); saves the token for --server", runSignIn},
		{"signout", "", "revoke the saved token and forget it", runSignOut},
		{"whoami", "", "show who the token belongs to", runWhoAmI},
		{"rooms", "list|create|join|add|leave|members ...", "manage rooms", runRooms},
		{"send", "ROOM TEXT...", "post a message", runSend},
		{"history", "ROOM", "print a room's messages", runHistory},
		{"edit", "ROOM SEQ TEXT...", "replace the text of your message", runEdit},
		{"delete", "ROOM SEQ", "delete a message (yours, or any in a room you created)", runDelete},
		{"read", "ROOM SEQ", "mark a room read up to a seq", runRead},
		{"watch", "ROOM", "print a room's messages live, across server restarts", runWatch},
		{"chat", "ROOM", "chat interactively: type a line to send it", runChat},
		{"upload", "ROOM FILE", "upload a file to a room (resumes an interrupted upload)", runUpload},
		{"download", "FILE_ID", "download a file", runDownload},
		{"hello", "[NAME]", "call helloworld.Greeter/SayHello", runHello},
	}
}

// globals are the flags every command accepts.
type globals struct {
	server   string
	protocol string
	codec    string
	http1    bool
	cacert   string
	json     bool
}

// cli is what a command runs with: the global flags and the process's
// streams and environment.
type cli struct {
	g      globals
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

// run is parley without the process: main passes os.Args[1:], the standard
// streams and os.Getenv.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	e := &cli{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	fs := e.flagSet("parley", "COMMAND [ARGS]")
	fs.Usage = func() { e.usage(fs) }
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if fs.NArg() == 0 || fs.Arg(0) == "help" {
		e.usage(fs)
		if fs.NArg() == 0 {
			return errUsage
		}
		return nil
	}
	name, rest := fs.Arg(0), fs.Args()[1:]
	for _, cmd := range commands() {
		if cmd.name == name {
			return cmd.run(ctx, e, e.commandFlags(name, cmd.args), rest)
		}
	}
	fmt.Fprintf(stderr, "parley: unknown command %q\n", name)
	e.usage(fs)
	return errUsage
}

func flagError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return errUsage // the flag package printed the problem and the usage
}

// flagSet returns a flag set with the global flags, for the top level and
// for each command, so they go before or after the command name alike.
func (e *cli) flagSet(name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	server := e.getenv("PARLEY_SERVER")
	if server == "" {
		server = defaultServer
	}
	fs.StringVar(&e.g.server, "server", server, "server URL (PARLEY_SERVER)")
	fs.StringVar(&e.g.protocol, "protocol", "connect", "RPC protocol: connect, grpc or grpcweb")
	fs.StringVar(&e.g.codec, "codec", "proto", "message encoding: proto or json")
	fs.BoolVar(&e.g.http1, "http1", false, "use HTTP/1.1 instead of HTTP/2 (h2c for http://); chat needs HTTP/2")
	fs.StringVar(&e.g.cacert, "cacert", "", "PEM file of the CA to trust for an https:// server")
	fs.BoolVar(&e.g.json, "json", false, "print JSON (one object per line) instead of text")
	e.setUsage(fs, name, args)
	return fs
}

// setUsage makes fs print "usage: parley NAME ARGS" and its flags.
func (e *cli) setUsage(fs *flag.FlagSet, name, args string) {
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: parley %s %s\n\nflags:\n", strings.TrimPrefix(name, "parley "), args)
		fs.PrintDefaults()
	}
}

// commandFlags returns a command's flag set, with the global flags again
// (registering them resets their variables to the defaults, so the values
// parsed before the command name are put back).
func (e *cli) commandFlags(name, args string) *flag.FlagSet {
	saved := e.g
	fs := e.flagSet("parley "+name, args)
	e.g = saved
	return fs
}

// parse parses a command's flags, allowing them between its arguments.
// Everything after "--" is an argument.
func (e *cli) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return nil, flagError(err)
		}
		consumed := len(args) - fs.NArg()
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, fs.Args()...), nil
		}
		args = fs.Args()
		if len(args) > 0 {
			pos = append(pos, args[0])
			args = args[1:]
		}
	}
	return pos, nil
}

// parseN is parse for a command that takes from minArgs to maxArgs
// arguments (maxArgs < 0: no upper limit): with any other number it
// prints the command's usage and returns errUsage.
func (e *cli) parseN(fs *flag.FlagSet, args []string, minArgs, maxArgs int) ([]string, error) {
	args, err := e.parse(fs, args)
	if err != nil {
		return nil, err
	}
	if len(args) < minArgs || maxArgs >= 0 && len(args) > maxArgs {
		fs.Usage()
		return nil, errUsage
	}
	return args, nil
}

// clientArgs is parseN, then a client for --server: the start of every
// command that is not about one room.
func (e *cli) clientArgs(fs *flag.FlagSet, args []string, minArgs, maxArgs int) (*client.Client, []string, error) {
	args, err := e.parseN(fs, args, minArgs, maxArgs)
	if err != nil {
		return nil, nil, err
	}
	c, err := e.client()
	return c, args, err
}

func (e *cli) usage(fs *flag.FlagSet) {
	w := e.stderr
	fmt.Fprintln(w, "usage: parley [flags] COMMAND [ARGS]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %-38s %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprintln(w, "\nflags (before or after the command):")
	fs.PrintDefaults()
	fmt.Fprintln(w, "\nenvironment: PARLEY_SERVER (default --server), PARLEY_TOKEN (token to use instead of the saved one),\nPARLEY_CONFIG_DIR (where credentials are kept; default: the user config directory)")
}

// client returns a client for --server with the token from PARLEY_TOKEN
// or the saved credentials.
func (e *cli) client() (*client.Client, error) {
	opts := []client.Option{
		client.WithProtocol(client.Protocol(e.g.protocol)),
		client.WithCodec(client.Codec(e.g.codec)),
		client.WithLogger(newNoticeLogger(e.stderr)),
	}
	if e.g.http1 {
		opts = append(opts, client.WithHTTP1())
	}
	if e.g.cacert != "" {
		pem, err := os.ReadFile(e.g.cacert)
		if err != nil {
			return nil, fmt.Errorf("--cacert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--cacert %s: no PEM certificate in it", e.g.cacert)
		}
		opts = append(opts, client.WithTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))
	}
	token := e.getenv("PARLEY_TOKEN")
	if token == "" {
		if cred, ok, err := e.credentials().get(e.serverKey()); err != nil {
			return nil, err
		} else if ok {
			token = cred.Token
		}
	}
	if token != "" {
		opts = append(opts, client.WithToken(token))
	}
	return client.New(e.g.server, opts...)
}

// serverKey is --server as credentials are filed under.
func (e *cli) serverKey() string { return strings.TrimRight(e.g.server, "/") }
