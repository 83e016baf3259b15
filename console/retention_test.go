package console_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/store"
)

// A run whose output the retention purged says so on the job's page, with
// when, instead of an empty log; its live log answers 410 with the sentence.
func TestJobPageSaysItsLogsWerePurged(t *testing.T) {
	s := newSite(t)
	s.signIn()
	status, q := s.api(http.MethodPost, "/v1/job-queues", `{"name":"etl","priority":10}`)
	require.Equal(t, http.StatusCreated, status, q)
	status, d := s.api(http.MethodPost, "/v1/job-definitions", `{"name":"hello","type":"docker","image":"busybox:1"}`)
	require.Equal(t, http.StatusCreated, status, d)
	job, run := store.NewID(), store.NewID()
	purged := time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC)
	exec := func(sql string, args ...any) {
		_, err := s.st.Pool.Exec(context.Background(), sql, args...)
		require.NoError(t, err)
	}
	exec(`INSERT INTO jobs (id, project_id, job_queue_id, job_definition_id, name, state, current_run_id)
		VALUES ($1, $2, $3, $4, 'old', 'completed', $5)`, job, s.projectID, q["data"].(map[string]any)["id"], d["data"].(map[string]any)["id"], run)
	exec(`INSERT INTO job_runs (id, job_id, project_id, attempt, state, exit_code, started_at, finished_at, logs_purged_at)
		VALUES ($1, $2, $3, 1, 'completed', 0, $4::timestamptz - interval '31 days', $4::timestamptz - interval '31 days', $4)`, run, job, s.projectID, purged)

	status, page, _ := s.get("/jobs/" + job)
	require.Equal(t, http.StatusOK, status, page)
	assert.Contains(t, page, "(logs purged 2026-11-30 04:00:00 UTC)", "the runs table says so")
	assert.Contains(t, page, "The logs and metrics of this run were deleted at 2026-11-30 04:00:00 UTC: the project keeps them 30 days after a run ends.")
	assert.NotContains(t, page, "No lines", "no empty log pretends there was nothing")
	assert.NotContains(t, page, `data-follow=`, "no live log for a purged run")

	status, body, _ := s.get("/jobs/" + job + "/logs/stream?run=" + run)
	assert.Equal(t, http.StatusGone, status, body)
	assert.Contains(t, htmlUnescape(body), "were deleted at 2026-11-30T04:00:00Z")
}
