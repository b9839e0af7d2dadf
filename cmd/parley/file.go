package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
func runUpload(ctx context.Context, e *cli, args []string) error {
	fs := e.commandFlags("upload", "ROOM FILE")
	contentType := fs.String("type", "", "MIME type (default: from the file name's extension)")
	message := fs.String("message", "", "post a message with the file attached")
	rate := fs.String("limit-rate", "", "send at most this many bytes a second, e.g. 500k or 2m")
	args, err := e.parse(fs, args)
	if err != nil {
		return err
	}
	if len(args) != 2 {
		fs.Usage()
		return errUsage
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
	defer f.Close()
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
		if e.g.json {
			return e.printJSON(messageOut(msg))
		}
		_, err = fmt.Fprintln(e.stdout, messageLine(msg))
		return err
	}
	if e.g.json {
		return e.printJSON(fileOut(file))
	}
	_, err = fmt.Fprintf(e.stdout, "Uploaded %s (%s) to %s as file %s.\n", file.Name, byteSize(file.Size), room.Name, file.ID)
	return err
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

func hashFile(f *os.File) (int64, string, error) {
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("read %s: %w", f.Name(), err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// parseRate parses "500k", "2m" or a plain number of bytes per second.
func parseRate(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	mult := int64(1)
	switch strings.ToLower(s[len(s)-1:]) {
	case "k":
		mult, s = 1<<10, s[:len(s)-1]
	case "m":
		mult, s = 1<<20, s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("--limit-rate %q: want a positive number of bytes, e.g. 500k or 2m", s)
	}
	return n * mult, nil
}

// throttledReaderAt sleeps so that reading stays under rate bytes a second
// on average since start.
type throttledReaderAt struct {
	r     io.ReaderAt
	rate  int64
	start time.Time
	read  int64
}

func (t *throttledReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := t.r.ReadAt(p, off)
	t.read += int64(n)
	if due := time.Duration(float64(t.read) / float64(t.rate) * float64(time.Second)); due > time.Since(t.start) {
		time.Sleep(due - time.Since(t.start))
	}
	return n, err
}

// uploadStateFile remembers the ids of unfinished uploads in
// <config dir>/parley/uploads.json, so that they can be resumed.
type uploadStateFile struct{ path string }

func (e *cli) uploadState() *uploadStateFile {
	return &uploadStateFile{path: filepath.Join(configDir(e.getenv), "parley", "uploads.json")}
}

func (s *uploadStateFile) load() (map[string]string, error) {
	m := map[string]string{}
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	} else if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("read %s: %w", s.path, err)
	}
	return m, nil
}

func (s *uploadStateFile) get(key string) (string, error) {
	m, err := s.load()
	return m[key], err
}

// put saves id under key; "" forgets the key.
func (s *uploadStateFile) put(key, id string) error {
	m, err := s.load()
	if err != nil {
		return err
	}
	if id == "" {
		delete(m, key)
	} else {
		m[key] = id
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(s.path, append(b, '\n'), 0o600)
}

// runDownload: `parley download FILE_ID [-o PATH]`. It downloads into
// PATH.part and renames it when complete and verified, so running it again
// after an interruption continues from the bytes already there.
func runDownload(ctx context.Context, e *cli, args []string) error {
	fs := e.commandFlags("download", "FILE_ID")
	out := fs.String("o", "", `where to save ("-" for stdout; default: the file's name, in the current directory)`)
	args, err := e.parse(fs, args)
	if err != nil {
		return err
	}
	if len(args) != 1 {
		fs.Usage()
		return errUsage
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	id := args[0]
	if *out == "-" {
		_, err := c.Download(ctx, id, 0, e.stdout)
		return e.explainFile(err, id)
	}
	part := *out + ".part"
	if *out == "" {
		part = id + ".part"
	}
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Size() > 0 && !e.g.json {
		fmt.Fprintf(e.stderr, "Resuming download at %s.\n", byteSize(st.Size()))
	}
	bar := newProgressBar(e.stderr, id)
	file, err := c.Download(ctx, id, st.Size(), f, client.WithProgress(bar.update))
	bar.finish()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("download interrupted; run the same command again to resume")
		}
		return e.explainFile(err, id)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	size, sum, err := hashFile(f)
	if err != nil {
		return err
	}
	if size != file.Size || sum != file.SHA256 {
		_ = os.Remove(part)
		return fmt.Errorf("downloaded content does not match the file's SHA-256; removed it, run the command again")
	}
	dest := *out
	if err := f.Close(); err != nil {
		return err
	}
	if dest == "" {
		dest = filepath.Base(file.Name)
		if _, err := os.Stat(dest); err == nil {
			return fmt.Errorf("%s exists already; the download is in %s: rename it, or download with -o PATH", dest, part)
		}
	}
	if err := os.Rename(part, dest); err != nil {
		return err
	}
	if e.g.json {
		return e.printJSON(fileOut(file))
	}
	_, err = fmt.Fprintf(e.stdout, "Downloaded %s (%s) to %s.\n", file.Name, byteSize(file.Size), dest)
	return err
}

func (e *cli) explainFile(err error, id string) error {
	switch parley.ErrorCodeOf(err) {
	case "":
		return nil
	case parley.ENOTFOUND, parley.EFORBIDDEN:
		return fmt.Errorf("no file %s in a room you are a member of", id)
	}
	return e.explain(err)
}
