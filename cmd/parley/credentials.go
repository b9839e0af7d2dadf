package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// credential is what signup and signin save for one server.
type credential struct {
	Username   string    `json:"username"`
	UserID     string    `json:"user_id"`
	Token      string    `json:"token"`
	ExpireTime time.Time `json:"expire_time"`
}

// credentialFile keeps one credential per server URL in
// <config dir>/parley/credentials.json, readable by the user only (0600,
// in a 0700 directory).
type credentialFile struct {
	path string
}

type credentialData struct {
	Servers map[string]credential `json:"servers"`
}

func (e *cli) credentials() *credentialFile {
	return &credentialFile{path: filepath.Join(configDir(e.getenv), "parley", "credentials.json")}
}

// configDir is os.UserConfigDir with the environment injected (so tests
// need not touch the process's), overridden by PARLEY_CONFIG_DIR.
func configDir(getenv func(string) string) string {
	if d := getenv("PARLEY_CONFIG_DIR"); d != "" {
		return d
	}
	switch runtime.GOOS {
	case "windows":
		if d := getenv("AppData"); d != "" {
			return d
		}
	case "darwin", "ios":
		if h := getenv("HOME"); h != "" {
			return filepath.Join(h, "Library", "Application Support")
		}
	default:
		if d := getenv("XDG_CONFIG_HOME"); d != "" && filepath.IsAbs(d) {
			return d
		}
		if h := getenv("HOME"); h != "" {
			return filepath.Join(h, ".config")
		}
	}
	if d, err := os.UserConfigDir(); err == nil {
		return d
	}
	return "."
}

func (f *credentialFile) load() (credentialData, error) {
	data := credentialData{Servers: map[string]credential{}}
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return data, nil
	} else if err != nil {
		return data, fmt.Errorf("read credentials: %w", err)
	}
	if err := json.Unmarshal(b, &data); err != nil {
		return data, fmt.Errorf("read credentials %s: %w", f.path, err)
	}
	if data.Servers == nil {
		data.Servers = map[string]credential{}
	}
	return data, nil
}

func (f *credentialFile) get(server string) (credential, bool, error) {
	data, err := f.load()
	c, ok := data.Servers[server]
	return c, ok, err
}

// put saves (or with a nil credential, forgets) the server's credential.
// It writes a temporary file and renames it, so a crash never leaves a
// half-written file, and sets 0600 before any secret is written.
func (f *credentialFile) put(server string, c *credential) error {
	data, err := f.load()
	if err != nil {
		return err
	}
	if c == nil {
		delete(data.Servers, server)
	} else {
		data.Servers[server] = *c
	}
	if err := os.MkdirAll(filepath.Dir(f.path), 0o700); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	b, err := json.MarshalIndent(data, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.path), ".credentials-*")
	if err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // gone already once renamed
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close() // the Chmod error is the one to report
		return fmt.Errorf("save credentials: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		_ = tmp.Close() // the Write error is the one to report
		return fmt.Errorf("save credentials: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	return nil
}
