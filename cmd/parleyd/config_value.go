package main

import (
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// The flag.Value types of parleyd's settings. Set checks the range as well
// as the form, so that a flag and its variable reject the same values; its
// errors complete the sentence `"VALUE" is ...` that parseConfig writes for
// a variable (the flag package writes `invalid value "VALUE" for flag
// -NAME: ...`).

// byteCount is a whole number of bytes, at least 1.
type byteCount int

func (b *byteCount) String() string { return strconv.Itoa(int(*b)) }

func (b *byteCount) Set(s string) error {
	n, err := strconv.Atoi(s)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return errors.New("too large a number of bytes")
	case err != nil:
		return errors.New("not a whole number of bytes")
	case n < 1:
		return errors.New("not a positive number of bytes")
	}
	*b = byteCount(n)
	return nil
}

// positiveCount is a whole number, at least 1.
type positiveCount int

func (c *positiveCount) String() string { return strconv.Itoa(int(*c)) }

func (c *positiveCount) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return errors.New("not a positive whole number")
	}
	*c = positiveCount(n)
	return nil
}

// positiveDuration is a duration longer than zero, such as 30s or 2m.
type positiveDuration time.Duration

func (d *positiveDuration) String() string { return time.Duration(*d).String() }

func (d *positiveDuration) Set(s string) error {
	return setDuration((*time.Duration)(d), s, 1, "not a positive duration")
}

// gracePeriod is a duration of zero or more.
type gracePeriod time.Duration

func (d *gracePeriod) String() string { return time.Duration(*d).String() }

func (d *gracePeriod) Set(s string) error {
	return setDuration((*time.Duration)(d), s, 0, "negative")
}

// setDuration sets *d to s, a duration with a unit, unless it is shorter
// than least: then it returns the error shorter.
func setDuration(d *time.Duration, s string, least time.Duration, shorter string) error {
	v, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return errors.New("not a duration with a unit, such as 30s or 2m")
	case v < least:
		return errors.New(shorter)
	}
	*d = v
	return nil
}

// logLevel points to a level that is debug, info, warn or error, in any
// case. (A struct, so that its zero value prints as "" and -h shows the
// default, info.)
type logLevel struct{ p *slog.Level }

func (l logLevel) String() string {
	if l.p == nil {
		return ""
	}
	return strings.ToLower(l.p.String())
}

func (l logLevel) Set(s string) error {
	levels := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}
	v, ok := levels[strings.ToLower(s)]
	if !ok {
		return errors.New("not debug, info, warn or error")
	}
	*l.p = v
	return nil
}

// logFormat points to whether the log format is json rather than text.
// (A struct, so that its zero value prints as "" and -h shows the default,
// text.)
type logFormat struct{ json *bool }

func (f logFormat) String() string {
	switch {
	case f.json == nil:
		return ""
	case *f.json:
		return "json"
	}
	return "text"
}

func (f logFormat) Set(s string) error {
	switch s {
	case "text":
		*f.json = false
	case "json":
		*f.json = true
	default:
		return errors.New("not text or json")
	}
	return nil
}
