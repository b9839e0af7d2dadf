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

	ctx, cancel := context.WithCancel(testContext(t))
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"upload", "--limit-rate", "4m", "general", path}, strings.NewReader(""), &stdout, &stderr,
			func(k string) string { return ada.env[k] })
	}()
	// Interrupt once the server has stored part of the file.
	c, err := client.New(srv.URL, client.WithToken(savedToken(t, ada)))
	if err != nil {
		t.Fatal(err)
	}
	var uploadID string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the upload never got going")
		}
		if uploadID == "" {
			uploadID = savedUploadID(t, ada)
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
	if err != nil || st.Offset == 0 || st.Offset == 8<<20 {
		t.Fatalf("after the interruption: %+v %v", st, err)
	}

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
