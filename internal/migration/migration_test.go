package migration_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/parley-chat/parley/internal/migration"
)

// recorder is a Tx that keeps the statements it runs, with their
// arguments, and answers the version query with current.
type recorder struct {
	current int
	ran     []string
	fail    string // a statement that fails
}

func (r *recorder) Exec(_ context.Context, query string, args ...any) error {
	if query == r.fail {
		return errors.New("boom")
	}
	r.ran = append(r.ran, strings.TrimSpace(fmt.Sprintln(append([]any{query}, args...)...)))
	return nil
}

func (r *recorder) QueryInt(context.Context, string) (int, error) { return r.current, nil }

var dialect = migration.Dialect{CreateTable: "CREATE", Record: "RECORD"}

// TestApply: the table first, then each migration newer than the recorded
// version, in version order, each recorded after it runs.
func TestApply(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"migrations/0002_b.sql": {Data: []byte("B")},
		"migrations/0001_a.sql": {Data: []byte("A")},
		"migrations/0010_c.sql": {Data: []byte("C")},
	}
	tx := &recorder{current: 1}
	if err := migration.Apply(t.Context(), tx, fsys, dialect); err != nil {
		t.Fatal(err)
	}
	if want := []string{"CREATE", "B", "RECORD 2", "C", "RECORD 10"}; !slices.Equal(tx.ran, want) {
		t.Errorf("ran %q, want %q", tx.ran, want)
	}
}

// TestApplyErrors: a file name without a positive version and a failed
// script each stop Apply with an error naming the file.
func TestApplyErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		fsys fstest.MapFS
		fail string
	}{
		{"BadName", fstest.MapFS{"migrations/init.sql": {Data: []byte("A")}}, ""},
		{"ZeroVersion", fstest.MapFS{"migrations/0000_init.sql": {Data: []byte("A")}}, ""},
		{"ScriptFails", fstest.MapFS{"migrations/0001_init.sql": {Data: []byte("A")}}, "A"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := migration.Apply(t.Context(), &recorder{fail: tc.fail}, tc.fsys, dialect)
			if err == nil || !strings.Contains(err.Error(), "init.sql") {
				t.Errorf("Apply: %v, want an error naming the file", err)
			}
		})
	}
}
