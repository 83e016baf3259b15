// Package tracing turns on OpenTelemetry traces when the standard
// OTEL_EXPORTER_OTLP_* variables name a collector: HTTP spans in the API
// and Temporal's tracing interceptor in every client and worker, so one
// job's path — the submission, its workflow, its activities on the control
// worker and on the agent — is one trace. Off (every method a no-op) when
// no endpoint is set, OTEL_TRACES_EXPORTER=none or OTEL_SDK_DISABLED=true.
package tracing

import (
	"context"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
)

// The standard variables this package reads itself; the exporter reads the
// rest (OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT, _INSECURE, certificates…),
// the SDK OTEL_TRACES_SAMPLER[_ARG], OTEL_BSP_* and OTEL_RESOURCE_ATTRIBUTES.
const (
	EnvEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvProtocol       = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvTracesProtocol = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	EnvTracesExporter = "OTEL_TRACES_EXPORTER"
	EnvSDKDisabled    = "OTEL_SDK_DISABLED"
	EnvServiceName    = "OTEL_SERVICE_NAME"
)

// Tracing is one process's tracer provider; a nil *Tracing traces nothing.
type Tracing struct {
	provider    *sdktrace.TracerProvider
	interceptor interceptor.Interceptor
}

// Enabled reports whether the environment asks for traces.
func Enabled(getenv func(string) string) bool {
	if strings.EqualFold(getenv(EnvSDKDisabled), "true") || strings.EqualFold(getenv(EnvTracesExporter), "none") {
		return false
	}
	return getenv(EnvEndpoint) != "" || getenv(EnvTracesEndpoint) != ""
}

// FromEnv builds the tracer provider the OTEL_* variables describe, named
// daestro-<role> unless OTEL_SERVICE_NAME says otherwise; nil (off) when
// they ask for none.
func FromEnv(ctx context.Context, role string) (*Tracing, error) {
	if !Enabled(os.Getenv) {
		return nil, nil
	}
	protocol := os.Getenv(EnvTracesProtocol)
	if protocol == "" {
		protocol = os.Getenv(EnvProtocol)
	}
	var (
		exp *otlptrace.Exporter
		err error
	)
	switch protocol {
	case "", "http/protobuf":
		exp, err = otlptracehttp.New(ctx)
	case "grpc":
		exp, err = otlptracegrpc.New(ctx)
	default:
		return nil, fmt.Errorf("%s: %q is not one of http/protobuf, grpc", EnvProtocol, protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: the OTLP exporter: %w", err)
	}
	attrs := []attribute.KeyValue{attribute.String("daestro.role", role)}
	if os.Getenv(EnvServiceName) == "" {
		attrs = append(attrs, semconv.ServiceName("daestro-"+role))
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attrs...))
	if err != nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	return New(sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)))
}

// New wraps a tracer provider (FromEnv's, or a test's recorder) and sets
// the W3C trace-context propagator that carries spans across HTTP.
func New(tp *sdktrace.TracerProvider) (*Tracing, error) {
	propagator := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	otel.SetTextMapPropagator(propagator)
	ti, err := temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{Tracer: tp.Tracer("temporal-sdk-go")})
	if err != nil {
		return nil, fmt.Errorf("tracing: Temporal's interceptor: %w", err)
	}
	return &Tracing{provider: tp, interceptor: ti}, nil
}

// Tracer is the tracer of daestro's own spans; nil when off.
func (t *Tracing) Tracer() trace.Tracer {
	if t == nil {
		return nil
	}
	return t.provider.Tracer("daestro")
}

// TemporalInterceptors are the client interceptors that trace every
// workflow start, signal, workflow and activity run (workers inherit them
// from their client); nil when off.
func (t *Tracing) TemporalInterceptors() []interceptor.ClientInterceptor {
	if t == nil {
		return nil
	}
	return []interceptor.ClientInterceptor{t.interceptor}
}

// Shutdown sends the spans still buffered.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}
