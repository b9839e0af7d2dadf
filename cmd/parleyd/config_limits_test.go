package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/server"
)

// TestLimitFlags: every limit has a flag and a variable, taking a rate
// (EVENTS/PERIOD,BURST) or a cap, or off; the defaults are
// server.DefaultLimits.
func TestLimitFlags(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"PARLEY_LIMIT_SENDS_PER_USER":         "5/s,10",
		"PARLEY_LIMIT_SIGNUPS_PER_IP":         "1/10m,3",
		"PARLEY_LIMIT_STREAMS_PER_USER":       "off",
		"PARLEY_LIMIT_OPEN_UPLOADS_PER_USER":  "7",
		"PARLEY_LIMIT_SIGNIN_FAILURES_PER_IP": "off",
		"PARLEY_LIMIT_STORED_BYTES_PER_USER":  "10485760",
	}
	cfg := mustParse(t, []string{"--limit-rooms-per-user", "2/h,4", "--limit-sends-per-user", "1/1m30s,1"}, env)
	want := server.DefaultLimits()
	want.SendsPerUser = server.Rate{Events: 1, Per: 90 * time.Second, Burst: 1} // the flag wins
	want.SignUpsPerIP = server.Rate{Events: 1, Per: 10 * time.Minute, Burst: 3}
	want.RoomsPerUser = server.Rate{Events: 2, Per: time.Hour, Burst: 4}
	want.SignInFailuresPerIP = server.Rate{}
	want.StreamsPerUser = 0
	want.OpenUploadsPerUser = 7
	want.StoredBytesPerUser = 10 << 20
	if cfg.limits != want {
		t.Errorf("limits = %+v\nwant     %+v", cfg.limits, want)
	}
	if got := want.SignUpsPerIP.String(); got != "1/10m,3" {
		t.Errorf("String() = %q, want 1/10m,3", got)
	}

	for _, tc := range []struct{ value, want string }{
		{"20/s", "not a rate such as 20/s,50"},
		{"fast", "not a rate such as 20/s,50"},
		{"0/s,5", "not a rate with positive events, period and burst"},
		{"5/s,0", "not a rate with positive events, period and burst"},
		{"5/-1s,5", "not a rate with positive events, period and burst"},
	} {
		_, err := parseConfig(nil, func(k string) string {
			if k == "PARLEY_LIMIT_SENDS_PER_USER" {
				return tc.value
			}
			return ""
		}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), `PARLEY_LIMIT_SENDS_PER_USER: "`+tc.value+`" is `+tc.want) {
			t.Errorf("PARLEY_LIMIT_SENDS_PER_USER=%s: %v, want %q", tc.value, err, tc.want)
		}
	}
	if _, err := parseConfig([]string{"--limit-streams-per-user", "0"}, func(string) string { return "" }, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "not a positive whole number or off") {
		t.Errorf("--limit-streams-per-user 0: %v, want refused (off is spelled off)", err)
	}
	for _, v := range []string{"0", "1GiB", "-5"} {
		if _, err := parseConfig([]string{"--limit-stored-bytes-per-user", v}, func(string) string { return "" }, io.Discard); err == nil ||
			!strings.Contains(err.Error(), "not a positive whole number or off") {
			t.Errorf("--limit-stored-bytes-per-user %s: %v, want refused", v, err)
		}
	}

	var help strings.Builder
	_, _ = parseConfig([]string{"-h"}, func(string) string { return "" }, &help)
	for _, s := range []string{"-limit-sends-per-user rate", "(PARLEY_LIMIT_SENDS_PER_USER) (default 20/s,50)", "(default 128)", "(PARLEY_LIMIT_STORED_BYTES_PER_USER) (default 1073741824)"} {
		if !strings.Contains(help.String(), s) {
			t.Errorf("help lacks %q", s)
		}
	}
}
