package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/client"
)

// runDownload: `parley download FILE_ID [-o PATH]`. It downloads into
// PATH.part and renames it when complete and verified, so running it again
// after an interruption continues from the bytes already there.
func runDownload(ctx context.Context, e *cli, fs *flag.FlagSet, args []string) error {
	out := fs.String("o", "", `where to save ("-" for stdout; default: the file's name, in the current directory)`)
	c, args, err := e.clientArgs(fs, args, 1, 1)
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
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644) //nolint:gosec // a downloaded file gets the usual mode (less the umask), like curl -O
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }() // safety net: the success path closes and checks
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
	return e.show(fileOut(file), fmt.Sprintf("Downloaded %s (%s) to %s.", file.Name, byteSize(file.Size), dest))
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
