package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"daestro/internal/testenv"
	"daestro/internal/tracing"
)

// collectedSpan is what the fake collector keeps of a span.
type collectedSpan struct {
	traceID, name, service string
}

// fakeCollector is an OTLP/HTTP trace receiver that keeps every span.
type fakeCollector struct {
	mu    sync.Mutex
	spans []collectedSpan
}

func (fc *fakeCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
		http.Error(w, "not an OTLP trace export", http.StatusBadRequest)
		return
	}
	fc.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				service = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				fc.spans = append(fc.spans, collectedSpan{traceID: hexID(sp.GetTraceId()), name: sp.GetName(), service: service})
			}
		}
	}
	fc.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// trace returns the "service name" of every span of traceID.
func (fc *fakeCollector) trace(traceID string) map[string]bool {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	out := map[string]bool{}
	for _, s := range fc.spans {
		if s.traceID == traceID {
			out[s.service+" "+s.name] = true
		}
	}
	return out
}

func hexID(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// With OTEL_EXPORTER_OTLP_ENDPOINT set, one job's path is one trace that
// continues the caller's: the API's request span, the start of the job's
// workflow, the workflow's run on the control worker and its activities on
// the agent (whose spans cross the gateway in Temporal's headers).
func TestTracesFollowAJobFromTheAPIToTheAgent(t *testing.T) {
	image := agentTestImage(t)
	collector := &fakeCollector{}
	srv := httptest.NewServer(collector)
	t.Cleanup(srv.Close)
	t.Setenv(tracing.EnvEndpoint, srv.URL)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "200")
	s := startSystem(t)
	envID, queueID := s.selfHostedQueue("etl", map[string]any{})
	ar := s.addAgent(image, envID, queueID, tracing.EnvEndpoint+"="+srv.URL, "OTEL_BSP_SCHEDULE_DELAY=200")
	s.waitIdle(ar.spawnID)
	status, def := s.call(http.MethodPost, "/v1/job-definitions", map[string]any{"name": "hello", "type": "docker",
		"image": testenv.TestImage(), "command": []string{"echo", "traced"}, "cpu_quota_pct": 10, "memory_mb": 32})
	require.Equal(t, http.StatusCreated, status, def)

	// The caller's own trace: its ID must be the job's.
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	body, _ := json.Marshal(map[string]any{"job_definition": "e2e::hello", "job_queue": "e2e::etl"})
	req, _ := http.NewRequest(http.MethodPost, s.baseURL+"/v1/client/job", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var sub struct {
		Data struct{ ID string } `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&sub))
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.Equal(t, "completed", s.waitJob(sub.Data.ID, 2*time.Minute)["state"])

	want := []string{
		"daestro-server POST /v1/client/job",
		"daestro-server StartWorkflow:JobWorkflow",
		"daestro-worker RunWorkflow:JobWorkflow",
		"daestro-agent RunActivity:StartJob",
		"daestro-agent RunActivity:WaitJob",
	}
	require.Eventually(t, func() bool {
		got := collector.trace(traceID)
		for _, w := range want {
			if !got[w] {
				return false
			}
		}
		return true
	}, 20*time.Second, 250*time.Millisecond, "the job's trace lacks spans; it has %v", collector.trace(traceID))
	assert.NotEmpty(t, collector.trace(traceID))
}
