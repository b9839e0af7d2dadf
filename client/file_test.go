package client_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/client"
	"github.com/parley-chat/parley/internal/testserver"
)

// TestFiles uploads and downloads a file over every protocol, codec and
// transport, attaches it to a message, and checks a corrupt upload.
func TestFiles(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	content, sum := testserver.RandomContent(300 << 10)
	for name, c := range newClients(t, srv) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			room := signUpInOwnRoom(t, ctx, c, "f", name)
			meta := parley.UploadMeta{RoomID: room.ID, Name: "data.bin", Size: int64(len(content)), SHA256: sum}
			up, err := c.CreateUpload(ctx, meta)
			skipUnimplemented(t, err)
			if err != nil || up.Offset != 0 || up.ID == "" {
				t.Fatalf("CreateUpload = %+v, %v", up, err)
			}
			file, err := c.Upload(ctx, up.ID, bytes.NewReader(content), client.WithChunkSize(64<<10))
			if err != nil || file.SHA256 != sum || file.Size != int64(len(content)) {
				t.Fatalf("Upload = %+v, %v", file, err)
			}
			var got bytes.Buffer
			if _, err := c.Download(ctx, file.ID, 0, &got); err != nil || !bytes.Equal(got.Bytes(), content) {
				t.Fatalf("Download: %d bytes, %v", got.Len(), err)
			}
			got.Reset()
			if _, err := c.Download(ctx, file.ID, 1000, &got); err != nil || !bytes.Equal(got.Bytes(), content[1000:]) {
				t.Fatalf("Download from 1000: %d bytes, %v", got.Len(), err)
			}
			msg, err := c.SendMessage(ctx, room.ID, "see attached", client.WithAttachments(file.ID))
			if err != nil || len(msg.Attachments) != 1 || msg.Attachments[0].ID != file.ID {
				t.Fatalf("SendMessage with attachment = %+v, %v", msg, err)
			}

			small, err := c.CreateUpload(ctx, parley.UploadMeta{RoomID: room.ID, Name: "small.bin", Size: 2000, SHA256: testserver.SHA256Hex(content[:2000])})
			if err != nil {
				t.Fatal(err)
			}
			st, err := c.UploadChunk(ctx, small.ID, 0, content[:1000])
			if err != nil || st.Offset != 1000 || st.File != nil {
				t.Fatalf("UploadChunk = %+v, %v", st, err)
			}
			wantCode(t, firstErr(c.UploadChunk(ctx, small.ID, 0, content[:1000])), parley.EPRECONDITION)
			if st, err = c.UploadChunk(ctx, small.ID, 1000, content[1000:2000]); err != nil || st.File == nil {
				t.Fatalf("last UploadChunk = %+v, %v", st, err)
			}

			bad, err := c.CreateUpload(ctx, parley.UploadMeta{RoomID: room.ID, Name: "bad.bin", Size: 10, SHA256: sum})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Upload(ctx, bad.ID, strings.NewReader("0123456789"))
			wantCode(t, err, parley.ECORRUPT)
		})
	}
}

// TestUploadResumes interrupts an upload part way and uploads again: the
// second call starts where the first one stopped.
func TestUploadResumes(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	ctx := testContext(t)
	c := mustClient(t, srv.URL)
	content, sum, up := createBigUpload(t, ctx, c, 4<<20)
	// Cut the upload off once the server has stored part of it (what is
	// merely sent may still sit in buffers).
	cut, cancel := context.WithCancel(ctx)
	_, err := c.Upload(cut, up.ID, bytes.NewReader(content), client.WithChunkSize(64<<10), client.WithProgress(func(done, _ int64) {
		if done < 2<<20 || cut.Err() != nil {
			return
		}
		for cut.Err() == nil {
			if st, err := c.GetUpload(ctx, up.ID); err != nil || st.Offset > 0 {
				cancel()
			}
		}
	}))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted Upload = %v", err)
	}
	st, err := c.GetUpload(ctx, up.ID)
	if err != nil || st.Offset == 0 || st.Offset >= int64(len(content)) || st.File != nil {
		t.Fatalf("after the interruption: %+v, %v", st, err)
	}
	first := int64(-1)
	file, err := c.Upload(ctx, up.ID, bytes.NewReader(content), client.WithProgress(func(done, _ int64) {
		if first < 0 {
			first = done
		}
	}))
	if err != nil || file.SHA256 != sum {
		t.Fatalf("resumed Upload = %+v, %v", file, err)
	}
	// The server may have stored a few more of the first call's chunks
	// after GetUpload answered; never fewer.
	if first < st.Offset {
		t.Errorf("resumed at %d, want at least %d (where the server stood)", first, st.Offset)
	}
}

// createBigUpload signs c up as ada in a room of her own and creates an
// upload there of size random bytes.
func createBigUpload(t *testing.T, ctx context.Context, c *client.Client, size int) ([]byte, string, client.UploadStatus) {
	t.Helper()
	room := signUpInRoom(t, ctx, c, "ada", "general")
	content, sum := testserver.RandomContent(size)
	up, err := c.CreateUpload(ctx, parley.UploadMeta{RoomID: room.ID, Name: "big.bin", Size: int64(len(content)), SHA256: sum})
	skipUnimplemented(t, err)
	if err != nil {
		t.Fatal(err)
	}
	return content, sum, up
}

// TestUploadSurvivesRestart crashes and restarts the server in the middle
// of an upload: Upload resumes by itself from where the server stood.
func TestUploadSurvivesRestart(t *testing.T) {
	t.Parallel()
	srv := startRestartable(t)
	ctx := testContext(t)
	c := mustClient(t, srv.URL(), client.WithBackoff(20*time.Millisecond, 200*time.Millisecond))
	content, sum, up := createBigUpload(t, ctx, c, 6<<20)
	// Progress counts bytes sent; after the restart it steps back to where
	// the server stood, which must be past 0.
	restarted, prev, resumedAt := false, int64(0), int64(-1)
	file, err := c.Upload(ctx, up.ID, bytes.NewReader(content), client.WithChunkSize(64<<10), client.WithProgress(func(done, _ int64) {
		if !restarted && done >= 2<<20 {
			restarted = true
			srv.restart(true)
		}
		if done < prev && resumedAt < 0 {
			resumedAt = done
		}
		prev = done
	}))
	if err != nil || file.SHA256 != sum {
		t.Fatalf("Upload = %+v, %v", file, err)
	}
	if !restarted || resumedAt == 0 {
		t.Errorf("restarted %v, resumed at %d: want it to continue, not start over", restarted, resumedAt)
	}
	var got bytes.Buffer
	if _, err := c.Download(ctx, file.ID, 0, &got); err != nil || !bytes.Equal(got.Bytes(), content) {
		t.Fatalf("Download: %d bytes, %v", got.Len(), err)
	}
}
