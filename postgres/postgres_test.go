package postgres_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/pgtest"
	"github.com/parley-chat/parley/internal/storetest"
	"github.com/parley-chat/parley/postgres"
)

// open returns a Store on a fresh schema, closed when the test ends.
func open(t *testing.T, schemaURL string, opts ...postgres.Option) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), schemaURL, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestStore(t *testing.T) {
	t.Parallel()
	pgtest.Connect(t) // skip (or, under CI, fail) once, not in every subtest
	storetest.Run(t, func(t *testing.T) parley.Store {
		_, u := pgtest.Schema(t, 4)
		return open(t, u)
	})
}

// TestReplicasShareSeqs opens three Stores on one schema (three replicas)
// and appends to one room from all of them at once: every seq is handed out
// exactly once, and a client id raced on two Stores is stored once.
func TestReplicasShareSeqs(t *testing.T) {
	t.Parallel()
	_, u := pgtest.Schema(t, 4)
	var stores []*postgres.Store
	for range 3 { // opened together: the migration lock keeps them apart
		stores = append(stores, nil)
	}
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() {
			s, err := postgres.Open(context.Background(), u)
			if err != nil {
				t.Errorf("Open: %v", err)
				return
			}
			stores[i] = s
		})
	}
	wg.Wait()
	for _, s := range stores {
		if s == nil {
			t.FailNow()
		}
		t.Cleanup(func() { _ = s.Close() })
	}
	ctx := t.Context()
	alice := storetest.CreateUser(t, stores[0], "alice")
	room := storetest.CreateRoom(t, stores[1], "general", parley.Public, alice)
	const perStore = 40
	var (
		mu      sync.Mutex
		seen    = map[int64]int{}
		created = map[string]int{}
	)
	for i, s := range stores {
		wg.Go(func() {
			for n := range perStore {
				for _, id := range []string{fmt.Sprintf("s%d-%d", i, n), fmt.Sprintf("shared-%d", n)} {
					m, c, err := s.AppendMessage(ctx, parley.NewMessage{RoomID: room.ID, SenderID: alice.ID, Text: "hi", ClientMessageID: id}, nil)
					if err != nil {
						t.Errorf("AppendMessage: %v", err)
						return
					}
					mu.Lock()
					if c {
						seen[m.Seq]++
						created[id]++
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	want := int64(len(stores)*perStore + perStore)
	for seq := int64(1); seq <= want; seq++ {
		if seen[seq] != 1 {
			t.Errorf("seq %d created %d times, want once", seq, seen[seq])
		}
	}
	for id, n := range created {
		if n != 1 {
			t.Errorf("client id %s created %d times", id, n)
		}
	}
	r, err := stores[2].RoomByID(ctx, room.ID)
	if err != nil || r.HeadSeq != want {
		t.Errorf("head = %d, %v; want %d", r.HeadSeq, err, want)
	}
}

// TestUnreachableIsUnavailable expects a database that cannot be reached to
// give EUNAVAILABLE quickly, not a hang or an internal error, and a Store
// whose connections were all terminated to recover by itself.
func TestUnreachableIsUnavailable(t *testing.T) {
	t.Parallel()
	t.Run("ClosedPort", func(t *testing.T) {
		t.Parallel()
		start := time.Now()
		s, err := postgres.Open(context.Background(), "postgres://postgres@127.0.0.1:1/test?connect_timeout=2")
		if err == nil {
			s.Close()
			t.Fatal("Open on a closed port succeeded")
		}
		if code := parley.ErrorCodeOf(err); code != parley.EUNAVAILABLE {
			t.Errorf("Open on a closed port: code %q (%v), want unavailable", code, err)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("Open took %v", took)
		}
	})
	t.Run("TerminatedBackends", func(t *testing.T) {
		t.Parallel()
		_, u := pgtest.Schema(t, 2)
		app := "pgtest_" + strings.ReplaceAll(t.Name(), "/", "_")
		s := open(t, u+"&application_name="+app)
		ctx := t.Context()
		if _, err := s.CreateUser(ctx, "alice", []byte("h")); err != nil {
			t.Fatal(err)
		}
		conn := pgtest.Connect(t)
		var killed int
		if err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&killed); err != nil || killed == 0 {
			t.Fatalf("terminated %d backends: %v", killed, err)
		}
		// The first call may meet a dead pooled connection: unavailable,
		// never internal. Within a few calls the pool has new connections.
		for i := 0; ; i++ {
			_, _, err := s.UserByUsername(ctx, "alice")
			if err == nil {
				break
			}
			if code := parley.ErrorCodeOf(err); code != parley.EUNAVAILABLE || i == 5 {
				t.Fatalf("call %d after termination: code %q (%v)", i, code, err)
			}
		}
	})
}

// TestWithNowStampsExactly checks the clock option and microsecond
// truncation: stamps read back equal to what the Store returned.
func TestWithNowStampsExactly(t *testing.T) {
	t.Parallel()
	_, u := pgtest.Schema(t, 2)
	now := time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.FixedZone("X", 3600))
	s := open(t, u, postgres.WithNow(func() time.Time { return now }))
	ctx := t.Context()
	usr := storetest.CreateUser(t, s, "alice")
	r := storetest.CreateRoom(t, s, "general", parley.Public, usr)
	m, _, err := s.AppendMessage(ctx, parley.NewMessage{RoomID: r.ID, SenderID: usr.ID, Text: "hi", ClientMessageID: "c1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := now.UTC().Truncate(time.Microsecond)
	for name, got := range map[string]time.Time{"user": usr.CreateTime, "room": r.CreateTime, "message": m.CreateTime} {
		if got != want {
			t.Errorf("%s CreateTime = %v, want %v", name, got, want)
		}
	}
	msgs, _, err := s.ListMessages(ctx, r.ID, parley.HistoryQuery{})
	if err != nil || len(msgs) != 1 || !reflect.DeepEqual(msgs[0], m) {
		t.Errorf("ListMessages = %+v, %v; want exactly %+v", msgs, err, m)
	}
}

func TestBlobs(t *testing.T) {
	t.Parallel()
	pgtest.Connect(t)
	storetest.RunBlobs(t, func(t *testing.T) parley.BlobStore {
		_, u := pgtest.Schema(t, 4)
		return postgres.NewBlobs(open(t, u))
	})
}

// TestExpiry runs the expiry suite over the PostgreSQL store and its blob
// store on the same database, the pair parleyd runs with --db.
func TestExpiry(t *testing.T) {
	t.Parallel()
	pgtest.Connect(t)
	storetest.RunExpiry(t, func(t *testing.T) storetest.FileEngine {
		_, u := pgtest.Schema(t, 4)
		s := open(t, u)
		return storetest.FileEngine{Store: s, Files: s, Blobs: postgres.NewBlobs(s)}
	})
}
