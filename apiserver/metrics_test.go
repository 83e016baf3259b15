package apiserver_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"daestro/apiserver"
	"daestro/internal/metrics"
	"daestro/internal/testenv"
	"daestro/internal/tracing"
)

// The request metrics carry the route template, never the raw path: a
// request for one job's URL counts under /v1/jobs/:id, and its ID appears
// in no label (a series per job would grow without bound).
func TestRequestMetricsAreLabelledByRouteTemplate(t *testing.T) {
	m, err := metrics.New("test")
	require.NoError(t, err)
	srv := apiserver.New(apiserver.Options{Logger: testenv.Logger(t), Metrics: m})
	const jobID = "0192f0c4-5b1e-7c3a-9d2e-4f6a8b0c1d2e"
	for _, path := range []string{"/v1/jobs/" + jobID, "/v1/jobs/" + jobID, "/no/such/" + jobID} {
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil)) // no key: 401, still routed
	}

	text := scrape(t, srv, "127.0.0.1:5555", "")
	assert.Contains(t, text, `daestro_http_requests_total{code="401",method="GET",route="/v1/jobs/:id"} 2`)
	assert.Contains(t, text, `daestro_http_requests_total{code="404",method="GET",route="unmatched"} 1`)
	assert.Contains(t, text, `daestro_http_request_duration_seconds_count{method="GET",route="/v1/jobs/:id"} 2`)
	assert.NotContains(t, text, jobID, "no raw path in any label")
}

// /metrics answers callers on loopback, and others only with the metrics token.
func TestMetricsAreServedOnLoopbackOrWithTheToken(t *testing.T) {
	m, err := metrics.New("test")
	require.NoError(t, err)
	srv := apiserver.New(apiserver.Options{Logger: testenv.Logger(t), Metrics: m, MetricsToken: "s3cret"})

	assert.Contains(t, scrape(t, srv, "[::1]:4000", ""), "go_goroutines", "loopback reads without a token")
	assert.Contains(t, scrape(t, srv, "203.0.113.9:4000", "s3cret"), "go_goroutines", "the token lets a remote scraper in")
	for _, token := range []string{"", "wrong"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, apiserver.PathMetrics, nil)
		req.RemoteAddr = "203.0.113.9:4000"
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		srv.Handler().ServeHTTP(rec, req)
		assert.Equal(t, http.StatusUnauthorized, rec.Code, "token %q", token)
		assert.Contains(t, rec.Body.String(), "DAESTRO_METRICS_TOKEN")
	}
}

// scrape reads /metrics as a caller at remote would.
func scrape(t *testing.T, srv *apiserver.Server, remote, token string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, apiserver.PathMetrics, nil)
	req.RemoteAddr = remote
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	srv.Handler().ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.True(t, strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain"), rec.Header().Get("Content-Type"))
	body, _ := io.ReadAll(rec.Body)
	return string(body)
}

// With a tracer, each request is a span named by its route template that
// continues the caller's trace (W3C traceparent).
func TestRequestSpansAreNamedByRouteAndContinueTheCallersTrace(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tr, err := tracing.New(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	require.NoError(t, err)
	srv := apiserver.New(apiserver.Options{Logger: testenv.Logger(t), Tracer: tr.Tracer()})
	req := httptest.NewRequest(http.MethodGet, "/v1/jobs/0192f0c4-5b1e-7c3a-9d2e-4f6a8b0c1d2e", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	srv.Handler().ServeHTTP(httptest.NewRecorder(), req)

	spans := rec.Ended()
	require.Len(t, spans, 1)
	assert.Equal(t, "GET /v1/jobs/:id", spans[0].Name())
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", spans[0].SpanContext().TraceID().String())
	assert.Equal(t, "00f067aa0ba902b7", spans[0].Parent().SpanID().String())
	assert.Contains(t, spans[0].Attributes(), attribute.String("http.route", "/v1/jobs/:id"))
	assert.Contains(t, spans[0].Attributes(), attribute.Int("http.response.status_code", http.StatusUnauthorized))
}
