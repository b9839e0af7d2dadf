package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// publisher sends the fan-out scenario's messages. Each text starts with
// "t=<send time in ns>", taken just before its send (on Parley a
// SendMessage call, so publish-to-receive latency includes the durable
// commit; on a floor a "pub" line to the child).
//
// With rate 0 (the default) one sender sends in sequence, each send
// waiting for the previous ack: the publish rate is then bounded by one
// commit at a time. With rate R, message i is due at start + i/R and is
// sent by the first free one of senders goroutines (open loop while a
// sender is free; when all are waiting on acks the schedule slips, which
// the achieved rate shows).
type publisher struct {
	rate    float64 // events/s; 0: sequential
	senders int     // concurrent senders when rate > 0
	msgs    int     // messages per size; 0: the scenario's default
}

func (p publisher) String() string {
	if p.rate <= 0 {
		return "sequential, 1 sender"
	}
	return fmt.Sprintf("%.0f events/s target, %d senders", p.rate, p.concurrency())
}

func (p publisher) concurrency() int {
	if p.rate <= 0 {
		return 1
	}
	return max(p.senders, 1)
}

// publish sends msgs messages with send and returns the time from the first
// send to the last ack.
func (p publisher) publish(ctx context.Context, send func(ctx context.Context, text, id string) error, msgs int) (time.Duration, error) {
	pad := strings.Repeat("x", 40)
	start := time.Now()
	sendOne := func(i int) error {
		return send(ctx, fmt.Sprintf("t=%d %s", time.Now().UnixNano(), pad), "m"+itoa(i))
	}
	if p.rate <= 0 {
		for i := range msgs {
			if err := sendOne(i); err != nil {
				return 0, err
			}
		}
		return time.Since(start), nil
	}
	due := make(chan int)
	var (
		wg      sync.WaitGroup
		errOnce sync.Once
		failed  error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range p.concurrency() {
		wg.Go(func() {
			for i := range due {
				if err := sendOne(i); err != nil {
					errOnce.Do(func() { failed = err; cancel() })
				}
			}
		})
	}
	interval := time.Duration(float64(time.Second) / p.rate)
schedule:
	for i := range msgs {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		select {
		case due <- i:
		case <-ctx.Done():
			break schedule
		}
	}
	close(due)
	wg.Wait()
	return time.Since(start), failed
}
