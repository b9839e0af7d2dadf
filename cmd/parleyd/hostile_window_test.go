package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/protobuf/proto"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
	"github.com/parley-chat/parley/internal/testserver"
)

// zeroWindowConn is an HTTP/2 client connection that announces a stream
// window of zero and never opens it: the server may send headers but not
// one byte of a body. It answers the server's SETTINGS and PINGs (and
// pings the server itself), so it is alive in every way the server can
// check, and records when each stream's headers came and when the server
// reset it.
type zeroWindowConn struct {
	conn net.Conn
	wmu  sync.Mutex // the framer's writes
	fr   *http2.Framer
	enc  *hpack.Encoder
	hbuf bytes.Buffer

	mu      sync.Mutex
	opened  map[uint32]time.Time
	headers int
	resets  map[uint32]time.Duration // since the stream was opened
	data    int                      // body bytes received: want none
	pongs   atomic.Int64
	closed  chan struct{}
}

func dialZeroWindow(t *testing.T, host string) *zeroWindowConn {
	t.Helper()
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	c := &zeroWindowConn{conn: conn, fr: http2.NewFramer(conn, nil), opened: map[uint32]time.Time{}, resets: map[uint32]time.Duration{}, closed: make(chan struct{})}
	c.enc = hpack.NewEncoder(&c.hbuf)
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := c.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0}); err != nil {
		t.Fatal(err)
	}
	go c.read(http2.NewFramer(nil, conn))
	return c
}

func (c *zeroWindowConn) write(f func(*http2.Framer) error) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return f(c.fr)
}

func (c *zeroWindowConn) read(fr *http2.Framer) {
	defer close(c.closed)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = c.write(func(fr *http2.Framer) error { return fr.WriteSettingsAck() })
			}
		case *http2.PingFrame:
			if f.IsAck() {
				c.pongs.Add(1)
			} else {
				_ = c.write(func(fr *http2.Framer) error { return fr.WritePing(true, f.Data) })
			}
		case *http2.HeadersFrame:
			c.mu.Lock()
			c.headers++
			c.mu.Unlock()
		case *http2.DataFrame:
			c.mu.Lock()
			c.data += len(f.Data())
			c.mu.Unlock()
		case *http2.RSTStreamFrame:
			c.mu.Lock()
			c.resets[f.StreamID] = time.Since(c.opened[f.StreamID])
			c.mu.Unlock()
		}
	}
}

// download opens a Connect Download stream of fileID.
func (c *zeroWindowConn) download(host, token, fileID string, id uint32) error {
	msg, err := proto.Marshal(&parleyv1.DownloadRequest{FileId: fileID})
	if err != nil {
		return err
	}
	body := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(msg)))
	body = append(body, msg...)
	return c.write(func(fr *http2.Framer) error {
		c.hbuf.Reset()
		for _, kv := range [][2]string{
			{":method", "POST"}, {":scheme", "http"}, {":authority", host},
			{":path", parleyv1connect.FileServiceDownloadProcedure},
			{"content-type", "application/connect+proto"}, {"authorization", "Bearer " + token},
		} {
			_ = c.enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
		}
		c.mu.Lock()
		c.opened[id] = time.Now()
		c.mu.Unlock()
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.hbuf.Bytes(), EndHeaders: true}); err != nil {
			return err
		}
		return fr.WriteData(id, true, body)
	})
}

func (c *zeroWindowConn) counts() (headers, resets, data int, slowest time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.resets {
		slowest = max(slowest, d)
	}
	return c.headers, len(c.resets), c.data, slowest
}

