package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/client"
	"github.com/parley-chat/parley/internal/pgtest"
	"github.com/parley-chat/parley/internal/testserver"
)

func writeRandomFile(t *testing.T, n int) string {
	t.Helper()
	b, _ := testserver.RandomContent(n)
	path := filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestUploadResumes interrupts an upload of a large file part way (as
// Ctrl-C would) and runs the same command again: it resumes where the
// server stopped instead of starting over. Then the file is downloaded
// and compared, over each protocol.
func TestUploadResumes(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	ada := newUser(t, srv.URL)
	ada.signup("ada")
	ada.ok("rooms", "create", "general")
	path := writeRandomFile(t, 8<<20)

	stderr := interruptUpload(t, ada, srv.URL, "general", path, 8<<20)

	out, errOut, err := ada.run(testContext(t), "", "upload", "general", path)
	if err != nil {
		t.Fatal(err, errOut)
	}
	contains(t, errOut, "Resuming big.bin at ")
	contains(t, out, "Uploaded big.bin (8.0 MiB) to general as file ")
	if strings.Contains(errOut, "\r") || strings.Contains(stderr.String(), "\r") {
		t.Errorf("progress bar drawn on a non-terminal:\n%q", errOut)
	}
	fileID := strings.TrimSuffix(strings.TrimSpace(out[strings.LastIndex(out, "as file ")+len("as file "):]), ".")
	if id := savedUploadID(t, ada); id != "" {
		t.Errorf("upload %s still remembered after completing", id)
	}

	want, _ := os.ReadFile(path)
	for _, flags := range [][]string{{}, {"--protocol", "grpc"}, {"--protocol", "grpcweb", "--codec", "json", "--http1"}} {
		dest := filepath.Join(t.TempDir(), "copy.bin")
		out := ada.ok(append(flags, "download", fileID, "-o", dest)...)
		contains(t, out, "Downloaded big.bin (8.0 MiB)")
		if got, _ := os.ReadFile(dest); !bytes.Equal(got, want) {
			t.Errorf("%v: downloaded content differs", flags)
		}
	}
	// A partial download left behind is continued.
	dest := filepath.Join(t.TempDir(), "part.bin")
	if err := os.WriteFile(dest+".part", want[:3<<20], 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, err = ada.run(testContext(t), "", "download", fileID, "-o", dest)
	if err != nil {
		t.Fatal(err, errOut)
	}
	contains(t, errOut, "Resuming download at 3.0 MiB")
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, want) {
		t.Error("resumed download differs")
	}
	// And the file can go with a message.
	msg := jsonLines(t, ada.ok("upload", "--json", "--message", "the data", "general", path))
	if att := msg[0]["attachments"].([]any); len(att) != 1 {
		t.Fatalf("upload --message: %v", msg)
	}
	contains(t, ada.ok("history", "general"), "[file ")
}

// TestFilesThroughReplicas runs parley upload and download against three
// parleyd processes on one PostgreSQL database behind a proxy that sends
// each request to the next replica: an upload interrupted part way is
// resumed by the next command, on other replicas, and the file downloads
// byte-identical.
func TestFilesThroughReplicas(t *testing.T) {
	t.Parallel()
	_, db := pgtest.Schema(t, 8)
	var urls []string
	for range 3 {
		urls = append(urls, startParleyd(t, "--db", db, "--limit-sends-per-user", "off").URL())
	}
	rr := testserver.StartRoundRobin(t, urls...)
	ada := newUser(t, rr.URL)
	ada.signup("ada")
	ada.ok("rooms", "create", "general")
	path := writeRandomFile(t, 4<<20)

	interruptUpload(t, ada, rr.URL, "general", path, 4<<20)
	out, errOut, err := ada.run(testContext(t), "", "upload", "general", path)
	if err != nil {
		t.Fatal(err, errOut)
	}
	contains(t, errOut, "Resuming big.bin at ")
	contains(t, out, "Uploaded big.bin (4.0 MiB) to general as file ")
	fileID := strings.TrimSuffix(strings.TrimSpace(out[strings.LastIndex(out, "as file ")+len("as file "):]), ".")

	want, _ := os.ReadFile(path)
	for i := range 3 { // three commands, each starting at another replica
		dest := filepath.Join(t.TempDir(), "copy.bin")
		contains(t, ada.ok("download", fileID, "-o", dest), "Downloaded big.bin (4.0 MiB)")
		if got, _ := os.ReadFile(dest); !bytes.Equal(got, want) {
			t.Errorf("download %d differs from the upload", i)
		}
	}
	served := rr.Served()
	if len(served) != 3 {
		t.Errorf("requests per replica %v, want all three", served)
	}
	t.Logf("requests per replica: %v", served)
}

func savedToken(t *testing.T, u *user) string {
	t.Helper()
	cred, ok, err := (&cli{getenv: func(k string) string { return u.env[k] }}).credentials().get(u.server)
	if err != nil || !ok {
		t.Fatalf("no saved token: %v", err)
	}
	return cred.Token
}

func savedUploadID(t *testing.T, u *user) string {
	t.Helper()
	ids, err := (&cli{getenv: func(k string) string { return u.env[k] }}).uploadState().load()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		return id
	}
	return ""
}

// interruptUpload runs `parley upload --limit-rate 4m ROOM PATH` as u and
// interrupts it, as Ctrl-C would, once the server (at serverURL) stored at
// least 1 MiB of the size bytes; it returns what the command printed on
// stderr.
func interruptUpload(t *testing.T, u *user, serverURL, room, path string, size int64) *syncBuffer {
	t.Helper()
	ctx, cancel := context.WithCancel(testContext(t))
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"upload", "--limit-rate", "4m", room, path}, strings.NewReader(""), &stdout, &stderr,
			func(k string) string { return u.env[k] })
	}()
	// Interrupt once the server has stored part of the file.
	c, err := client.New(serverURL, client.WithToken(savedToken(t, u)))
	if err != nil {
		t.Fatal(err)
	}
	var uploadID string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the upload never got going")
		}
		if uploadID == "" {
			uploadID = savedUploadID(t, u)
			continue
		}
		if st, err := c.GetUpload(ctx, uploadID); err == nil && st.Offset >= 1<<20 {
			break
		}
	}
	cancel()
	err = <-done
	if err == nil || !strings.Contains(err.Error(), "run the same command again to resume") {
		t.Fatalf("interrupted upload: %v", err)
	}
	st, err := c.GetUpload(testContext(t), uploadID)
	if err != nil || st.Offset == 0 || st.Offset == size {
		t.Fatalf("after the interruption: %+v %v", st, err)
	}
	return &stderr
}
