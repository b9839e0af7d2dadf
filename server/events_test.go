package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/internal/testserver"
	"github.com/parley-chat/parley/server"
)

// mintTicket calls the REST route of CreateStreamTicket.
func mintTicket(t *testing.T, baseURL, token, roomID string) string {
	t.Helper()
	res, body := doREST(t, baseURL, restCall{method: "POST", path: "/v1/rooms/" + roomID + "/stream-tickets", token: token})
	var out struct{ Ticket string }
	if err := json.Unmarshal([]byte(body), &out); err != nil || res.StatusCode != 200 || out.Ticket == "" {
		t.Fatalf("CreateStreamTicket: %d %s", res.StatusCode, body)
	}
	return out.Ticket
}

func eventsURL(baseURL, roomID, query string) string {
	u := baseURL + "/v1/rooms/" + roomID + "/events"
	if query != "" {
		u += "?" + query
	}
	return u
}

// TestEventsRefused: what the events route refuses, before the stream
// starts, with the HTTP status and google.rpc.Status body of the REST
// routes.
func TestEventsRefused(t *testing.T) {
	t.Parallel()
	ts := testserver.Start(t)
	c := ts.Client(t, "connect/proto/h2c")
	ada := testserver.SignUp(t, c, "ada")
	bob := testserver.SignUp(t, c, "bob")
	public := ada.CreateRoom(t, "lobby", parleyv1.Visibility_VISIBILITY_PUBLIC).GetId()
	secret := ada.CreateRoom(t, "secret", parleyv1.Visibility_VISIBILITY_PRIVATE).GetId()
	ticket := mintTicket(t, ts.URL, ada.Token, public)
	bearer := func(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

	for _, tc := range []struct {
		name       string
		url        string
		header     http.Header
		wantStatus int
		wantCode   connect.Code
		wantField  string
	}{
		{"ErrNoCredentials", eventsURL(ts.URL, public, ""), nil, 401, connect.CodeUnauthenticated, ""},
		{"ErrBadToken", eventsURL(ts.URL, public, ""), bearer("pt_nope"), 401, connect.CodeUnauthenticated, ""},
		{"ErrUnknownTicket", eventsURL(ts.URL, public, "ticket=pst_nope."+public), nil, 401, connect.CodeUnauthenticated, ""},
		{"ErrTicketOfAnotherRoom", eventsURL(ts.URL, secret, "ticket="+url.QueryEscape(ticket)), nil, 403, connect.CodePermissionDenied, ""},
		{"ErrTokenAsTicket", eventsURL(ts.URL, public, "ticket="+ada.Token), nil, 401, connect.CodeUnauthenticated, ""},
		{"ErrNotAMember", eventsURL(ts.URL, public, ""), bearer(bob.Token), 403, connect.CodePermissionDenied, ""},
		{"ErrPrivateRoom", eventsURL(ts.URL, secret, ""), bearer(bob.Token), 404, connect.CodeNotFound, ""},
		{"ErrNoSuchRoom", eventsURL(ts.URL, "r_nope", ""), bearer(ada.Token), 404, connect.CodeNotFound, ""},
		{"ErrBadSinceSeq", eventsURL(ts.URL, public, "since_seq=soon"), bearer(ada.Token), 400, connect.CodeInvalidArgument, "since_seq"},
		{"ErrBadLastEventID", eventsURL(ts.URL, public, ""), http.Header{"Authorization": {"Bearer " + ada.Token}, "Last-Event-Id": {"x"}},
			400, connect.CodeInvalidArgument, "Last-Event-ID"},
		{"ErrNegativeSinceSeq", eventsURL(ts.URL, public, "since_seq=-1"), bearer(ada.Token), 400, connect.CodeInvalidArgument, "since_seq"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stream, err := testserver.OpenEvents(t.Context(), testserver.HTTP1Client(), tc.url, tc.header)
			if err == nil {
				_ = stream.Close()
				t.Fatal("the stream started")
			}
			var cerr *connect.Error
			if !errors.As(err, &cerr) || cerr.Code() != tc.wantCode || cerr.Meta().Get("Http-Status") != strconv.Itoa(tc.wantStatus) {
				t.Fatalf("got %v (HTTP %s), want %v (HTTP %d)", err, cerr.Meta().Get("Http-Status"), tc.wantCode, tc.wantStatus)
			}
			if tc.wantField != "" && !slices.Contains(violatedFields(cerr), tc.wantField) {
				t.Errorf("violations of %v, want %s", violatedFields(cerr), tc.wantField)
			}
		})
	}

	// A ticket is no bearer token on any other route.
	res, body := doREST(t, ts.URL, restCall{method: "GET", path: "/v1/users/me", token: ticket})
	if res.StatusCode != 401 {
		t.Errorf("GET /v1/users/me with a ticket as bearer token: %d %s, want 401", res.StatusCode, body)
	}
	res, body = doREST(t, ts.URL, restCall{method: "GET", path: "/v1/users/me?ticket=" + url.QueryEscape(ticket)})
	if res.StatusCode == 200 {
		t.Errorf("GET /v1/users/me?ticket=: %d %s, want a refusal", res.StatusCode, body)
	}
}

