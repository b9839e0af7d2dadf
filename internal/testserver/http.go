package testserver

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// Do sends req with client, the way curl would, and returns the response
// and its whole body (closed, and readable again in the response, for
// validators that read it); it fails the test when no response comes or
// its body cannot be read.
func Do(tb testing.TB, client *http.Client, req *http.Request) (*http.Response, []byte) {
	tb.Helper()
	res, err := client.Do(req) //nolint:gosec // a test's own request, to a server the test started
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }() // read to the end: nothing left to report
	body, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatal(err)
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	return res, body
}
