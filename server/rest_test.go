package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	validator "github.com/pb33f/libopenapi-validator"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/api"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/internal/testserver"
	"github.com/parley-chat/parley/server"
)

// restCall is one raw HTTP request to a REST route, as curl sends it.
type restCall struct {
	name, method, path, body string
	token                    string // Authorization: Bearer; "" for none
	wantStatus               int
	wantBody                 []string          // substrings of the answer
	wantHeader               map[string]string // header: a regular expression its value matches
}

// doREST sends c and returns the answer, its body read (and left readable
// again in the response, for openAPIValidator).
func doREST(t *testing.T, baseURL string, c restCall) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(t.Context(), c.method, baseURL+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, b := testserver.Do(t, testserver.HTTP1Client(), req)
	return res, string(b)
}

// matchesDocument checks an answer of doREST against its operation in
// /openapi.yaml: status, content type, headers and body schema.
func matchesDocument(t *testing.T, doc validator.Validator, res *http.Response) {
	t.Helper()
	if ok, errs := doc.ValidateHttpResponse(res.Request, res); !ok {
		for _, e := range errs {
			t.Errorf("%s %s: the answer does not match /openapi.yaml: %s (%s)", res.Request.Method, res.Request.URL.Path, e.Message, e.Reason)
			for _, se := range e.SchemaValidationErrors {
				t.Errorf("  at %s (%s): %s", se.FieldPath, se.KeywordLocation, se.Reason)
			}
		}
	}
}

