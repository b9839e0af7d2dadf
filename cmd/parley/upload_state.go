package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

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
