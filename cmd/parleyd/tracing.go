package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"connectrpc.com/otelconnect"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/parley-chat/parley/server"
)

// tracing is parleyd's OpenTelemetry trace pipeline: spans of every RPC
// (otelconnect) and of the store and broker calls under them, batched and
// exported over OTLP.
type tracing struct {
	provider *sdktrace.TracerProvider
}

// startTracing sets tracing up from the standard OpenTelemetry variables,
// read through getenv: it is off (nil, and no exporter, interceptor or log
// field costs anything) unless OTEL_TRACES_EXPORTER is otlp, or is unset
// while OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
// is set; OTEL_TRACES_EXPORTER=none or OTEL_SDK_DISABLED=true turn it off
// whatever else is set. The protocol is OTEL_EXPORTER_OTLP_TRACES_PROTOCOL
// or OTEL_EXPORTER_OTLP_PROTOCOL: grpc or http/protobuf (the default). The
// exporter itself, the sampler and the batcher read the rest of the
// standard variables from the process environment (endpoint, headers, TLS,
// timeout, compression, OTEL_TRACES_SAMPLER, OTEL_BSP_*), and the resource
// is service.name=parleyd unless OTEL_SERVICE_NAME or
// OTEL_RESOURCE_ATTRIBUTES say otherwise. Another exporter or protocol is
// an error, so that a typo does not turn tracing off in silence.
func startTracing(ctx context.Context, getenv func(string) string, logger *slog.Logger) (*tracing, error) {
	on, err := tracesWanted(getenv)
	if err != nil || !on {
		return nil, err
	}
	protocolVar := "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	protocol := getenv(protocolVar)
	if protocol == "" {
		protocolVar = "OTEL_EXPORTER_OTLP_PROTOCOL"
		protocol = getenv(protocolVar)
	}
	var exporter sdktrace.SpanExporter
	switch protocol {
	case "grpc":
		exporter, err = otlptracegrpc.New(ctx)
	case "", "http/protobuf":
		exporter, err = otlptracehttp.New(ctx)
	default:
		return nil, fmt.Errorf("%s: %q is not grpc or http/protobuf", protocolVar, protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("trace exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName("parleyd")),
		resource.WithFromEnv(), // after the name: OTEL_SERVICE_NAME wins
		resource.WithTelemetrySDK(),
	)
	if err != nil {
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	// The SDK reports failed exports through its one global handler.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("tracing", "err", err)
	}))
	return &tracing{provider: sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exporter),
		sdktrace.WithResource(res),
	)}, nil
}

// tracesWanted reads the variables that decide whether traces are exported.
func tracesWanted(getenv func(string) string) (bool, error) {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return false, nil
	}
	switch exporter := getenv("OTEL_TRACES_EXPORTER"); exporter {
	case "none":
		return false, nil
	case "otlp":
		return true, nil
	case "":
		return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "", nil
	default:
		return false, fmt.Errorf("OTEL_TRACES_EXPORTER: %q is not otlp or none", exporter)
	}
}

// serverOptions are the options that trace every call: otelconnect's
// interceptor, trusting the caller's traceparent (W3C trace context and
// baggage) so that a client's trace goes on into the server, with neither
// its metrics (Prometheus has them) nor an event per stream message (a
// Subscribe would pile up thousands); and the observer that traces the
// store and broker calls under it.
func (t *tracing) serverOptions(cfg config) ([]server.Option, error) {
	interceptor, err := otelconnect.NewInterceptor(
		otelconnect.WithTracerProvider(t.provider),
		otelconnect.WithPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})),
		otelconnect.WithTrustRemote(),
		otelconnect.WithoutMetrics(),
		otelconnect.WithoutTraceEvents(),
	)
	if err != nil {
		return nil, fmt.Errorf("trace interceptor: %w", err)
	}
	return []server.Option{
		server.WithInterceptors(interceptor, spanProtocol{}),
		server.WithObserver(t.observer(cfg)),
	}, nil
}

// traceFlushTimeout bounds how long parleyd waits at exit for the spans
// still buffered to be exported.
const traceFlushTimeout = 5 * time.Second

// flush exports the spans still buffered and stops the exporter; a failure
// (the collector is gone) is logged, since the server itself shut down well.
func (t *tracing) flush(ctx context.Context, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), traceFlushTimeout) // ctx has ended: that is why we flush
	defer cancel()
	if err := t.provider.Shutdown(ctx); err != nil {
		logger.Warn("flush traces", "err", err)
	}
}
