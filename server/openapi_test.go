package server_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/parley-chat/parley/api"
	"github.com/parley-chat/parley/internal/testserver"
)

// openAPIValidator validates answers against the served document.
func openAPIValidator(t *testing.T, doc []byte) validator.Validator {
	t.Helper()
	d, err := libopenapi.NewDocument(doc)
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(d)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return v
}

// TestOpenAPIDocument fetches /openapi.yaml, checks it is the generated
// document, valid OpenAPI 3.1, and lists every REST route.
func TestOpenAPIDocument(t *testing.T) {
	ts := testserver.Start(t)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, ts.URL+"/openapi.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, body := testserver.Do(t, testserver.HTTP1Client(), req)
	if res.StatusCode != 200 || !bytes.Equal(body, api.OpenAPI) || !strings.HasPrefix(string(body), "openapi: 3.1.0") {
		t.Fatalf("GET /openapi.yaml: %d, %d bytes", res.StatusCode, len(body))
	}
	v := openAPIValidator(t, body)
	if ok, errs := v.ValidateDocument(); !ok {
		for _, e := range errs {
			t.Errorf("document: %v", e)
		}
	}
	// Every operation has its id and declares its error answer
	// (api/openapi.base.yaml).
	d, err := libopenapi.NewDocument(body)
	if err != nil {
		t.Fatal(err)
	}
	model, err := d.BuildV3Model()
	if err != nil {
		t.Fatal(err)
	}
	for path, item := range model.Model.Paths.PathItems.FromOldest() {
		for method, op := range item.GetOperations().FromOldest() {
			if op.Responses == nil || op.Responses.Default == nil || op.OperationId == "" {
				t.Errorf("%s %s lacks its operationId or its default (error) response: add them to api/openapi.base.yaml", method, path)
			}
		}
	}
	for _, route := range []string{"/v1/users:", "/v1/sessions:", "/v1/sessions/current:", "/v1/users/me:", "/v1/rooms:",
		"/v1/rooms/{room_id}:", "/v1/rooms/{room_id}/members:", "/v1/rooms/{room_id}/members/me:", "/v1/rooms/{room_id}/messages:",
		"/v1/uploads:", "/v1/uploads/{upload_id}:", "/v1/uploads/{upload_id}/chunks:",
		"/v1/rooms/{room_id}/stream-tickets:", "/v1/rooms/{room_id}/events:"} {
		if !strings.Contains(string(body), "\n  "+route+"\n") {
			t.Errorf("the document lacks %s", route)
		}
	}
}