// TestRESTRoutes calls every REST route with raw HTTP, for success and for
// each error it answers: status, google.rpc.Status body and its details.
func TestRESTRoutes(t *testing.T) {
	ts := testserver.Start(t, server.WithReadMaxBytes(64<<10),
		server.WithLimits(server.Limits{RoomsPerUser: server.Rate{Events: 1, Per: time.Hour, Burst: 3}}))
	c := ts.Client(t, "connect/proto/h2c")
	ada := testserver.SignUp(t, c, "ada")
	bob := testserver.SignUp(t, c, "bob")
	cat := testserver.SignUp(t, c, "cat")
	cat2 := testserver.SignUp(t, c, "cat2")
	public := ada.CreateRoom(t, "lobby", parleyv1.Visibility_VISIBILITY_PUBLIC)
	secret := ada.CreateRoom(t, "secret", parleyv1.Visibility_VISIBILITY_PRIVATE)
	msg := ada.SendMessage(t, public.GetId(), "first", "m0")
	content := []byte("Hello, REST!\n")
	sum := testserver.SHA256Hex(content)

	doc := openAPIValidator(t, api.OpenAPI)
	pub, sec := "/v1/rooms/"+public.GetId(), "/v1/rooms/"+secret.GetId()
	calls := []restCall{
		// AuthService
		{name: "SignUp", method: "POST", path: "/v1/users", body: `{"username":"dan","password":"` + testserver.Password + `"}`,
			wantStatus: 200, wantBody: []string{`"username":"dan"`, `"token":`}},
		{name: "SignUp/invalid", method: "POST", path: "/v1/users", body: `{"username":"X","password":"short"}`,
			wantStatus: 400, wantBody: []string{`"code":3`, `google.rpc.BadRequest`, `"field":"username"`, `"field":"password"`}},
		{name: "SignUp/taken", method: "POST", path: "/v1/users", body: `{"username":"ada","password":"` + testserver.Password + `"}`,
			wantStatus: 409, wantBody: []string{`"code":6`}},
		{name: "SignUp/bad JSON", method: "POST", path: "/v1/users", body: `{"username":`,
			wantStatus: 400, wantBody: []string{`"code":3`}},
		{name: "SignUp/over limit", method: "POST", path: "/v1/users", body: `{"username":"` + strings.Repeat("a", 70<<10) + `"}`,
			wantStatus: 429, wantBody: []string{`"code":8`}},
		{name: "SignIn", method: "POST", path: "/v1/sessions", body: `{"username":"ada","password":"` + testserver.Password + `"}`,
			wantStatus: 200, wantBody: []string{`"token":`}},
		{name: "SignIn/wrong password", method: "POST", path: "/v1/sessions", body: `{"username":"ada","password":"wrong password"}`,
			wantStatus: 401, wantBody: []string{`"code":16`}},
		{name: "GetMe", method: "GET", path: "/v1/users/me", token: ada.Token,
			wantStatus: 200, wantBody: []string{`"username":"ada"`}},
		{name: "GetMe/no token", method: "GET", path: "/v1/users/me",
			wantStatus: 401, wantBody: []string{`"code":16`, `missing bearer token`}},
		{name: "GetMe/bad token", method: "GET", path: "/v1/users/me", token: "not-a-token",
			wantStatus: 401, wantBody: []string{`"code":16`}},
		{name: "SignOut", method: "DELETE", path: "/v1/sessions/current", token: cat.Token, wantStatus: 200, wantBody: []string{`{}`}},
		{name: "SignOut/revoked token", method: "GET", path: "/v1/users/me", token: cat.Token, wantStatus: 401, wantBody: []string{`"code":16`}},
		// RoomService
		{name: "CreateRoom", method: "POST", path: "/v1/rooms", token: ada.Token, body: `{"name":"rest","visibility":"VISIBILITY_PRIVATE"}`,
			wantStatus: 200, wantBody: []string{`"name":"rest"`, `"visibility":"VISIBILITY_PRIVATE"`}},
		{name: "CreateRoom/taken", method: "POST", path: "/v1/rooms", token: bob.Token, body: `{"name":"lobby"}`,
			wantStatus: 409, wantBody: []string{`"code":6`}},
		{name: "CreateRoom/invalid", method: "POST", path: "/v1/rooms", token: bob.Token, body: `{"name":"no spaces"}`,
			wantStatus: 400, wantBody: []string{`"field":"name"`}},
		{name: "CreateRoom/rate limited", method: "POST", path: "/v1/rooms", token: ada.Token, body: `{"name":"one-too-many"}`,
			wantStatus: 429, wantBody: []string{`"code":8`, `google.rpc.RetryInfo`}, wantHeader: map[string]string{"Retry-After": `^3[56]\d\d$`}}, // an hour, less the time the calls took
		{name: "GetRoom", method: "GET", path: pub, token: bob.Token, wantStatus: 200, wantBody: []string{`"name":"lobby"`, `"headSeq":"1"`}},
		{name: "GetRoom/private", method: "GET", path: sec, token: bob.Token, wantStatus: 404, wantBody: []string{`"code":5`}},
		{name: "ListRooms", method: "GET", path: "/v1/rooms?page_size=1", token: bob.Token,
			wantStatus: 200, wantBody: []string{`"name":"lobby"`, `"nextPageToken":""`}},
		{name: "ListRooms/invalid", method: "GET", path: "/v1/rooms?page_size=1000", token: bob.Token,
			wantStatus: 400, wantBody: []string{`"field":"page_size"`}},
		{name: "JoinRoom", method: "PUT", path: pub + "/members/me", token: bob.Token, wantStatus: 200, wantBody: []string{`"name":"lobby"`}},
		{name: "JoinRoom/private", method: "PUT", path: sec + "/members/me", token: bob.Token, wantStatus: 404, wantBody: []string{`"code":5`}},
		{name: "AddMember/not a member", method: "POST", path: sec + "/members", token: bob.Token, body: `{"username":"bob"}`,
			wantStatus: 404, wantBody: []string{`"code":5`}},
		{name: "AddMember", method: "POST", path: sec + "/members", token: ada.Token, body: `{"username":"bob"}`,
			wantStatus: 200, wantBody: []string{`"username":"bob"`}},
		{name: "AddMember/already", method: "POST", path: sec + "/members", token: ada.Token, body: `{"username":"bob"}`,
			wantStatus: 409, wantBody: []string{`"code":6`}},
		{name: "ListMembers", method: "GET", path: sec + "/members", token: bob.Token,
			wantStatus: 200, wantBody: []string{`"username":"ada"`, `"username":"bob"`}},
		{name: "LeaveRoom", method: "DELETE", path: sec + "/members/me", token: bob.Token, wantStatus: 200, wantBody: []string{`{}`}},
		{name: "LeaveRoom/not a member", method: "DELETE", path: sec + "/members/me", token: bob.Token, wantStatus: 404, wantBody: []string{`"code":5`}},
		{name: "ListMembers/not a member", method: "GET", path: sec + "/members", token: bob.Token, wantStatus: 404, wantBody: []string{`"code":5`}},
		// MessageService (bob's join is seq 2 of the lobby's log, after ada's first message)
		{name: "SendMessage", method: "POST", path: pub + "/messages", token: bob.Token, body: `{"text":"hi","client_message_id":"r1"}`,
			wantStatus: 200, wantBody: []string{`"seq":"3"`, `"text":"hi"`}},
		{name: "SendMessage/retry", method: "POST", path: pub + "/messages", token: bob.Token, body: `{"text":"hi","clientMessageId":"r1"}`,
			wantStatus: 200, wantBody: []string{`"seq":"3"`}},
		{name: "SendMessage/invalid", method: "POST", path: pub + "/messages", token: bob.Token, body: `{"text":" ","client_message_id":"r2"}`,
			wantStatus: 400, wantBody: []string{`google.rpc.BadRequest`, `"field":"text"`}},
		{name: "SendMessage/no such room", method: "POST", path: "/v1/rooms/r_nope/messages", token: bob.Token, body: `{"text":"x","client_message_id":"r3"}`,
			wantStatus: 404, wantBody: []string{`"code":5`}},
		{name: "SendMessage/no token", method: "POST", path: pub + "/messages", body: `{"text":"x","client_message_id":"r4"}`,
			wantStatus: 401, wantBody: []string{`"code":16`}},
		{name: "ListMessages", method: "GET", path: pub + "/messages?after_seq=0&limit=10", token: bob.Token,
			wantStatus: 200, wantBody: []string{`"text":"first"`, `"id":"` + msg.GetId() + `"`, `"headSeq":"3"`}},
		{name: "ListMessages/both bounds", method: "GET", path: pub + "/messages?after_seq=0&before_seq=2", token: bob.Token,
			wantStatus: 400, wantBody: []string{`"code":3`}},
		{name: "ListMessages/unknown query parameter", method: "GET", path: pub + "/messages?after_seq=0&ticket=x", token: bob.Token,
			wantStatus: 200, wantBody: []string{`"text":"first"`}},
		{name: "ListMessages/with a body", method: "GET", path: pub + "/messages", token: bob.Token, body: `{}`,
			wantStatus: 400, wantBody: []string{`"code":3`, `take no request body`}},
		{name: "ListMessages/bad query", method: "GET", path: pub + "/messages?limit=many", token: bob.Token,
			wantStatus: 400, wantBody: []string{`"code":3`}},
		{name: "EditMessage", method: "PATCH", path: pub + "/messages/3", token: bob.Token, body: `{"text":"hi, edited"}`,
			wantStatus: 200, wantBody: []string{`"text":"hi, edited"`, `"editTime":`}},
		{name: "EditMessage/not the sender", method: "PATCH", path: pub + "/messages/3", token: ada.Token, body: `{"text":"mine now"}`,
			wantStatus: 403, wantBody: []string{`"code":7`}},
		{name: "EditMessage/no such seq", method: "PATCH", path: pub + "/messages/999", token: bob.Token, body: `{"text":"x"}`,
			wantStatus: 404, wantBody: []string{`"code":5`}},
		{name: "MarkRead", method: "POST", path: pub + "/read", token: bob.Token, body: `{"seq":"3"}`,
			wantStatus: 200},
		{name: "CreateStreamTicket", method: "POST", path: pub + "/stream-tickets", token: bob.Token,
			wantStatus: 200, wantBody: []string{`"ticket":"pst_`, `"expireTime":`}},
		{name: "CreateStreamTicket/empty object", method: "POST", path: pub + "/stream-tickets", token: bob.Token, body: `{}`,
			wantStatus: 200, wantBody: []string{`"ticket":"pst_`}},
		{name: "CreateStreamTicket/private", method: "POST", path: sec + "/stream-tickets", token: bob.Token, wantStatus: 404, wantBody: []string{`"code":5`}},
		{name: "CreateStreamTicket/not a member", method: "POST", path: pub + "/stream-tickets", token: cat2.Token, wantStatus: 403, wantBody: []string{`"code":7`}},
		{name: "CreateStreamTicket/no token", method: "POST", path: pub + "/stream-tickets", wantStatus: 401, wantBody: []string{`"code":16`}},
		{name: "DeleteMessage/with a body", method: "DELETE", path: pub + "/messages/3", token: bob.Token, body: `{}`,
			wantStatus: 400, wantBody: []string{`"code":3`, `take no request body`}},
		{name: "DeleteMessage/no token", method: "DELETE", path: pub + "/messages/3", wantStatus: 401, wantBody: []string{`"code":16`}},
		{name: "DeleteMessage", method: "DELETE", path: pub + "/messages/3", token: bob.Token, wantStatus: 200},
		// FileService
		{name: "CreateUpload", method: "POST", path: "/v1/uploads", token: ada.Token,
			body:       `{"metadata":{"room_id":"` + public.GetId() + `","name":"hello.txt","content_type":"text/plain","size":13,"sha256":"` + sum + `"}}`,
			wantStatus: 200, wantBody: []string{`"uploadId":"`, `"offset":"0"`}},
		{name: "CreateUpload/invalid", method: "POST", path: "/v1/uploads", token: ada.Token, body: `{"metadata":{"room_id":"` + public.GetId() + `","name":"a/b","size":0}}`,
			wantStatus: 400, wantBody: []string{`google.rpc.BadRequest`}},
		{name: "GetUpload/not found", method: "GET", path: "/v1/uploads/u_nope", token: ada.Token, wantStatus: 404, wantBody: []string{`"code":5`}},
		{name: "UploadChunk/not found", method: "POST", path: "/v1/uploads/u_nope/chunks", token: ada.Token, body: `{"offset":"0","data":"aGk="}`,
			wantStatus: 404, wantBody: []string{`"code":5`}},
		// Not routes
		{name: "unknown path", method: "GET", path: "/v1/nothing", token: ada.Token, wantStatus: 404, wantBody: []string{`"code":5`}},
		{name: "wrong verb", method: "PATCH", path: pub, token: ada.Token, wantStatus: 405, wantHeader: map[string]string{"Allow": "^GET$"}},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			res, body := doREST(t, ts.URL, c)
			if res.StatusCode != c.wantStatus {
				t.Fatalf("%s %s: status %d, want %d; body %s", c.method, c.path, res.StatusCode, c.wantStatus, body)
			}
			for _, want := range c.wantBody {
				if !strings.Contains(body, want) {
					t.Errorf("%s %s: body %s lacks %s", c.method, c.path, body, want)
				}
			}
			for k, v := range c.wantHeader {
				if got := res.Header.Get(k); !regexp.MustCompile(v).MatchString(got) {
					t.Errorf("%s %s: header %s = %q, want %s", c.method, c.path, k, got, v)
				}
			}
			if res.StatusCode != 200 && !json.Valid([]byte(body)) && body != "" {
				t.Errorf("error body is not JSON: %s", body)
			}
			if c.name == "unknown path" || c.name == "wrong verb" {
				return // no operation of the document to check against
			}
			matchesDocument(t, doc, res)
		})
	}

	// The upload through its REST routes, to the file.
	t.Run("Upload", func(t *testing.T) {
		res, body := doREST(t, ts.URL, restCall{method: "POST", path: "/v1/uploads", token: ada.Token,
			body: `{"metadata":{"room_id":"` + public.GetId() + `","name":"hi.txt","content_type":"text/plain","size":13,"sha256":"` + sum + `"}}`})
		var created struct{ Upload struct{ UploadID string } }
		if err := json.Unmarshal([]byte(body), &created); err != nil || res.StatusCode != 200 {
			t.Fatalf("CreateUpload: %d %s", res.StatusCode, body)
		}
		matchesDocument(t, doc, res)
		id := created.Upload.UploadID
		chunk, _ := json.Marshal(map[string]any{"offset": "0", "data": content})
		res, body = doREST(t, ts.URL, restCall{method: "POST", path: "/v1/uploads/" + id + "/chunks", token: ada.Token, body: string(chunk)})
		if res.StatusCode != 200 || !strings.Contains(body, `"sha256":"`+sum+`"`) {
			t.Fatalf("UploadChunk: %d %s", res.StatusCode, body)
		}
		matchesDocument(t, doc, res)
		res, body = doREST(t, ts.URL, restCall{method: "POST", path: "/v1/uploads/" + id + "/chunks", token: ada.Token, body: string(chunk)})
		if res.StatusCode != 400 || !strings.Contains(body, `"code":9`) {
			t.Fatalf("UploadChunk again: %d %s, want 400 failed_precondition", res.StatusCode, body)
		}
		matchesDocument(t, doc, res)
		res, body = doREST(t, ts.URL, restCall{method: "GET", path: "/v1/uploads/" + id, token: ada.Token})
		if res.StatusCode != 200 || !strings.Contains(body, `"offset":"13"`) {
			t.Fatalf("GetUpload: %d %s", res.StatusCode, body)
		}
		matchesDocument(t, doc, res)
	})
}

