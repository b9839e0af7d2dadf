package server

import (
	"errors"
	"fmt"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
)

// eventFrame is a Subscribe response. A shared room event is encoded once
// per codec and the bytes are reused for every subscriber (parley.Event.
// Encoded); a per-stream frame (a heartbeat) is encoded as usual.
type eventFrame struct {
	shared *parley.Event
	own    proto.Message
}

// sharingCodec is the protobuf or JSON codec, wire-identical to
// connect-go's own, that also knows how to encode an eventFrame.
type sharingCodec struct {
	name string // as registered: "proto", "json" or "json; charset=utf-8"
	json bool
}

// subscribeOptions install the sharing codecs on the Subscribe handler
// under every name connect-go registers its codecs.
func subscribeOptions() []connect.HandlerOption {
	return []connect.HandlerOption{
		connect.WithCodec(&sharingCodec{name: "proto"}),
		connect.WithCodec(&sharingCodec{name: "json", json: true}),
		connect.WithCodec(&sharingCodec{name: "json; charset=utf-8", json: true}),
	}
}

func (c *sharingCodec) Name() string { return c.name }

func (c *sharingCodec) IsBinary() bool { return !c.json }

// Marshal implements connect.Codec.
func (c *sharingCodec) Marshal(msg any) ([]byte, error) {
	return c.MarshalAppend(nil, msg)
}

// MarshalAppend appends msg's encoding to dst. A shared encoding is only
// ever copied out: connect-go recycles the slices it gets from codecs
// through its buffer pool, and a shared slice handed over would be
// overwritten under every other subscriber.
func (c *sharingCodec) MarshalAppend(dst []byte, msg any) ([]byte, error) {
	if f, ok := msg.(*eventFrame); ok {
		if f.shared != nil {
			format := "proto"
			if c.json {
				format = "json"
			}
			shared, err := f.shared.Encoded(format, func() ([]byte, error) {
				ev, ok := eventToProto(f.shared, subscribeEvents)
				if !ok {
					ev = &parleyv1.SubscribeResponse{}
				}
				return c.marshalAppend(nil, ev)
			})
			return append(dst, shared...), err
		}
		msg = f.own
	}
	pm, ok := msg.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%T is not a protobuf message", msg)
	}
	return c.marshalAppend(dst, pm)
}

func (c *sharingCodec) marshalAppend(dst []byte, m proto.Message) ([]byte, error) {
	if c.json {
		return protojson.MarshalOptions{}.MarshalAppend(dst, m)
	}
	return proto.MarshalOptions{}.MarshalAppend(dst, m)
}

// Unmarshal decodes a message, also one wrapped in a sizedFrame, whose
// size it records (countStreamBytes).
func (c *sharingCodec) Unmarshal(data []byte, msg any) error {
	if f, ok := msg.(*sizedFrame); ok {
		f.size = len(data)
		msg = f.msg
	}
	pm, ok := msg.(proto.Message)
	if !ok {
		return fmt.Errorf("%T is not a protobuf message", msg)
	}
	if !c.json {
		return proto.Unmarshal(data, pm)
	}
	if len(data) == 0 {
		return errors.New("zero-length payload is not a valid JSON object")
	}
	return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(data, pm)
}
