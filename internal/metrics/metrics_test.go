package metrics_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/metrics"
)

// exercised is a registry in which every daestro instrument has a series.
func exercised(t *testing.T) *metrics.Metrics {
	m, err := metrics.New("test")
	require.NoError(t, err)
	now := time.Now()
	runnable := now.Add(-3 * time.Second)
	m.HTTPRequest("GET", "/v1/jobs/:id", 200, time.Millisecond)
	m.JobTransition(metrics.Transition{State: "starting", Queue: "acme::etl", SubmittedAt: now.Add(-5 * time.Second), RunnableAt: &runnable}, now)
	m.JobTransition(metrics.Transition{State: "running", Queue: "acme::etl", SubmittedAt: now.Add(-5 * time.Second), RunnableAt: &runnable}, now)
	m.CloudCall("aws", "create_instance", errors.New("quota"))
	m.LogsIngested(2, 10)
	m.DispatcherRound(20 * time.Millisecond)
	m.ReadAtScrape(func(context.Context) (metrics.DatabaseGauges, error) {
		return metrics.DatabaseGauges{
			RunnableJobs: []metrics.RunnableCount{{Queue: "acme::etl", PendingReason: "no_capacity", Count: 4}},
			Spawns:       []metrics.SpawnCount{{Kind: "cloud", State: "busy", Count: 2}},
		}, nil
	})
	return m
}

// The waits are observed at the transition that ends them, by queue.
func TestJobWaitsAreObservedByQueue(t *testing.T) {
	m := exercised(t)
	n, err := testutil.GatherAndCount(m.Registry(), "daestro_job_queue_wait_seconds", "daestro_job_submit_to_running_seconds", "daestro_job_state_transitions_total")
	require.NoError(t, err)
	assert.Equal(t, 4, n, "one series each for the two waits, two for the transitions")
	text := gatherText(t, m)
	assert.Contains(t, text, `daestro_job_queue_wait_seconds_sum{queue="acme::etl"} 3`)
	assert.Contains(t, text, `daestro_job_submit_to_running_seconds_sum{queue="acme::etl"} 5`)
	assert.Contains(t, text, `daestro_runnable_jobs{pending_reason="no_capacity",queue="acme::etl"} 4`)
	assert.Contains(t, text, `daestro_cloud_api_errors_total{op="create_instance",provider="aws"} 1`)
}

// Every daestro_ metric the Grafana dashboard queries exists.
func TestDashboardUsesOnlyMetricsThatExist(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/grafana/daestro.json")
	require.NoError(t, err)
	var dash map[string]any
	require.NoError(t, json.Unmarshal(raw, &dash), "the dashboard is JSON")
	text := gatherText(t, exercised(t))
	used := regexp.MustCompile(`daestro_[a-z_]+`).FindAllString(string(raw), -1)
	require.NotEmpty(t, used)
	for _, name := range used {
		if name == "daestro_role" { // the SDK metrics' role label
			continue
		}
		assert.Regexp(t, `(?m)^`+name+`[{ ]`, text, "the dashboard queries %s", name)
	}
}

func gatherText(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	fams, err := m.Registry().Gather()
	require.NoError(t, err)
	var b strings.Builder
	for _, f := range fams {
		_, err := expfmt.MetricFamilyToText(&b, f)
		require.NoError(t, err)
	}
	return b.String()
}