// TestHostileZeroWindowDownloads opens 1,000 Downloads (4 connections of
// 250 streams, as one signed-up user) whose client never opens its HTTP/2
// stream window while it answers (and sends) pings, against a parleyd with
// --stalled-write-timeout 2s: every stream is reset within the timeout
// (plus scheduling), its handler ends and closes its file, and the
// server's open files return to their baseline. Before, such Downloads
// were never dropped and each held an open file.
func TestHostileZeroWindowDownloads(t *testing.T) {
	const (
		stall    = 2 * time.Second
		conns    = 4
		perConn  = 250
		fileSize = 256 << 10
	)
	cmd, url := startChild(t, t.TempDir(), "--stalled-write-timeout", stall.String(), "--limit-streams-per-user", "off")
	pid := cmd.Process.Pid
	host := hostOf(url)
	user := testserver.SignUp(t, testserver.H2C(url), "hoarder")
	room := user.CreateRoom(t, "hoard", parleyv1.Visibility_VISIBILITY_PRIVATE)
	ctx := context.Background()
	data, sum := testserver.RandomContent(fileSize)
	created, err := user.Files.CreateUpload(ctx, connect.NewRequest(&parleyv1.CreateUploadRequest{Metadata: &parleyv1.UploadMetadata{
		RoomId: room.GetId(), Name: "hoard.bin", Size: fileSize, Sha256: sum,
	}}))
	if err != nil {
		t.Fatal(err)
	}
	chunk, err := user.Files.UploadChunk(ctx, connect.NewRequest(&parleyv1.UploadChunkRequest{UploadId: created.Msg.GetUpload().GetUploadId(), Data: data}))
	if err != nil {
		t.Fatal(err)
	}
	fileID := chunk.Msg.GetUpload().GetFile().GetId()
	// One whole download first, so that the baseline has whatever a
	// download opens once for all.
	dl, err := user.Files.Download(ctx, connect.NewRequest(&parleyv1.DownloadRequest{FileId: fileID}))
	if err != nil {
		t.Fatal(err)
	}
	for dl.Receive() {
	}
	if err := dl.Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	before := openFileNames(t, pid)
	baseline := len(before)

	start := time.Now()
	var attackers []*zeroWindowConn
	for range conns {
		c := dialZeroWindow(t, host)
		attackers = append(attackers, c)
		for i := range perConn {
			if err := c.download(host, user.Token, fileID, uint32(2*i+1)); err != nil {
				t.Fatal(err)
			}
		}
	}
	opened := time.Since(start)
	stopPings := make(chan struct{})
	go func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopPings:
				return
			case <-tick.C:
				for _, c := range attackers {
					_ = c.write(func(fr *http2.Framer) error { return fr.WritePing(false, [8]byte{'p'}) })
				}
			}
		}
	}()
	bound := stall + timeBound(5*time.Second)
	peak := 0
	var resets, headers, bodyBytes int
	var slowest time.Duration
	for deadline := time.Now().Add(bound + 5*time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		peak = max(peak, openFiles(t, pid))
		resets, headers, bodyBytes, slowest = 0, 0, 0, 0
		for _, c := range attackers {
			h, r, d, s := c.counts()
			headers, resets, bodyBytes, slowest = headers+h, resets+r, bodyBytes+d, max(slowest, s)
		}
		if resets == conns*perConn {
			break
		}
	}
	allReset := time.Since(start)
	close(stopPings)
	withConns := openFiles(t, pid)
	var pongs int64
	for _, c := range attackers {
		pongs += c.pongs.Load()
		select {
		case <-c.closed:
			t.Error("the server closed an attacker's connection; it should reset the streams only")
		default:
		}
		_ = c.conn.Close()
	}
	after := withConns
	for deadline := time.Now().Add(timeBound(5 * time.Second)); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if after = openFiles(t, pid); after <= baseline {
			break
		}
	}
	t.Logf("%d zero-window Downloads of a %d KiB file opened in %v on %d connections; %d got response headers, %d body bytes sent",
		conns*perConn, fileSize>>10, opened.Round(time.Millisecond), conns, headers, bodyBytes)
	t.Logf("reset: %d of %d, the last %v after it was opened (--stalled-write-timeout %v, bound %v), all within %v of the first; %d pings answered meanwhile",
		resets, conns*perConn, slowest.Round(time.Millisecond), stall, bound, allReset.Round(time.Millisecond), pongs)
	t.Logf("server open files: %d before, peak %d while the downloads stalled, %d once they were reset (%d connections still open), %d after the connections closed",
		baseline, peak, withConns, conns, after)
	if resets != conns*perConn {
		t.Errorf("%d of %d stalled Downloads reset", resets, conns*perConn)
	}
	if slowest > bound || slowest < stall-100*time.Millisecond {
		t.Errorf("the slowest reset came %v after its stream opened, want from %v to %v", slowest, stall, bound)
	}
	if pongs == 0 {
		t.Error("no ping answered: the connections were not alive")
	}
	// Under -race the first streams are reset before the last handlers
	// have opened their files, so the peak is not all 1,000.
	if peak < baseline+conns*perConn/10 {
		t.Errorf("peak of %d open files over a baseline of %d: the Downloads did not hold their files", peak, baseline)
	}
	if after > baseline {
		t.Errorf("%d files open after the attack, baseline %d: %q, before %q", after, baseline, openFileNames(t, pid), before)
	}
}