// TestRESTMatchesConnect checks that a REST route and its procedure over
// Connect return the same resource.
func TestRESTMatchesConnect(t *testing.T) {
	var mu sync.Mutex
	var calls []server.CallInfo
	ts := testserver.Start(t, server.WithCallObserver(func(_ context.Context, c server.CallInfo) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, c)
	}))
	ada := testserver.SignUp(t, ts.Client(t, "connect/proto/h2c"), "ada")
	room := ada.CreateRoom(t, "lobby", parleyv1.Visibility_VISIBILITY_PUBLIC)
	ada.SendMessage(t, room.GetId(), "hello", "m1")
	ctx, cancel := context.WithTimeout(context.Background(), testserver.CallTimeout)
	defer cancel()

	check := func(path string, viaConnect proto.Message, into proto.Message) {
		t.Helper()
		res, body := doREST(t, ts.URL, restCall{method: "GET", path: path, token: ada.Token})
		if res.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, res.StatusCode, body)
		}
		if err := protojson.Unmarshal([]byte(body), into); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(viaConnect, into) {
			t.Errorf("GET %s:\n REST    %v\n Connect %v", path, into, viaConnect)
		}
	}
	room2, err := ada.Rooms.GetRoom(ctx, connect.NewRequest(&parleyv1.GetRoomRequest{RoomId: room.GetId()}))
	if err != nil {
		t.Fatal(err)
	}
	check("/v1/rooms/"+room.GetId(), room2.Msg, &parleyv1.GetRoomResponse{})
	after := int64(0)
	list, err := ada.Messages.ListMessages(ctx, connect.NewRequest(&parleyv1.ListMessagesRequest{RoomId: room.GetId(), AfterSeq: &after}))
	if err != nil {
		t.Fatal(err)
	}
	check("/v1/rooms/"+room.GetId()+"/messages?after_seq=0", list.Msg, &parleyv1.ListMessagesResponse{})
	me, err := ada.Auth.GetMe(ctx, connect.NewRequest(&parleyv1.GetMeRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	check("/v1/users/me", me.Msg, &parleyv1.GetMeResponse{})

	// The observers (the request log, metrics) see the REST call as its
	// procedure, with protocol "rest" (observers run once the answer is
	// out, so wait a little for the last one).
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		found := slices.ContainsFunc(calls, func(c server.CallInfo) bool {
			return c.Path == "/v1/users/me" && c.Method == "GET" && c.Procedure == "/parley.v1.AuthService/GetMe" &&
				c.Protocol == "rest" && c.Codec == "json" && c.Code == "ok"
		})
		mu.Unlock()
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no observed GET /v1/users/me as GetMe over rest among %+v", calls)
		}
	}
}
