package apiserver_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	temporalclient "go.temporal.io/sdk/client"

	"daestro/apiserver"
	"daestro/internal/contract"
	"daestro/internal/domain"
	"daestro/internal/testenv"
)

// PATCH /v1/project sets the caller's own project's retention; bad input
// is a 400 that says what is allowed and changes nothing, and another
// project is never touched.
func TestProjectLogRetentionSetting(t *testing.T) {
	a := newAPI(t)
	c, other := a.newProject("acme"), a.newProject("other")
	p := getData[domain.Project](t, c, "/v1/project")
	assert.Equal(t, domain.DefaultLogRetentionDays, p.LogRetentionDays, "a new project keeps 30 days")

	for _, tt := range []struct {
		name string
		body any
		want string
	}{
		{"zero", map[string]any{"log_retention_days": 0}, "log_retention_days: 0 is out of range: keep a run's logs and metrics 1 to 3650 days after it ended"},
		{"negative", map[string]any{"log_retention_days": -5}, "log_retention_days: -5 is out of range"},
		{"too long", map[string]any{"log_retention_days": 3651}, "log_retention_days: 3651 is out of range"},
		{"a string", `{"log_retention_days":"30"}`, "log_retention_days: must be a whole number"},
		{"a fraction", `{"log_retention_days":7.5}`, "log_retention_days: must be a whole number"},
		{"null", `{"log_retention_days":null}`, "log_retention_days: required"},
		{"empty object", map[string]any{}, "log_retention_days: required, the days (1-3650)"},
		{"the code", map[string]any{"code": "evil", "log_retention_days": 7}, "code cannot be changed"},
		{"the name", map[string]any{"name": "x", "log_retention_days": 7}, "name cannot be changed"},
		{"unknown field", map[string]any{"retention": 7}, "unknown field \"retention\""},
		{"no body", "", "request body is empty"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := c.do(http.MethodPatch, "/v1/project", tt.body)
			assert.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
			assert.False(t, r.OK)
			assert.Contains(t, r.Message, tt.want)
			assert.Equal(t, 30, getData[domain.Project](t, c, "/v1/project").LogRetentionDays, "a refused change writes nothing")
		})
	}

	got := dataOf[domain.Project](t, c.do(http.MethodPatch, "/v1/project", map[string]any{"log_retention_days": 90}), http.StatusOK)
	assert.Equal(t, 90, got.LogRetentionDays)
	assert.Equal(t, p.Code, got.Code)
	assert.Equal(t, 90, getData[domain.Project](t, c, "/v1/project").LogRetentionDays)
	assert.Equal(t, 30, getData[domain.Project](t, other, "/v1/project").LogRetentionDays, "only the caller's project changes")
	for _, days := range []int{1, 3650} {
		assert.Equal(t, days, dataOf[domain.Project](t, c.do(http.MethodPatch, "/v1/project", map[string]any{"log_retention_days": days}), http.StatusOK).LogRetentionDays)
	}
}

// finishedRunWithOutput is a finished run that ended at finished with
// lines log lines and samples metric samples stored.
func finishedRunWithOutput(t *testing.T, c client, name string, finished time.Time, lines, samples int) placedRun {
	t.Helper()
	p := newPlacedRun(t, c, name)
	outputSQL(t, c.a, `INSERT INTO run_logs (run_id, seq, stream, at, line, contiguous)
		SELECT $1, g, 'stdout', $2::timestamptz - interval '1 hour', 'line ' || g, true FROM generate_series(1, $3::int) g`, p.run, finished, lines)
	outputSQL(t, c.a, `INSERT INTO run_metrics (run_id, at, cpu_pct, memory_bytes)
		SELECT $1, $2::timestamptz - g * interval '1 second', 50, 1048576 FROM generate_series(1, $3::int) g`, p.run, finished, samples)
	outputSQL(t, c.a, `UPDATE job_runs SET state = 'completed', exit_code = 0, finished_at = $2 WHERE id = $1`, p.run, finished)
	outputSQL(t, c.a, `UPDATE jobs SET state = 'completed' WHERE id = $1`, p.job)
	return p
}

// purge runs RetentionWorkflow on the real Temporal server, on the test's
// own control worker, measured from now.
func purge(t *testing.T, tc temporalclient.Client, queue string, now time.Time) contract.RetentionWorkflowResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run, err := tc.ExecuteWorkflow(ctx, temporalclient.StartWorkflowOptions{ID: contract.RetentionWorkflowID(testenv.RandomName("test")), TaskQueue: queue},
		contract.RetentionWorkflowName, contract.RetentionWorkflowInput{Now: now})
	require.NoError(t, err)
	var res contract.RetentionWorkflowResult
	require.NoError(t, run.Get(ctx, &res))
	return res
}

