package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/client"
)

// runUpload: `parley upload ROOM FILE`. The upload id is remembered (in
// the config directory, by server, room, path, size and SHA-256) until the
// upload completes, so running the same command again after an
// interruption continues where the server stopped.
func runUpload(ctx context.Context, e *cli, fs *flag.FlagSet, args []string) error {
	contentType := fs.String("type", "", "MIME type (default: from the file name's extension)")
	message := fs.String("message", "", "post a message with the file attached")
	rate := fs.String("limit-rate", "", "send at most this many bytes a second, e.g. 500k or 2m")
	args, err := e.parseN(fs, args, 2, 2)
	if err != nil {
		return err
	}
	limit, err := parseRate(*rate)
	if err != nil {
		return err
	}
	path, err := filepath.Abs(args[1])
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }() // read only
	size, sum, err := hashFile(f)
	if err != nil {
		return err
	}
	if *contentType == "" {
		*contentType = mime.TypeByExtension(filepath.Ext(path))
	}
	c, room, err := e.roomClient(ctx, args[0])
	if err != nil {
		return err
	}
	meta := parley.UploadMeta{RoomID: room.ID, Name: filepath.Base(path), ContentType: *contentType, Size: size, SHA256: sum}
	state := e.uploadState()
	key := strings.Join([]string{e.serverKey(), room.ID, path, strconv.FormatInt(size, 10), sum}, "|")
	id, err := e.resumableUpload(ctx, c, state, key, meta)
	if err != nil {
		return e.explainRoom(err, args[0])
	}

	bar := newProgressBar(e.stderr, meta.Name)
	first := true
	progress := client.WithProgress(func(done, total int64) {
		if first && done > 0 && done < total && !e.g.json {
			bar.finish()
			fmt.Fprintf(e.stderr, "Resuming %s at %s of %s.\n", meta.Name, byteSize(done), byteSize(total))
		}
		first = false
		bar.update(done, total)
	})
	var content io.ReaderAt = f
	if limit > 0 {
		content = &throttledReaderAt{r: f, rate: limit, start: time.Now()}
	}
	file, err := c.Upload(ctx, id, content, progress)
	bar.finish()
	if err != nil {
		if parley.ErrorCodeOf(err) == parley.ECORRUPT {
			_ = state.put(key, "")
			return fmt.Errorf("%s changed while it was uploading (SHA-256 mismatch); run the command again", args[1])
		}
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("upload interrupted; run the same command again to resume")
		}
		return e.explainRoom(err, args[0])
	}
	if err := state.put(key, ""); err != nil {
		return err
	}
	if *message != "" {
		msg, err := c.SendMessage(ctx, room.ID, *message, client.WithAttachments(file.ID))
		if err != nil {
			return e.explainRoom(err, args[0])
		}
		return e.printMessage(msg)
	}
	return e.show(fileOut(file), fmt.Sprintf("Uploaded %s (%s) to %s as file %s.", file.Name, byteSize(file.Size), room.Name, file.ID))
}

// resumableUpload returns the saved upload id for key if the server still
// knows it, or creates an upload and saves its id.
func (e *cli) resumableUpload(ctx context.Context, c *client.Client, state *uploadStateFile, key string, meta parley.UploadMeta) (string, error) {
	if id, err := state.get(key); err != nil {
		return "", err
	} else if id != "" {
		_, err := c.GetUpload(ctx, id)
		if err == nil {
			return id, nil
		}
		if parley.ErrorCodeOf(err) != parley.ENOTFOUND {
			return "", err
		}
	}
	up, err := c.CreateUpload(ctx, meta)
	if err != nil {
		return "", err
	}
	return up.ID, state.put(key, up.ID)
}
