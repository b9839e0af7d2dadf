package server

import (
	"errors"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Sizes and bounds of a buffered connection (BufferConnections).
const (
	// connReadBuffer is the read buffer of a connection: net/http's own
	// HTTP/1.1 reader size, room for a unary call's HTTP/2 frames in one
	// read.
	connReadBuffer = 4 << 10
	// connWriteBuffer is the most bytes a connection holds accepted and
	// not yet written to its socket: to its writers, the socket's send
	// buffer is this much larger.
	connWriteBuffer = 32 << 10
	// closeFlushTimeout bounds how long Close and CloseWrite wait for bytes
	// still held to reach the socket.
	closeFlushTimeout = 5 * time.Second
)

// BufferConnections returns a listener whose connections buffer their
// reads and coalesce their writes, so that the HTTP/2 server, which reads
// each frame header and payload with its own Read and flushes every
// batch of frames with its own Write, costs a fraction of a syscall per
// frame. Wrap the TCP listener, below TLS (ServeTLS adds TLS above it): net/http
// recognizes TLS connections by their type, and below TLS one read fetches
// several records and one write carries several.
//
// Reads fill a 4 KiB buffer; a Read of at least 4 KiB into an empty buffer
// goes straight to the socket, so net/http's own HTTP/1.1 reader copies
// nothing twice. Read deadlines hold for buffered bytes too: a Read after
// the deadline fails, as on the socket.
//
// A Write copies its bytes to a buffer and returns; a flusher started on
// the first pending write yields once, so that other writes can join, then
// writes everything pending with one syscall, and stops when nothing is
// left. A lone write therefore leaves at once, with no timer. To a writer
// the connection is a socket whose send buffer is 32 KiB larger, and every
// guarantee of the socket holds as it does for the socket's own buffer:
//   - A Write's bytes are contiguous and in order, whatever the number of
//     concurrent writers.
//   - Write deadlines govern when bytes must be accepted: a Write waiting
//     for room fails at the deadline with os.ErrDeadlineExceeded and the
//     count it accepted; it succeeds if the peer takes bytes, however
//     slowly. Accepted bytes, like those in the kernel's buffer, carry no
//     deadline. SetWriteDeadline wakes a waiting Write at once (the
//     stalled-write guard relies on this for HTTP/1.1), and net/http's
//     HTTP/2 WriteByteTimeout drops a peer that takes no bytes for as long.
//   - An error from the socket is reported by the next Write (and every
//     later one), as the kernel reports an error on bytes it had accepted;
//     the bytes still held are dropped.
//   - CloseWrite (HTTP/1.1's lingering close) and Close send what is held
//     first, waiting at most 5 s for the peer to take it; Close discards it
//     at once if a write has already timed out (the peer is not reading).
//
// By default (parleyd --buffer-connections), every public connection is
// buffered. Buffers are allocated while in use: an idle HTTP/1.1
// connection holds none, an idle HTTP/2 connection its 4 KiB read buffer.
func BufferConnections(ln net.Listener) net.Listener {
	return bufferedListener{ln}
}

type bufferedListener struct{ net.Listener }

func (l bufferedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newBufferedConn(c), nil
}

func newBufferedConn(c net.Conn) *bufferedConn {
	b := &bufferedConn{Conn: c}
	b.cond.L = &b.mu
	return b
}

// writeBuffers recycles the write buffers of all connections: a
// connection holds one only while it has bytes pending.
var writeBuffers = sync.Pool{New: func() any { return &writeBuffer{b: make([]byte, 0, connWriteBuffer)} }}

type writeBuffer struct{ b []byte }

// bufferedConn is the connection BufferConnections returns.
type bufferedConn struct {
	net.Conn

	rmu      sync.Mutex // one Read at a time
	rbuf     []byte     // allocated by the first small Read
	rpos     int        // rbuf[rpos:rend] is buffered
	rend     int
	rerr     error        // returned once the buffer is empty
	rdl      atomic.Int64 // read deadline, Unix nanoseconds; 0 for none
	isClosed atomic.Bool  // set once, by Close (under mu)

	wmu sync.Mutex // one Write at a time: its bytes stay contiguous

	mu       sync.Mutex
	cond     sync.Cond    // signalled on progress, error, deadline change, close
	pend     *writeBuffer // accepted, not yet taken by the flusher
	unsent   int          // bytes the flusher took and has not written
	flushing bool         // a flusher runs
	waiting  int          // Writes waiting for room
	wdl      time.Time    // the write deadline, as set by SetWriteDeadline
	sockDL   time.Time    // the write deadline last set on the socket
	drainDL  time.Time    // set while Close or CloseWrite waits for the flusher
	werr     error        // the socket's write error, reported to every later Write
	timedOut bool         // a Write has failed at its deadline
}

// Read reads from the buffer, refilling it with one read of the socket
// when it is empty.
func (c *bufferedConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.isClosed.Load() {
		return 0, c.opError("read", net.ErrClosed)
	}
	if c.rpos == c.rend {
		if c.rerr != nil {
			err := c.rerr
			c.rerr = nil
			return 0, err
		}
		if len(p) >= connReadBuffer {
			n, err := c.Conn.Read(p)
			if err != nil {
				err = c.closedError("read", err)
			}
			return n, err
		}
		if c.rbuf == nil {
			c.rbuf = make([]byte, connReadBuffer)
		}
		n, err := c.Conn.Read(c.rbuf)
		c.rpos, c.rend = 0, n
		if n == 0 {
			return 0, c.closedError("read", err)
		}
		c.rerr = err
	} else if dl := c.rdl.Load(); dl != 0 && time.Now().UnixNano() >= dl {
		return 0, c.opError("read", os.ErrDeadlineExceeded)
	}
	n := copy(p, c.rbuf[c.rpos:c.rend])
	c.rpos += n
	return n, nil
}

// SetReadDeadline sets the socket's read deadline, which the buffered
// bytes obey too.
func (c *bufferedConn) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		c.rdl.Store(0)
	} else {
		c.rdl.Store(t.UnixNano())
	}
	return c.Conn.SetReadDeadline(t)
}

