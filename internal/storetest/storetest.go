// Package storetest is the conformance suite for parley.Store (Run, with
// parley.FileStore for engines that keep files), parley.BlobStore (RunBlobs)
// and parley.Broker (RunBroker): every storage engine, blob store and broker
// runs it from its own tests, so all of them mean the same thing by the
// domain's doc comments.
package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/parley-chat/parley"
)

// Run runs the suite against the engine that open returns. Subtests run in
// parallel and each calls open once, so open must return a new, empty store
// each time and close it with t.Cleanup. The File group runs when the
// engine also implements parley.FileStore and is skipped otherwise.
//
// The suite controls time only where the interfaces take it (sessions); it
// checks that stamps the engine sets are non-zero and read back unchanged.
// Times it passes in have whole seconds, so engines with microsecond
// precision pass.
func Run(t *testing.T, open func(t *testing.T) parley.Store) {
	groups := []struct {
		name  string
		tests []storeTest
	}{
		{"User", userTests},
		{"Session", sessionTests},
		{"Room", roomTests},
		{"Member", memberTests},
		{"Message", messageTests},
		{"Log", logTests},
		{"Store", storeTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			runEach(t, g.tests, open)
		})
	}
	t.Run("File", func(t *testing.T) {
		t.Parallel()
		runFiles(t, open)
	})
}

// suiteTest is one subtest of a suite over engines of type E, named for
// the outcome it checks.
type suiteTest[E any] struct {
	name string
	run  func(t *testing.T, e E)
}

// runEach runs each of tests as a parallel subtest on an engine of its own
// from open.
func runEach[E any](t *testing.T, tests []suiteTest[E], open func(t *testing.T) E) {
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, open(t))
		})
	}
}

// storeTest is one subtest of Run.
type storeTest = suiteTest[parley.Store]

var storeTests = []storeTest{
	{"PingOK", func(t *testing.T, s parley.Store) {
		if err := s.Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	}},
	{"ErrCanceled", func(t *testing.T, s parley.Store) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := s.Ping(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("Ping: got %v, want context.Canceled", err)
		}
		if _, err := s.CreateUser(ctx, "alice", []byte("hash")); !errors.Is(err, context.Canceled) {
			t.Errorf("CreateUser: got %v, want context.Canceled", err)
		}
		if _, _, err := s.ListMessages(ctx, "r_none", parley.HistoryQuery{}); !errors.Is(err, context.Canceled) {
			t.Errorf("ListMessages: got %v, want context.Canceled", err)
		}
		if _, err := s.UserByID(t.Context(), "u_none"); parley.ErrorCodeOf(err) != parley.ENOTFOUND {
			t.Errorf("store unusable after a canceled call: %v", err)
		}
	}},
}

// wantCode fails the test unless err carries the domain code.
func wantCode(t *testing.T, err error, code parley.ErrorCode) {
	t.Helper()
	if got := parley.ErrorCodeOf(err); got != code {
		t.Fatalf("got error %v (code %q), want code %q", err, got, code)
	}
}

// CreateUser stores a user or fails the test.
func CreateUser(t *testing.T, s parley.Store, username string) parley.User {
	t.Helper()
	u, err := s.CreateUser(t.Context(), username, []byte("hash of "+username))
	if err != nil {
		t.Fatalf("CreateUser(%q): %v", username, err)
	}
	return u
}

// CreateRoom stores a room or fails the test.
func CreateRoom(t *testing.T, s parley.Store, name string, v parley.Visibility, creator parley.User) parley.Room {
	t.Helper()
	r, err := s.CreateRoom(t.Context(), name, v, creator.ID)
	if err != nil {
		t.Fatalf("CreateRoom(%q): %v", name, err)
	}
	return r
}

// wantSame fails the test unless a call named what returned want (by
// same) and no error.
func wantSame[T any](t *testing.T, what string, got T, err error, want T, same func(a, b T) bool) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !same(got, want) {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
}

func sameUser(a, b parley.User) bool {
	return a.ID == b.ID && a.Username == b.Username && a.CreateTime.Equal(b.CreateTime)
}

func sameRoom(a, b parley.Room) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Visibility == b.Visibility &&
		a.CreatorID == b.CreatorID && a.CreateTime.Equal(b.CreateTime) && a.HeadSeq == b.HeadSeq
}

func sameMessage(a, b parley.Message) bool {
	return a.ID == b.ID && a.RoomID == b.RoomID && a.Seq == b.Seq && sameUser(a.Sender, b.Sender) &&
		a.Text == b.Text && a.ClientMessageID == b.ClientMessageID && a.CreateTime.Equal(b.CreateTime) &&
		sameFiles(a.Attachments, b.Attachments)
}

// baseTime is where the suite's own times start.
var baseTime = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
