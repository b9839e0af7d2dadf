package testserver

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
)

// EventsReader reads GET /v1/rooms/{room_id}/events as curl does, as
// Server-Sent Events or NDJSON, with the methods of a Connect Subscribe
// stream (Receive, Msg, Err, Close).
type EventsReader struct {
	// Retry is the SSE retry hint, in milliseconds; 0 if none came yet.
	Retry int
	// LastID is the id of the last SSE event read.
	LastID string
	// Comments are the SSE comment lines read (heartbeats), without the colon.
	Comments []string

	res    *http.Response
	lines  *bufio.Scanner
	ndjson bool
	msg    *parleyv1.SubscribeResponse
	err    error
}

// OpenEvents starts GET url with the headers given (Accept:
// application/x-ndjson for NDJSON). A refusal before the stream starts is
// returned as a *connect.Error decoded from the google.rpc.Status body,
// with the HTTP status in its metadata ("Http-Status").
func OpenEvents(ctx context.Context, client *http.Client, url string, header http.Header) (*EventsReader, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		cerr := statusError(body)
		cerr.Meta().Set("Http-Status", strconv.Itoa(res.StatusCode))
		return nil, cerr
	}
	lines := bufio.NewScanner(res.Body)
	lines.Buffer(make([]byte, 64<<10), 8<<20)
	return &EventsReader{res: res, lines: lines, ndjson: strings.HasPrefix(res.Header.Get("Content-Type"), "application/x-ndjson")}, nil
}

// Header is the response's header.
func (r *EventsReader) Header() http.Header { return r.res.Header }

// Receive reads the next event (an NDJSON heartbeat too), reporting
// whether there is one; when the stream ended, Err says why.
func (r *EventsReader) Receive() bool {
	if r.err != nil {
		return false
	}
	var event, data string
	for r.lines.Scan() {
		line := r.lines.Text()
		if r.ndjson {
			if strings.HasPrefix(line, `{"error":`) {
				var wrapper struct{ Error json.RawMessage }
				_ = json.Unmarshal([]byte(line), &wrapper)
				r.err = statusError(wrapper.Error)
				return false
			}
			return r.decode(line)
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch {
		case line == "":
			switch {
			case event == "error":
				r.err = statusError([]byte(data))
				return false
			case data != "":
				return r.decode(data)
			}
		case field == "":
			r.Comments = append(r.Comments, strings.TrimSpace(value))
		case field == "event":
			event = value
		case field == "data":
			data += value
		case field == "id":
			r.LastID = value
		case field == "retry":
			r.Retry, _ = strconv.Atoi(value)
		}
	}
	r.err = r.lines.Err()
	if r.err == nil {
		r.err = io.ErrUnexpectedEOF // the server always ends with an error event
	}
	return false
}

func (r *EventsReader) decode(data string) bool {
	r.msg = &parleyv1.SubscribeResponse{}
	if err := protojson.Unmarshal([]byte(data), r.msg); err != nil {
		r.err = fmt.Errorf("event %q: %w", data, err)
		return false
	}
	return true
}

// Msg is the event Receive read.
func (r *EventsReader) Msg() *parleyv1.SubscribeResponse { return r.msg }

// Err is why the stream ended: a *connect.Error from its error event.
func (r *EventsReader) Err() error { return r.err }

// Close ends the stream.
func (r *EventsReader) Close() error { return r.res.Body.Close() }

// statusError decodes a google.rpc.Status JSON body into a *connect.Error
// with its details.
func statusError(body []byte) *connect.Error {
	var st status.Status
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, &st); err != nil {
		return connect.NewError(connect.CodeUnknown, fmt.Errorf("not a google.rpc.Status: %q", body))
	}
	cerr := connect.NewError(connect.Code(st.GetCode()), errors.New(st.GetMessage())) //nolint:gosec // a code
	for _, d := range st.GetDetails() {
		if msg, err := d.UnmarshalNew(); err == nil {
			if detail, err := connect.NewErrorDetail(msg); err == nil {
				cerr.AddDetail(detail)
			}
		}
	}
	return cerr
}