// violatedFields lists the fields of an error's google.rpc.BadRequest.
func violatedFields(cerr *connect.Error) []string {
	var fields []string
	for _, d := range cerr.Details() {
		if v, err := d.Value(); err == nil {
			if br, ok := v.(*errdetails.BadRequest); ok {
				for _, f := range br.GetFieldViolations() {
					fields = append(fields, f.GetField())
				}
			}
		}
	}
	return fields
}

// TestStreamTicketExpires: a ticket opens no stream after its lifetime
// (60 s), unless a stream it opened renewed it at a heartbeat.
func TestStreamTicketExpires(t *testing.T) {
	t.Parallel()
	var skew atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	ts := testserver.Start(t, server.WithNow(now), server.WithHeartbeat(50*time.Millisecond))
	ada := testserver.SignUp(t, ts.Client(t, "connect/proto/h2c"), "ada")
	room := ada.CreateRoom(t, "lobby", parleyv1.Visibility_VISIBILITY_PUBLIC).GetId()
	idle := mintTicket(t, ts.URL, ada.Token, room)
	running := mintTicket(t, ts.URL, ada.Token, room)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// NDJSON, whose heartbeats are events Receive returns.
	stream, err := testserver.OpenEvents(ctx, testserver.HTTP1Client(), eventsURL(ts.URL, room, "ticket="+url.QueryEscape(running)),
		http.Header{"Accept": {"application/x-ndjson"}})
	if err != nil {
		t.Fatal(err)
	}
	// Forty seconds pass before each of three heartbeats: two minutes in all.
	// A heartbeat sent before the clock moved (buffered on a slow machine)
	// renewed the ticket from an earlier time: wait for one sent after.
	for range 3 {
		skew.Add(int64(40 * time.Second))
		moved := now()
		for stream.Receive() {
			if hb := stream.Msg().GetHeartbeat(); hb != nil && !hb.GetTime().AsTime().Before(moved) {
				break
			}
		}
		if stream.Err() != nil {
			t.Fatalf("stream ended: %v", stream.Err())
		}
	}
	cancel()
	_ = stream.Close()

	_, err = testserver.OpenEvents(t.Context(), testserver.HTTP1Client(), eventsURL(ts.URL, room, "ticket="+url.QueryEscape(idle)), nil)
	var cerr *connect.Error
	if !errors.As(err, &cerr) || cerr.Code() != connect.CodeUnauthenticated || cerr.Meta().Get("Http-Status") != "401" {
		t.Fatalf("expired ticket: %v, want 401 unauthenticated", err)
	}
	again, err := testserver.OpenEvents(t.Context(), testserver.HTTP1Client(), eventsURL(ts.URL, room, "ticket="+url.QueryEscape(running)), nil)
	if err != nil {
		t.Fatalf("the renewed ticket no longer opens a stream: %v", err)
	}
	_ = again.Close()
}