// The retention workflow, on the real Temporal server over the real store,
// deletes exactly the output of runs that ended before their project's
// retention: a run just past 30 days goes (12,000 lines, more than two
// batches of 5,000), one just inside stays, and a project that keeps 90
// days keeps its 31-day-old run. The job detail then shows when, and the
// run's logs and metrics say they were purged instead of showing nothing.
func TestRetentionPurgesExactlyWhatIsPastTheSetting(t *testing.T) {
	st, tc, queue := startControlWorker(t)
	a := serveAPI(t, st, apiserver.Options{Temporal: tc, ControlTaskQueue: queue})
	c, long := a.newProject("acme"), a.newProject("keeper")
	r := long.do(http.MethodPatch, "/v1/project", map[string]any{"log_retention_days": 90})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)

	now := time.Now().UTC().Truncate(time.Second)
	month := 30 * 24 * time.Hour
	old := finishedRunWithOutput(t, c, "old", now.Add(-month-time.Minute), 12000, 120)
	recent := finishedRunWithOutput(t, c, "recent", now.Add(-month+time.Minute), 10, 5)
	kept := finishedRunWithOutput(t, long, "kept", now.Add(-month-24*time.Hour), 10, 5)
	running := newPlacedRun(t, c, "running") // started long ago, not finished: never purged
	outputSQL(t, a, `UPDATE job_runs SET started_at = $2 WHERE id = $1`, running.run, now.Add(-3*month))
	outputSQL(t, a, `INSERT INTO run_logs (run_id, seq, stream, at, line, contiguous) VALUES ($1, 1, 'stdout', $2, 'still going', true)`, running.run, now.Add(-3*month))

	before := time.Now()
	res := purge(t, tc, queue, now)
	assert.Equal(t, 1, res.Runs)
	assert.Equal(t, 12000, res.LogLines)
	assert.Equal(t, 120, res.MetricSamples)
	assert.GreaterOrEqual(t, res.Batches, 3, "12,120 rows at 5,000 a transaction")

	var count int
	require.NoError(t, st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM run_logs WHERE run_id = $1`, old.run).Scan(&count))
	assert.Zero(t, count, "every line of the old run is gone")
	require.NoError(t, st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM run_metrics WHERE run_id = $1`, old.run).Scan(&count))
	assert.Zero(t, count, "every sample of the old run is gone")

	d := getData[domain.JobDetail](t, c, "/v1/jobs/"+old.job)
	require.Len(t, d.Runs, 1)
	require.NotNil(t, d.Runs[0].LogsPurgedAt, "the job detail says the run's logs were purged")
	assert.WithinDuration(t, time.Now(), *d.Runs[0].LogsPurgedAt, time.Since(before)+time.Second)
	for _, path := range []string{"/logs", "/logs?follow=true", "/metrics"} {
		r := c.do(http.MethodGet, "/v1/jobs/"+old.job+path, nil)
		assert.Equal(t, http.StatusGone, r.Status, "%s: %s", path, r.Raw)
		assert.Contains(t, r.Message, "the logs and metrics of run "+old.run+" were deleted at "+d.Runs[0].LogsPurgedAt.UTC().Format(time.RFC3339), path)
		assert.Contains(t, r.Message, "now 30 days after a run ends; log_retention_days: PATCH /v1/project changes it", path)
	}

	for _, p := range []struct {
		c    client
		run  placedRun
		what string
	}{{c, recent, "a run one minute inside the retention"}, {long, kept, "a run of a project that keeps 90 days"}, {c, running, "a run that has not ended"}} {
		d := getData[domain.JobDetail](t, p.c, "/v1/jobs/"+p.run.job)
		assert.Nil(t, d.Runs[0].LogsPurgedAt, p.what)
		assert.NotEmpty(t, readLogs(t, p.c, p.run.job, "").Lines, "%s keeps its logs", p.what)
	}
	assert.Len(t, readLogs(t, c, recent.job, "").Lines, 10)
	assert.Equal(t, 5, getData[domain.RunMetrics](t, long, "/v1/jobs/"+kept.job+"/metrics").Summary.Samples)

	// Again at the same moment: nothing more is due.
	assert.Equal(t, contract.RetentionWorkflowResult{Batches: 1}, purge(t, tc, queue, now))

	// A shorter setting applies at the next pass to the runs still kept.
	r = long.do(http.MethodPatch, "/v1/project", map[string]any{"log_retention_days": 30})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	res = purge(t, tc, queue, now)
	assert.Equal(t, 1, res.Runs)
	assert.Equal(t, 15, res.LogLines+res.MetricSamples)
	assert.NotNil(t, getData[domain.JobDetail](t, long, "/v1/jobs/"+kept.job).Runs[0].LogsPurgedAt)
	assert.Len(t, readLogs(t, c, recent.job, "").Lines, 10, "the other project's recent run is still kept")
}
