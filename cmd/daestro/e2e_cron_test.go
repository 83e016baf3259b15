package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"daestro/internal/testenv"
)

// A cron job firing every minute, triggered through its Temporal schedule,
// starts a job that runs to completion on an agent; the cron job shows the
// job it started and its outcome. Disabling pauses its schedule.
func TestCronJobTriggerRunsAJobOnAnAgent(t *testing.T) {
	image := agentTestImage(t)
	s := startSystem(t)
	ar := s.startAgent(image) // queue "etl"
	s.waitIdle(ar.spawnID)
	status, def := s.call(http.MethodPost, "/v1/job-definitions", map[string]any{"name": "report", "type": "docker",
		"image": testenv.TestImage(), "command": []string{"sh", "-c", "echo report for $DAESTRO_JOB_QUEUE_NAME"}})
	require.Equal(t, http.StatusCreated, status, def)
	status, cron := s.call(http.MethodPost, "/v1/cron-jobs", map[string]any{"name": "nightly", "expression": "0 * * * * ?",
		"job_definition": "report", "job_queue": "etl", "time_zone": "Europe/Berlin"})
	require.Equal(t, http.StatusCreated, status, cron)
	cronID := cron["id"].(string)
	schedule := testenv.Temporal(t).ScheduleClient().GetHandle(context.Background(), "cron/"+cronID)
	t.Cleanup(func() { _, _ = s.call(http.MethodDelete, "/v1/cron-jobs/"+cronID, nil) })

	require.NoError(t, schedule.Trigger(context.Background(), client.ScheduleTriggerOptions{}))
	var jobID string
	require.Eventually(t, func() bool {
		_, c := s.call(http.MethodGet, "/v1/cron-jobs/"+cronID, nil)
		if last, ok := c["last_job"].(map[string]any); ok {
			jobID, _ = last["id"].(string)
		}
		return jobID != ""
	}, time.Minute, 250*time.Millisecond, "the trigger never started a job")
	job := s.waitJob(jobID, 2*time.Minute)
	require.Equal(t, "completed", job["state"], job)
	assert.True(t, strings.HasPrefix(job["name"].(string), "nightly-"), job["name"])
	assert.Equal(t, []string{"report for etl"}, s.logTexts(jobID))
	_, detail := s.call(http.MethodGet, "/v1/jobs/"+jobID, nil)
	assert.Equal(t, cronID, detail["cron_job_id"], "the job records the cron job that started it")
	// The schedule fires every minute too, so last_job may already be a
	// later trigger's job: it is one of this cron job's either way.
	_, c := s.call(http.MethodGet, "/v1/cron-jobs/"+cronID, nil)
	assert.True(t, strings.HasPrefix(c["last_job"].(map[string]any)["name"].(string), "nightly-"), c["last_job"])
	assert.Empty(t, c["last_error"])

	status, resp := s.call(http.MethodPatch, "/v1/cron-jobs/"+cronID, map[string]any{"enabled": false})
	require.Equal(t, http.StatusOK, status, resp)
	desc, err := schedule.Describe(context.Background())
	require.NoError(t, err)
	assert.True(t, desc.Schedule.State.Paused, "a disabled cron job's schedule is paused")
}
