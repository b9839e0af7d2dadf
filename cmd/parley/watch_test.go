package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWatchSurvivesRestarts watches a room while parleyd is stopped and
// started again on the same port and data, once gracefully (SIGTERM) and
// once by a crash (SIGKILL), with messages sent before, between and after:
// watch keeps running and prints every message exactly once, in order.
func TestWatchSurvivesRestarts(t *testing.T) {
	t.Parallel()
	srv := startParleyd(t)
	ada := newUser(t, srv.URL())
	ada.signup("ada")
	ada.ok("rooms", "create", "general")
	ada.ok("send", "general", "m1")

	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"watch", "general", "--since", "0"}, strings.NewReader(""), &stdout, &stderr,
			func(k string) string { return ada.env[k] })
	}()
	waitFor := func(text string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(stdout.String(), text) {
			select {
			case err := <-done:
				t.Fatalf("watch ended: %v\n%s\n%s", err, stdout.String(), stderr.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("watch never printed %q:\n%s\nstderr:\n%s", text, stdout.String(), stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("ada: m1")
	ada.ok("send", "general", "m2")
	waitFor("ada: m2")
	srv.stop(syscall.SIGTERM)
	srv.start()
	ada.ok("send", "general", "m3")
	ada.ok("send", "general", "m4")
	waitFor("ada: m4")
	srv.stop(syscall.SIGKILL)
	srv.start()
	ada.ok("send", "general", "m5")
	waitFor("ada: m5")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("watch: %v", err)
	}

	lines := regexp.MustCompile(`(?m)^#\d+ \d\d:\d\d ada: m\d$`).FindAllString(stdout.String(), -1)
	if len(lines) != 5 {
		t.Fatalf("printed %d messages, want 5:\n%s", len(lines), stdout.String())
	}
	for i, line := range lines {
		if want := fmt.Sprintf("#%d ", i+1); !strings.HasPrefix(line, want) || !strings.HasSuffix(line, fmt.Sprintf("m%d", i+1)) {
			t.Errorf("line %d = %q", i, line)
		}
	}
	if !strings.Contains(stderr.String(), "reconnecting") {
		t.Errorf("stderr does not tell about reconnecting:\n%s", stderr.String())
	}
}

// TestWatchJSON checks watch --json, -n and member events.
func TestWatchJSON(t *testing.T) {
	t.Parallel()
	srv := startParleyd(t)
	ada, bob := newUser(t, srv.URL()), newUser(t, srv.URL())
	ada.signup("ada")
	bob.signup("bob")
	ada.ok("rooms", "create", "general")
	ctx := testContext(t)
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--json", "watch", "general", "-n", "1"}, strings.NewReader(""), &stdout, &stderr,
			func(k string) string { return ada.env[k] })
	}()
	time.Sleep(500 * time.Millisecond) // watch starts from the head: let it subscribe first
	bob.ok("rooms", "join", "general")
	bob.ok("send", "general", "hi ada")
	if err := <-done; err != nil {
		t.Fatal(err, stderr.String())
	}
	events := jsonLines(t, stdout.String())
	if len(events) != 2 || events[0]["type"] != "member_joined" || events[1]["type"] != "message" ||
		events[1]["message"].(map[string]any)["text"] != "hi ada" {
		t.Fatalf("watch --json printed:\n%s", stdout.String())
	}
}
