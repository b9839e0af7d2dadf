// Package metrics is Parley's Prometheus instrumentation: one Connect
// interceptor, a call observer and a parley.Observer, which together
// count and time RPCs per procedure, protocol, codec and code, streams and
// how they end, deliveries to subscribers, store operations and commits,
// and the PostgreSQL broker's reads; plus the Go runtime and process
// collectors. Handler serves them for scraping (parleyd's admin listener).
//
// Every label has a bounded set of values: procedures are named only
// once a call of them reached its handler (paths no handler serves are
// "other"), codecs are "proto", "json" or "other", codes are Connect's.
// docs/OPERATIONS.md lists every metric.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parley-chat/parley/server"
)

// Metrics holds Parley's metrics in a registry of their own. Create it
// with New, hand ServerOptions to server.New and Observer to the storage
// engine, then serve Handler.
type Metrics struct {
	reg    *prometheus.Registry
	engine string

	rpc      rpcMetrics
	stream   streamMetrics
	delivery deliveryMetrics
	store    storeMetrics
	broker   brokerMetrics

	procedures seriesCache[*procedureSeries]    // only procedures a handler served
	other      *procedureSeries                 // the requests for any other path
	storeOps   seriesCache[prometheus.Observer] // by operation
}

// New returns the metrics of a server whose store is engine ("sqlite",
// "postgres": the engine label of the storage metrics).
func New(engine string) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), engine: engine}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.rpc = newRPCMetrics(m.reg)
	m.other = &procedureSeries{procedure: otherProcedure}
	m.stream = newStreamMetrics(m.reg)
	m.delivery = newDeliveryMetrics(m.reg)
	m.store = newStoreMetrics(m.reg, engine)
	m.broker = newBrokerMetrics(m.reg)
	return m
}

// ServerOptions are the server.New options that feed these metrics: the
// interceptor, the call observer and the Observer.
func (m *Metrics) ServerOptions() []server.Option {
	return []server.Option{
		server.WithInterceptors(m.Interceptor()),
		server.WithCallObserver(m.ObserveCall),
		server.WithObserver(m.Observer()),
	}
}

// WatchHealth reports health (a server's Health method) as the gauges
// parley_up and parley_store_up, read at each scrape.
func (m *Metrics) WatchHealth(health func() server.Health) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "parley_up",
			Help: "1 while health checks report SERVING (ready), 0 while draining or while the store is unreachable or full.",
		}, func() float64 { return boolGauge(health().Serving()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "parley_store_up",
			Help:        "1 while the last ping of the store succeeded, 0 while the database is unreachable.",
			ConstLabels: prometheus.Labels{"engine": m.engine},
		}, func() float64 { return boolGauge(!health().StoreUnreachable) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "parley_store_writable",
			Help:        "0 while writes fail for lack of space (until a probe write succeeds), else 1.",
			ConstLabels: prometheus.Labels{"engine": m.engine},
		}, func() float64 { return boolGauge(!health().StoreFull) }),
	)
}

// Handler serves the metrics in the Prometheus text format, or in
// OpenMetrics to a scraper that asks for it.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{EnableOpenMetrics: true, Registry: m.reg})
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
