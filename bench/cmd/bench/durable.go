package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// durableScenario runs 20 concurrent senders of SendMessage (closed loop,
// one room, one user) against Parley on SQLite; an ack means the message
// is durably stored.
func durableScenario(o options) ([]string, error) {
	const senders = 20
	d := 3 * o.dur
	c, err := startChild(peerParley)
	if err != nil {
		return nil, err
	}
	defer c.stop()
	ctx := context.Background()
	s, err := newParleySession(ctx, c.addr, "durable")
	if err != nil {
		return nil, err
	}
	room, err := s.createRoom(ctx, "durable")
	if err != nil {
		return nil, err
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		lats []time.Duration
		errs []error
	)
	cpu0, _, err := c.stats()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	deadline := start.Add(d)
	for w := range senders {
		wg.Go(func() {
			var local []time.Duration
			for i := 0; time.Now().Before(deadline); i++ {
				lat, err := s.send(ctx, room, "durable message body", fmt.Sprintf("w%d-%d", w, i))
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				local = append(local, lat)
			}
			mu.Lock()
			lats = append(lats, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, _, err := c.stats()
	if err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("durable send: %w", errs[0])
	}
	slices.Sort(lats)
	rps := float64(len(lats)) / elapsed.Seconds()
	p50, p99 := quantile(lats, 0.5), quantile(lats, 0.99)
	cpu := float64(cpu1-cpu0) / float64(max(len(lats), 1))
	fmt.Printf("\n== durable SendMessage on SQLite, %d senders, %v ==\n", senders, d)
	fmt.Printf("acks/s %.0f  p50 %.2f ms  p99 %.2f ms  server cpu %.0f us/ack  load %.2f\n", rps, ms(p50), ms(p99), cpu, loadavg())
	if o.out != "" {
		rows := [][]string{
			{"senders", "seconds", "acks", "acks_per_s", "p50_ms", "p99_ms", "server_cpu_us_per_ack", "load1"},
			{itoa(senders), ftoa(elapsed.Seconds()), itoa(len(lats)), ftoa(rps), ftoa(ms(p50)), ftoa(ms(p99)), ftoa(cpu), ftoa(loadavg())},
		}
		if err := writeCSV(filepath.Join(o.out, "durable.csv"), rows); err != nil {
			return nil, err
		}
	}
	return []string{fmt.Sprintf("durable SendMessage, %d senders: %.0f acks/s, p99 %.1f ms (target >=10000/s, p99<20ms)", senders, rps, ms(p99))}, nil
}