// TestEventsStream reads the events route as raw HTTP, as curl -N does:
// the retry hint, heartbeat comments, live events with their seq as id,
// NDJSON, a resumption, and the end of the stream at sign-out.
func TestEventsStream(t *testing.T) {
	t.Parallel()
	calls := make(chan server.CallInfo, 100)
	ts := testserver.Start(t, server.WithHeartbeat(100*time.Millisecond), server.WithCallObserver(func(_ context.Context, c server.CallInfo) {
		if strings.HasSuffix(c.Path, "/events") {
			calls <- c
		}
	}))
	ada := testserver.SignUp(t, ts.Client(t, "connect/proto/h2c"), "ada")
	room := ada.CreateRoom(t, "lobby", parleyv1.Visibility_VISIBILITY_PUBLIC).GetId()
	ada.SendMessage(t, room, "one", "m1")

	t.Run("SSE", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, eventsURL(ts.URL, room, ""), nil)
		req.Header.Set("Authorization", "Bearer "+ada.Token)
		res, err := testserver.HTTP1Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if ct := res.Header.Get("Content-Type"); ct != "text/event-stream; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		lines := bufio.NewScanner(res.Body)
		next := func() string {
			if !lines.Scan() {
				t.Fatalf("stream ended: %v", lines.Err())
			}
			return lines.Text()
		}
		if got := next(); got != "retry: 2000" {
			t.Fatalf("first line %q, want the retry hint", got)
		}
		want := []string{"", "id: 1", `data: {"message":{`}
		for _, w := range want {
			if got := next(); !strings.HasPrefix(got, w) {
				t.Fatalf("line %q, want %q", got, w)
			}
		}
		var heartbeat string
		for heartbeat == "" {
			if l := next(); strings.HasPrefix(l, ": heartbeat ") {
				heartbeat = l
			}
		}
		if !strings.HasSuffix(heartbeat, " last_seq=1") {
			t.Errorf("heartbeat %q lacks last_seq=1", heartbeat)
		}
		ada.SendMessage(t, room, "two", "m2")
		for l := next(); l != "id: 2"; l = next() {
			if l != "" && !strings.HasPrefix(l, ": heartbeat ") {
				t.Fatalf("line %q before id: 2", l)
			}
		}
		if l := next(); !strings.Contains(l, `"text":"two"`) {
			t.Fatalf("data %q", l)
		}
	})

	t.Run("NDJSONResumes", func(t *testing.T) {
		stream, err := testserver.OpenEvents(t.Context(), testserver.H2CClient(), eventsURL(ts.URL, room, ""),
			http.Header{"Authorization": {"Bearer " + ada.Token}, "Accept": {"text/event-stream;q=0.5, application/x-ndjson"}, "Last-Event-Id": {"1"}})
		if err != nil {
			t.Fatal(err)
		}
		defer stream.Close()
		if ct := stream.Header().Get("Content-Type"); ct != "application/x-ndjson" {
			t.Errorf("Content-Type %q", ct)
		}
		var seqs []int64
		sawHeartbeat := false
		for len(seqs) < 2 || !sawHeartbeat {
			if !stream.Receive() {
				t.Fatal(stream.Err())
			}
			if m := stream.Msg().GetMessage(); m != nil {
				seqs = append(seqs, m.GetSeq())
			}
			if stream.Msg().GetHeartbeat() != nil {
				sawHeartbeat = true
			}
			if len(seqs) == 1 && seqs[0] == 2 {
				ada.SendMessage(t, room, "three", "m3")
			}
		}
		if seqs[0] != 2 || seqs[1] != 3 {
			t.Errorf("seqs %v after Last-Event-ID 1, want [2 3]", seqs)
		}
	})

	t.Run("SignOutEndsTicketStream", func(t *testing.T) {
		cat := testserver.SignUp(t, ts.Client(t, "connect/proto/h2c"), "cat")
		cat.JoinRoom(t, room)
		ticket := mintTicket(t, ts.URL, cat.Token, room)
		stream, err := testserver.OpenEvents(t.Context(), testserver.HTTP1Client(), eventsURL(ts.URL, room, "since_seq=3&ticket="+url.QueryEscape(ticket)), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer stream.Close()
		if res, body := doREST(t, ts.URL, restCall{method: "DELETE", path: "/v1/sessions/current", token: cat.Token}); res.StatusCode != 200 {
			t.Fatalf("SignOut: %d %s", res.StatusCode, body)
		}
		for stream.Receive() {
		}
		if connect.CodeOf(stream.Err()) != connect.CodeUnauthenticated {
			t.Fatalf("stream ended with %v, want an error event with unauthenticated", stream.Err())
		}
		// The request log sees the stream as Subscribe over SSE.
		for c := range calls {
			if c.Code == "unauthenticated" {
				if c.Procedure != "/parley.v1.MessageService/Subscribe" || c.Protocol != "sse" || c.Status != 200 {
					t.Errorf("logged as %+v", c)
				}
				break
			}
		}
		_, err = testserver.OpenEvents(t.Context(), testserver.HTTP1Client(), eventsURL(ts.URL, room, "ticket="+url.QueryEscape(ticket)), nil)
		if connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Fatalf("ticket after sign-out: %v, want unauthenticated", err)
		}
	})

	t.Run("OutOfRangeAfterStart", func(t *testing.T) {
		stream, err := testserver.OpenEvents(t.Context(), testserver.HTTP1Client(), eventsURL(ts.URL, room, "since_seq=99"),
			http.Header{"Authorization": {"Bearer " + ada.Token}})
		if err != nil {
			t.Fatal(err)
		}
		defer stream.Close()
		for stream.Receive() {
		}
		if connect.CodeOf(stream.Err()) != connect.CodeOutOfRange {
			t.Fatalf("stream ended with %v, want an error event with out_of_range", stream.Err())
		}
	})
}

// TestEventsStreamQuota: the events route counts against the open streams
// per user, with Subscribe's other streams.
func TestEventsStreamQuota(t *testing.T) {
	t.Parallel()
	ts := testserver.Start(t, server.WithLimits(server.Limits{StreamsPerUser: 1}))
	ada := testserver.SignUp(t, ts.Client(t, "connect/proto/h2c"), "ada")
	room := ada.CreateRoom(t, "lobby", parleyv1.Visibility_VISIBILITY_PUBLIC).GetId()
	auth := http.Header{"Authorization": {"Bearer " + ada.Token}}
	first, err := testserver.OpenEvents(t.Context(), testserver.HTTP1Client(), eventsURL(ts.URL, room, ""), auth)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	_, err = testserver.OpenEvents(t.Context(), testserver.HTTP1Client(), eventsURL(ts.URL, room, ""), auth)
	var cerr *connect.Error
	if !errors.As(err, &cerr) || cerr.Code() != connect.CodeResourceExhausted || cerr.Meta().Get("Http-Status") != "429" {
		t.Fatalf("second stream: %v, want 429 resource_exhausted", err)
	}
}
