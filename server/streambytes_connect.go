package server

import (
	"context"
	"sync/atomic"

	"connectrpc.com/connect"
)

// envelopePrefix is the bytes every streamed message takes before its
// payload: a flag byte and a 4-byte length.
const envelopePrefix = 5

// streamBytes counts what a client stream's frames took after
// decompression: the decoded size of each message (what
// connect.WithReadMaxBytes caps one at a time) plus its envelope, summed
// over the stream, so that the stream cores can cap the whole stream
// (uploadStreamLimit, chatBytes). countStreamBytes fills it in.
type streamBytes struct {
	total atomic.Int64
	taken int64 // read by next, from the one goroutine that receives
}

// next returns the bytes received since its last call. A nil *streamBytes
// counts nothing.
func (b *streamBytes) next() int64 {
	if b == nil {
		return 0
	}
	total := b.total.Load()
	n := total - b.taken
	b.taken = total
	return n
}

type streamBytesKey struct{}

// streamBytesFrom returns the stream's counter, or nil outside a client
// stream that countStreamBytes wraps.
func streamBytesFrom(ctx context.Context) *streamBytes {
	b, _ := ctx.Value(streamBytesKey{}).(*streamBytes)
	return b
}

// sizedFrame is what countStreamBytes hands the codec to decode into: the
// message and, once decoded, the size of its payload after decompression.
// The sharing codecs (codec_connect.go) know it; they are installed with
// this interceptor, by streamBytesOptions.
type sizedFrame struct {
	msg  any
	size int
}

// countStreamBytes is the interceptor that measures client streams (client
// and bidi): every frame received is counted in the streamBytes in the
// handler's context.
type countStreamBytes struct{}

// streamBytesOptions install countStreamBytes with the codecs that report
// the sizes it counts.
func streamBytesOptions() []connect.HandlerOption {
	return append(subscribeOptions(), connect.WithInterceptors(countStreamBytes{}))
}

func (countStreamBytes) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc { return next }

func (countStreamBytes) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (countStreamBytes) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if conn.Spec().StreamType&connect.StreamTypeClient == 0 {
			return next(ctx, conn)
		}
		counted := &countingConn{StreamingHandlerConn: conn, bytes: new(streamBytes)}
		return next(context.WithValue(ctx, streamBytesKey{}, counted.bytes), counted)
	}
}

// countingConn counts the frames it receives.
type countingConn struct {
	connect.StreamingHandlerConn
	bytes *streamBytes
}

func (c *countingConn) Receive(msg any) error {
	f := &sizedFrame{msg: msg}
	err := c.StreamingHandlerConn.Receive(f)
	if err == nil || f.size > 0 {
		c.bytes.total.Add(int64(envelopePrefix + f.size))
	}
	return err
}
