package client

import (
	"fmt"
	"net/http"
	"net/url"
	"sync"
)

// failover sends every request to the current replica and moves on to the
// next one when a request cannot get a response from it (connection
// refused, reset, dead). The caller's retry (unary calls on unavailable,
// streams reconnecting with backoff) then reaches the next replica.
type failover struct {
	next  http.RoundTripper
	hosts []*url.URL

	mu      sync.Mutex
	current int
}

func newFailover(next http.RoundTripper, base *url.URL, replicas []string) (*failover, error) {
	f := &failover{next: next, hosts: []*url.URL{base}}
	for _, r := range replicas {
		u, err := url.Parse(r)
		if err != nil {
			return nil, fmt.Errorf("replica URL: %w", err)
		}
		if u.Scheme != base.Scheme || u.Host == "" {
			return nil, fmt.Errorf("replica URL %q: want %s://host:port like the base URL", r, base.Scheme)
		}
		f.hosts = append(f.hosts, u)
	}
	return f, nil
}

func (f *failover) RoundTrip(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	i := f.current
	f.mu.Unlock()
	r := req.Clone(req.Context())
	r.URL.Host, r.Host = f.hosts[i].Host, f.hosts[i].Host
	res, err := f.next.RoundTrip(r)
	if err != nil && req.Context().Err() == nil {
		f.mu.Lock()
		if f.current == i { // not already moved on by another request
			f.current = (i + 1) % len(f.hosts)
		}
		f.mu.Unlock()
	}
	return res, err
}
