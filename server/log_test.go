package server_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/parley-chat/parley/gen/helloworld"
	"github.com/parley-chat/parley/gen/helloworld/helloworldconnect"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
	"github.com/parley-chat/parley/internal/testserver"
	"github.com/parley-chat/parley/server"
)

// TestRequestLog: one "rpc" line per call with what the call was and how
// it ended, on every protocol, codec and transport; below the logger's
// level, nothing.
func TestRequestLog(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		log := newRecordLog(slog.LevelInfo)
		srv := testserver.Start(t, server.WithLogger(slog.New(log)))
		for _, c := range srv.Clients() {
			client := helloworldconnect.NewGreeterClient(c.Client, c.BaseURL, c.Options...)
			if _, err := client.SayHello(context.Background(), connect.NewRequest(&helloworld.HelloRequest{Name: "log"})); err != nil {
				t.Fatalf("%s: %v", c.Name, err)
			}
			want := map[string]string{
				"procedure": helloworldconnect.GreeterSayHelloProcedure,
				"protocol":  c.Protocol,
				"codec":     c.Codec,
				"code":      "ok",
			}
			checkRPCLine(t, c.Name, log.next(t), slog.LevelInfo, want)
		}
	})
	t.Run("ErrUnauthenticated", func(t *testing.T) {
		t.Parallel()
		log := newRecordLog(slog.LevelInfo)
		srv := testserver.Start(t, server.WithLogger(slog.New(log)))
		client := parleyv1connect.NewAuthServiceClient(testserver.H2CClient(), srv.URL, connect.WithGRPC())
		_, err := client.GetMe(context.Background(), connect.NewRequest(&parleyv1.GetMeRequest{}))
		if connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Fatalf("GetMe without token: %v", err)
		}
		checkRPCLine(t, "grpc", log.next(t), slog.LevelInfo, map[string]string{
			"procedure": parleyv1connect.AuthServiceGetMeProcedure, "protocol": "grpc", "code": "unauthenticated",
		})
	})
	t.Run("BelowLevel", func(t *testing.T) {
		t.Parallel()
		log := newRecordLog(slog.LevelWarn)
		srv := testserver.Start(t, server.WithLogger(slog.New(log)))
		client := helloworldconnect.NewGreeterClient(testserver.H2CClient(), srv.URL)
		if _, err := client.SayHello(context.Background(), connect.NewRequest(&helloworld.HelloRequest{})); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-log.records:
			t.Errorf("logged %q at %v with the level at warn", r.Message, r.Level)
		default:
		}
	})
}

func checkRPCLine(t *testing.T, name string, r slog.Record, level slog.Level, want map[string]string) {
	t.Helper()
	if r.Message != "rpc" || r.Level != level {
		t.Errorf("%s: logged %q at %v, want an rpc line at %v", name, r.Message, r.Level, level)
		return
	}
	got := map[string]string{}
	r.Attrs(func(a slog.Attr) bool {
		got[a.Key] = a.Value.String()
		return true
	})
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s = %q, want %q", name, k, got[k], v)
		}
	}
	for _, k := range []string{"http", "duration", "bytes_in", "bytes_out"} {
		if _, ok := got[k]; !ok {
			t.Errorf("%s: no %s", name, k)
		}
	}
}

// recordLog is a slog.Handler that passes on records at or above level.
type recordLog struct {
	level   slog.Level
	records chan slog.Record
}

func newRecordLog(level slog.Level) *recordLog {
	return &recordLog{level: level, records: make(chan slog.Record, 64)}
}

func (l *recordLog) Enabled(_ context.Context, level slog.Level) bool { return level >= l.level }
func (l *recordLog) WithAttrs([]slog.Attr) slog.Handler               { return l }
func (l *recordLog) WithGroup(string) slog.Handler                    { return l }
func (l *recordLog) Handle(_ context.Context, r slog.Record) error {
	l.records <- r.Clone()
	return nil
}

// next waits for the next record: the line is written when the handler
// returns, which the client may see after its call returned.
func (l *recordLog) next(t *testing.T) slog.Record {
	t.Helper()
	select {
	case r := <-l.records:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no log record")
		return slog.Record{}
	}
}
