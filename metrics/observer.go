package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley"
)

type streamMetrics struct {
	open     *prometheus.GaugeVec
	duration *prometheus.HistogramVec
	ended    *prometheus.CounterVec
}

func newStreamMetrics(reg prometheus.Registerer) streamMetrics {
	m := streamMetrics{
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "parley_streams_open",
			Help: "Streams open now, by procedure.",
		}, []string{"procedure"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "parley_stream_duration_seconds",
			Help:    "How long streams were open, by procedure.",
			Buckets: []float64{.1, 1, 10, 60, 300, 1800, 3600, 4 * 3600, 24 * 3600},
		}, []string{"procedure"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_streams_ended_total",
			Help: "Streams ended, by procedure and reason: ok, client_cancel, deadline, slow_consumer, shutdown, revoked, error.",
		}, []string{"procedure", "reason"}),
	}
	reg.MustRegister(m.open, m.duration, m.ended)
	return m
}

type deliveryMetrics struct {
	stored     prometheus.Counter
	published  *prometheus.CounterVec
	delivered  prometheus.Counter
	latency    prometheus.Histogram
	queueDepth prometheus.Histogram
	slowCuts   prometheus.Counter
}

func newDeliveryMetrics(reg prometheus.Registerer) deliveryMetrics {
	m := deliveryMetrics{
		stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_messages_stored_total",
			Help: "New messages stored (and published) by this process; retries of a stored message are not counted.",
		}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_events_published_total",
			Help: "Room events this process published to its broker, by kind: message, edit, delete, member, typing, read_marker.",
		}, []string{"kind"}),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_events_delivered_total",
			Help: "Live events written to subscribers' streams (the fan-out: one per event and subscriber).",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "parley_delivery_latency_seconds",
			Help:    "Time from an event's publish, right after its commit, to its write on a subscriber's stream.",
			Buckets: latencyBuckets,
		}),
		queueDepth: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "parley_subscriber_queue_depth_events",
			Help:    "Events a subscriber found queued each time it woke to write them; it is cut off at the queue size (1024 by default).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11), // 1 to 1024
		}),
		slowCuts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_slow_consumer_cuts_total",
			Help: "Subscriptions cut off because their reader fell a full queue behind.",
		}),
	}
	reg.MustRegister(m.stored, m.published, m.delivered, m.latency, m.queueDepth, m.slowCuts)
	return m
}

type storeMetrics struct {
	duration     *prometheus.HistogramVec
	batch        prometheus.Histogram
	commitErrors prometheus.Counter
}

func newStoreMetrics(reg prometheus.Registerer, engine string) storeMetrics {
	engineLabel := prometheus.Labels{"engine": engine}
	m := storeMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:        "parley_store_operation_duration_seconds",
			Help:        "How long store operations took, by operation (the parley.Store method) and engine.",
			Buckets:     []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
			ConstLabels: engineLabel,
		}, []string{"operation"}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:        "parley_store_commit_batch_size_appends",
			Help:        "Message appends per commit: a group commit (SQLite) holds several.",
			Buckets:     prometheus.ExponentialBuckets(1, 2, 9), // 1 to 256, SQLite's largest batch
			ConstLabels: engineLabel,
		}),
		commitErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name:        "parley_store_commit_errors_total",
			Help:        "Commits of message appends that failed for the database's sake (unreachable, out of space, I/O).",
			ConstLabels: engineLabel,
		}),
	}
	reg.MustRegister(m.duration, m.batch, m.commitErrors)
	return m
}

type brokerMetrics struct {
	notifications prometheus.Counter
	catchUps      *prometheus.CounterVec
	catchUpEvents prometheus.Counter
}

