package main

import (
	"errors"
	"flag"
	"strconv"
	"strings"
	"time"

	"github.com/parley-chat/parley/server"
)

// limitFlags registers a flag (and so a variable) for each rate limit and
// quota, each defaulting to server.DefaultLimits.
func limitFlags(fs *flag.FlagSet, l *server.Limits) {
	*l = server.DefaultLimits()
	rates := []struct {
		name, usage string
		r           *server.Rate
	}{
		{"limit-signups-per-ip", "SignUp calls per client address", &l.SignUpsPerIP},
		{"limit-signin-failures-per-ip-user", "failed sign-ins per username from one client address", &l.SignInFailuresPerIPUser},
		{"limit-signin-failures-per-ip", "failed sign-ins per client address, any username", &l.SignInFailuresPerIP},
		{"limit-signin-failures-per-user", "failed sign-ins per username from addresses it never signed in from", &l.SignInFailuresPerUser},
		{"limit-sends-per-user", "messages sent per user", &l.SendsPerUser},
		{"limit-rooms-per-user", "rooms created per user", &l.RoomsPerUser},
		{"limit-member-adds-per-user", "AddMember calls per user", &l.MemberAddsPerUser},
		{"limit-uploads-per-user", "uploads started per user", &l.UploadsPerUser},
	}
	for _, r := range rates {
		fs.Var(rateValue{r.r}, r.name, r.usage+": a `rate` EVENTS/PERIOD,BURST (20/s,50 or 1/10m,5), or off")
	}
	fs.Var(capValue[int]{&l.OpenUploadsPerUser}, "limit-open-uploads-per-user", "unfinished uploads per user: a `number`, or off")
	fs.Var(capValue[int]{&l.StreamsPerUser}, "limit-streams-per-user", "open streams (Subscribe, Chat, Download, Upload) per user: a `number`, or off")
	fs.Var(capValue[int64]{&l.StoredBytesPerUser}, "limit-stored-bytes-per-user", "bytes per user in files and unfinished uploads: a number of `bytes`, or off")
}

// rateValue points to a rate: EVENTS/PERIOD,BURST, where PERIOD is s, m, h
// or a duration (10s, 10m), or off. (A struct, so that its zero value prints
// as "".)
type rateValue struct{ p *server.Rate }

func (v rateValue) String() string {
	if v.p == nil {
		return ""
	}
	return v.p.String()
}

var errNotRate = errors.New("not a rate such as 20/s,50 (EVENTS/PERIOD,BURST) or off")

func (v rateValue) Set(s string) error {
	if s == "off" {
		*v.p = server.Rate{}
		return nil
	}
	events, rest, ok1 := strings.Cut(s, "/")
	period, burst, ok2 := strings.Cut(rest, ",")
	if !ok1 || !ok2 {
		return errNotRate
	}
	n, err1 := strconv.Atoi(events)
	b, err2 := strconv.Atoi(burst)
	if period != "" && period[0] >= 'a' && period[0] <= 'z' {
		period = "1" + period // "s" is one second
	}
	per, err3 := time.ParseDuration(period)
	if err := errors.Join(err1, err2, err3); err != nil {
		return errNotRate
	}
	if n < 1 || b < 1 || per <= 0 {
		return errors.New("not a rate with positive events, period and burst (or off)")
	}
	*v.p = server.Rate{Events: n, Per: per, Burst: b}
	return nil
}

// capValue points to a cap (a count, or bytes): a whole number at least 1,
// or off (0).
type capValue[T int | int64] struct{ p *T }

func (v capValue[T]) String() string {
	switch {
	case v.p == nil:
		return ""
	case *v.p <= 0:
		return "off"
	}
	return strconv.FormatInt(int64(*v.p), 10)
}

func (v capValue[T]) Set(s string) error {
	if s == "off" {
		*v.p = 0
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 || int64(T(n)) != n {
		return errors.New("not a positive whole number or off")
	}
	*v.p = T(n)
	return nil
}
