package client_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-chat/parley/disk"
	"github.com/parley-chat/parley/inmem"
	"github.com/parley-chat/parley/server"
	"github.com/parley-chat/parley/sqlite"
)

// restartable is the production stack (SQLite, disk files, the server
// handler) on a fixed address, which can be stopped and started again on
// the same data, as restarting parleyd would.
type restartable struct {
	t       *testing.T
	dir     string
	addr    string
	store   *sqlite.Store
	handler *server.Server
	hs      *http.Server
	opts    []server.Option
}

func startRestartable(t *testing.T, opts ...server.Option) *restartable {
	t.Helper()
	r := &restartable{t: t, dir: t.TempDir(), addr: "127.0.0.1:0", opts: opts}
	r.start()
	t.Cleanup(func() { r.stop(false) })
	return r
}

func (r *restartable) URL() string { return "http://" + r.addr }

func (r *restartable) start() {
	r.t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(r.dir, "parley.db"))
	if err != nil {
		r.t.Fatal(err)
	}
	blobs, err := disk.New(filepath.Join(r.dir, "files"))
	if err != nil {
		r.t.Fatal(err)
	}
	r.store = store
	r.handler = server.New(store, inmem.NewBroker(), append([]server.Option{server.WithFiles(store, blobs)}, r.opts...)...)
	var ln net.Listener
	for try := 0; ; try++ { // the port may linger a moment after a stop
		if ln, err = net.Listen("tcp", r.addr); err == nil || try == 50 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	r.hs = &http.Server{Handler: r.handler, Protocols: &protocols, ReadHeaderTimeout: 10 * time.Second}
	r.hs.RegisterOnShutdown(r.handler.Drain)
	go func() { _ = r.hs.Serve(ln) }()
}

// stop shuts down as parleyd does on SIGTERM (streams end with unavailable
// and their position), or with abrupt set drops every connection at once,
// as a crash would.
func (r *restartable) stop(abrupt bool) {
	if r.hs == nil {
		return
	}
	if abrupt {
		_ = r.hs.Close()
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.hs.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			r.t.Error(err)
		}
	}
	_ = r.store.Close()
	r.hs = nil
}

func (r *restartable) restart(abrupt bool) {
	r.stop(abrupt)
	r.start()
}