func newBrokerMetrics(reg prometheus.Registerer) brokerMetrics {
	m := brokerMetrics{
		notifications: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_broker_notifications_total",
			Help: "Notifications the PostgreSQL broker received (LISTEN/NOTIFY), from every replica.",
		}),
		catchUps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_broker_catchup_reads_total",
			Help: "Reads of the room log the PostgreSQL broker made to catch rooms up, by result: ok or error.",
		}, []string{"result"}),
		catchUpEvents: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_broker_catchup_events_total",
			Help: "Events the PostgreSQL broker's catch-up reads returned.",
		}),
	}
	reg.MustRegister(m.notifications, m.catchUps, m.catchUpEvents)
	return m
}

// eventKinds label parley_events_published_total.
var eventKinds = map[parley.EventKind]string{
	parley.EventMessage:        "message",
	parley.EventMessageEdited:  "edit",
	parley.EventMessageDeleted: "delete",
	parley.EventMemberJoined:   "member",
	parley.EventMemberLeft:     "member",
	parley.EventMemberAdded:    "member",
	parley.EventMemberRemoved:  "member",
	parley.EventTyping:         "typing",
	parley.EventReadMarker:     "read_marker",
}

// Observer returns the parley.Observer that feeds the stream, delivery,
// storage and broker metrics. Give it to server.New (WithObserver, part of
// ServerOptions) and to the storage engine (sqlite.WithObserver,
// postgres.WithObserver).
func (m *Metrics) Observer() *parley.Observer {
	published := make(map[parley.EventKind]prometheus.Counter, len(eventKinds))
	for kind, label := range eventKinds {
		published[kind] = m.delivery.published.WithLabelValues(label)
	}
	catchUpOK, catchUpErr := m.broker.catchUps.WithLabelValues("ok"), m.broker.catchUps.WithLabelValues("error")
	return &parley.Observer{
		StoreOp: func(ctx context.Context, op string) (context.Context, func(error)) {
			h := m.storeOp(op)
			start := time.Now()
			return ctx, func(error) { h.Observe(time.Since(start).Seconds()) }
		},
		Publish: func(_ context.Context, e *parley.Event) func() {
			if c := published[e.Kind]; c != nil {
				c.Inc()
			}
			if e.Kind == parley.EventMessage {
				m.delivery.stored.Inc()
			}
			return func() {}
		},
		Delivered: func(_ *parley.Event, sincePublish time.Duration) {
			m.delivery.delivered.Inc()
			m.delivery.latency.Observe(sincePublish.Seconds())
		},
		QueueDepth:      func(n int) { m.delivery.queueDepth.Observe(float64(n)) },
		SlowConsumerCut: func(string) { m.delivery.slowCuts.Inc() },
		// A streaming procedure's series are made with it (procedure); no
		// procedure is served both unary and streaming.
		StreamStarted: func(_ context.Context, procedure, protocol string) {
			p := m.procedure(procedure, false)
			if p.unary {
				return
			}
			if i, ok := protocolIndex(protocol); ok {
				m.series(p, i).started.Inc()
			}
			p.open.Inc()
		},
		StreamEnded: func(_ context.Context, procedure string, reason parley.StreamEnd, open time.Duration) {
			p := m.procedure(procedure, false)
			if p.unary {
				return
			}
			p.open.Dec()
			p.ended[reason].Inc()
			p.duration.Observe(open.Seconds())
		},
		Commit: func(appends int, err error) {
			m.store.batch.Observe(float64(appends))
			if err != nil {
				m.store.commitErrors.Inc()
			}
		},
		BrokerNotification: m.broker.notifications.Inc,
		BrokerCatchUp: func(events int, err error) {
			if err != nil {
				catchUpErr.Inc()
				return
			}
			catchUpOK.Inc()
			m.broker.catchUpEvents.Add(float64(events))
		},
	}
}

// storeOp returns the latency histogram of a store operation.
func (m *Metrics) storeOp(op string) prometheus.Observer {
	return m.storeOps.loadOrMake(op, func() prometheus.Observer { return m.store.duration.WithLabelValues(op) })
}
