package apiserver_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/apiserver"
	"daestro/internal/metrics"
	"daestro/internal/testenv"
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
