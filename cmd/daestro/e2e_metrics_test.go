package main

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/config"
	"daestro/internal/testenv"
)

// metricValue is the value of the series named exactly by series (name and
// labels as the text format writes them), or -1 when it is absent.
func metricValue(text, series string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// scrapeMetrics GETs url's /metrics (from loopback, as a Prometheus beside it would).
func scrapeMetrics(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	return string(body)
}

// After a job ran, /metrics of the server, the worker and the agent show
// it: the API's requests by route, the logs it shipped, the job's state
// transitions and waits in its queue, the dispatcher's rounds, the spawns
// by state, and the Temporal SDK's own request and poll metrics in each.
func TestMetricsShowAJobOnServerWorkerAndAgent(t *testing.T) {
	image := agentTestImage(t)
	workerAddr := freeAddr(t)
	t.Setenv(config.EnvMetricsAddr, workerAddr)
	s := startSystem(t)
	envID, queueID := s.selfHostedQueue("etl", map[string]any{})
	agentAddr := freeAddr(t)
	ar := s.addAgent(image, envID, queueID, config.EnvMetricsAddr+"="+agentAddr)
	s.waitIdle(ar.spawnID)
	status, def := s.call(http.MethodPost, "/v1/job-definitions", map[string]any{"name": "hello", "type": "docker",
		"image": testenv.TestImage(), "command": []string{"sh", "-c", "echo one; echo two"}, "cpu_quota_pct": 10, "memory_mb": 32})
	require.Equal(t, http.StatusCreated, status, def)
	status, sub := s.call(http.MethodPost, "/v1/client/job", map[string]any{"job_definition": "e2e::hello", "job_queue": "e2e::etl"})
	require.Equal(t, http.StatusAccepted, status, sub)
	jobID := sub["id"].(string)
	require.Equal(t, "completed", s.waitJob(jobID, 2*time.Minute)["state"])
	require.Equal(t, []string{"one", "two"}, s.logTexts(jobID))

	server := scrapeMetrics(t, s.baseURL)
	assert.Equal(t, 1.0, metricValue(server, `daestro_http_requests_total{code="202",method="POST",route="/v1/client/job"}`), "the submission, by its route")
	assert.Greater(t, metricValue(server, `daestro_http_requests_total{code="200",method="GET",route="/v1/client/job/:id"}`), 0.0)
	assert.NotContains(t, server, jobID, "no job ID in any label")
	assert.GreaterOrEqual(t, metricValue(server, `daestro_log_lines_ingested_total`), 2.0)
	assert.GreaterOrEqual(t, metricValue(server, `daestro_log_bytes_ingested_total`), 6.0)
	assert.Equal(t, 1.0, metricValue(server, `daestro_compute_spawns{kind="selfhosted",state="idle"}`), "spawns by kind and state, read at scrape time")
	assert.Equal(t, 1.0, metricValue(server, `daestro_database_gauges_up`))
	assert.Regexp(t, `(?m)^temporal_request_total\{.*operation="StartWorkflowExecution".*\} \d+`, server, "the SDK's metrics: the API started the job's workflow")

	require.Eventually(t, func() bool { // the workflow records completed, then the metrics are scraped
		return metricValue(scrapeMetrics(t, "http://"+workerAddr), `daestro_job_state_transitions_total{state="completed"}`) == 1
	}, 10*time.Second, 200*time.Millisecond)
	w := scrapeMetrics(t, "http://"+workerAddr)
	for _, state := range []string{"runnable", "starting", "running", "completed"} {
		assert.Equal(t, 1.0, metricValue(w, `daestro_job_state_transitions_total{state="`+state+`"}`), state)
	}
	assert.Equal(t, 1.0, metricValue(w, `daestro_job_queue_wait_seconds_count{queue="e2e::etl"}`), "runnable → starting, by queue")
	assert.Equal(t, 1.0, metricValue(w, `daestro_job_submit_to_running_seconds_count{queue="e2e::etl"}`), "submit → running, by queue")
	assert.GreaterOrEqual(t, metricValue(w, `daestro_dispatcher_round_duration_seconds_count`), 1.0)
	assert.Regexp(t, `(?m)^temporal_long_request_total\{.*operation="PollWorkflowTaskQueue".*\} \d+`, w, "the worker's polls")
	assert.Regexp(t, `(?m)^temporal_workflow_completed_total\{.*workflow_type="JobWorkflow".*\} 1`, w, "the SDK saw the job's workflow complete")

	a := scrapeMetrics(t, "http://"+agentAddr)
	assert.Regexp(t, `(?m)^temporal_long_request_total\{.*operation="PollActivityTaskQueue".*\} \d+`, a, "the agent's polls through the gateway")
	assert.Regexp(t, `(?m)^temporal_activity_execution_latency_seconds_count\{.*activity_type="WaitJob".*\} 1`, a, "the agent ran the job's activities")
}