// SetWriteDeadline sets the deadline of Writes, now and later; it wakes
// a Write waiting for room.
func (c *bufferedConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.isClosed.Load() {
		return c.opError("set", net.ErrClosed)
	}
	c.wdl = t
	if c.waiting > 0 {
		c.setSocketDeadline(t) // interrupt the flusher's write: the waiters see the deadline
	}
	c.cond.Broadcast()
	return nil
}

// SetDeadline sets both deadlines.
func (c *bufferedConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// Write accepts p into the buffer, waiting for room when it is full, and
// starts the flusher.
func (c *bufferedConn) Write(p []byte) (n int, err error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.writeError(); err != nil {
		return 0, err
	}
	if c.expired() {
		return 0, c.timeout()
	}
	expired := false
	for n < len(p) {
		if room := connWriteBuffer - c.held(); room > 0 {
			if c.pend == nil {
				c.pend = writeBuffers.Get().(*writeBuffer)
			}
			k := min(room, len(p)-n)
			c.pend.b = append(c.pend.b, p[n:n+k]...)
			n += k
			if !c.flushing {
				c.flushing = true
				go c.flush()
			}
			continue
		}
		if expired {
			return n, c.timeout()
		}
		c.waitForRoom()
		if err := c.writeError(); err != nil {
			return n, err
		}
		expired = c.expired() // take what room the last progress made, then fail
	}
	return n, nil
}

// waitForRoom waits for the flusher's next progress, or a deadline change,
// error or close. The flusher's write carries the write deadline while a
// Write waits, so that it returns, and wakes the Write, when the deadline
// passes.
func (c *bufferedConn) waitForRoom() {
	if c.waiting++; c.waiting == 1 {
		c.setSocketDeadline(c.wdl)
	}
	c.cond.Wait()
	c.waiting--
}

// flush writes what is pending, batch after batch, until nothing is.
func (c *bufferedConn) flush() {
	runtime.Gosched() // let writers that are about to write join this batch
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.werr == nil && c.pend != nil {
		batch := c.pend
		c.pend = nil
		c.unsent = len(batch.b)
		for off := 0; off < len(batch.b) && c.werr == nil; {
			c.setSocketDeadline(c.flushDeadline())
			c.mu.Unlock()
			nn, err := c.Conn.Write(batch.b[off:])
			c.mu.Lock()
			off += nn
			c.unsent -= nn
			c.cond.Broadcast()
			if err != nil && (!errors.Is(err, os.ErrDeadlineExceeded) || !c.drainDL.IsZero()) {
				c.werr = err
			}
		}
		c.unsent = 0
		batch.b = batch.b[:0]
		writeBuffers.Put(batch)
	}
	if c.pend != nil { // dropped after an error
		c.pend.b = c.pend.b[:0]
		writeBuffers.Put(c.pend)
		c.pend = nil
	}
	c.flushing = false
	c.cond.Broadcast()
}

// flushDeadline is the deadline of the flusher's next write: the write
// deadline while a Write waits for room, the drain deadline while Close
// or CloseWrite waits, none otherwise. Accepted bytes have no deadline of
// their own, and a deadline already passed has done its work (its Writes
// failed): writing on with it would only spin.
func (c *bufferedConn) flushDeadline() time.Time {
	var dl time.Time
	if c.waiting > 0 && time.Now().Before(c.wdl) {
		dl = c.wdl
	}
	if !c.drainDL.IsZero() && (dl.IsZero() || c.drainDL.Before(dl)) {
		dl = c.drainDL
	}
	return dl
}

// drain waits, at most closeFlushTimeout, for the flusher to write what
// is held.
func (c *bufferedConn) drain() {
	if !c.flushing {
		return
	}
	c.drainDL = time.Now().Add(closeFlushTimeout)
	c.setSocketDeadline(c.flushDeadline())
	for c.flushing {
		c.cond.Wait()
	}
	c.drainDL = time.Time{}
}

// CloseWrite sends what is held, then shuts the socket's writing side
// (net/http's lingering close of an HTTP/1.1 connection).
func (c *bufferedConn) CloseWrite() error {
	c.mu.Lock()
	c.drain()
	err := c.werr
	c.mu.Unlock()
	if err != nil {
		return err
	}
	cw, ok := c.Conn.(interface{ CloseWrite() error })
	if !ok {
		return c.opError("close", errors.ErrUnsupported)
	}
	return cw.CloseWrite()
}

// Close sends what is held (unless a write has timed out) and closes the
// socket. Blocked Reads and Writes return at once.
func (c *bufferedConn) Close() error {
	c.mu.Lock()
	if c.isClosed.Swap(true) {
		c.mu.Unlock()
		return c.opError("close", net.ErrClosed)
	}
	c.cond.Broadcast()
	if c.flushing && !c.timedOut {
		_ = c.Conn.SetReadDeadline(time.Unix(1, 0)) // end a blocked Read now, as closing does
		c.drain()
	}
	c.mu.Unlock()
	return c.Conn.Close()
}

// held is how many accepted bytes are not yet written.
func (c *bufferedConn) held() int {
	n := c.unsent
	if c.pend != nil {
		n += len(c.pend.b)
	}
	return n
}

func (c *bufferedConn) writeError() error {
	if c.isClosed.Load() {
		return c.opError("write", net.ErrClosed)
	}
	return c.werr
}

func (c *bufferedConn) expired() bool {
	return !c.wdl.IsZero() && !time.Now().Before(c.wdl)
}

func (c *bufferedConn) timeout() error {
	c.timedOut = true
	return c.opError("write", os.ErrDeadlineExceeded)
}

func (c *bufferedConn) setSocketDeadline(t time.Time) {
	if !t.Equal(c.sockDL) {
		c.sockDL = t
		_ = c.Conn.SetWriteDeadline(t)
	}
}

// closedError is err, or net.ErrClosed when the read failed because Close
// ended it.
func (c *bufferedConn) closedError(op string, err error) error {
	if c.isClosed.Load() {
		return c.opError(op, net.ErrClosed)
	}
	return err
}

func (c *bufferedConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
