package apiserver_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/domain"
)

// A retry strategy is set on a definition, inherited by its revisions,
// reset by null, overridden per job, and the job shows the one that
// applies; a bad one is a 400 naming the field that writes nothing.
func TestRetryStrategyOnDefinitionsAndJobs(t *testing.T) {
	t.Parallel()
	a := newJobAPI(t)
	c := a.newProject("acme")
	readyQueue(t, c, "etl")
	strategy := map[string]any{"attempts": 3, "evaluate_on_exit": []map[string]any{{"on_exit_code": "3", "action": "retry"}, {"on_reason": "*", "action": "exit"}}}
	r := c.do(http.MethodPost, "/v1/job-definitions", map[string]any{"name": "etl", "type": "docker", "image": "busybox:1", "retry_strategy": strategy})
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	var d domain.JobDefinition
	r.decode(t, &d)
	want := domain.RetryStrategy{Attempts: 3, EvaluateOnExit: []domain.ExitRule{{OnExitCode: "3", Action: "retry"}, {OnReason: "*", Action: "exit"}}}
	require.NotNil(t, d.RetryStrategy)
	assert.Equal(t, want, *d.RetryStrategy)

	r = c.do(http.MethodPost, "/v1/job-definitions/etl/revisions", map[string]any{"command": []string{"true"}})
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	r.decode(t, &d)
	require.NotNil(t, d.RetryStrategy, "a revision inherits the strategy")
	assert.Equal(t, want, *d.RetryStrategy)

	r = c.do(http.MethodPost, "/v1/jobs", map[string]any{"job_definition": "etl", "job_queue": "etl"})
	require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
	var j domain.Job
	r.decode(t, &j)
	assert.Equal(t, want, j.RetryStrategy, "the job follows its definition's")

	own := map[string]any{"attempts": 2}
	r = c.do(http.MethodPost, "/v1/jobs", map[string]any{"job_definition": "etl", "job_queue": "etl", "retry_strategy": own})
	require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
	r.decode(t, &j)
	assert.Equal(t, domain.RetryStrategy{Attempts: 2, EvaluateOnExit: []domain.ExitRule{}}, getJob(t, c, j.ID).RetryStrategy, "its own wins")

	r = c.do(http.MethodPost, "/v1/job-definitions/etl/revisions", map[string]any{"retry_strategy": nil})
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	r.decode(t, &d)
	assert.Nil(t, d.RetryStrategy, "null goes back to the default")
	r = c.do(http.MethodPost, "/v1/jobs", map[string]any{"job_definition": "etl", "job_queue": "etl"})
	require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
	r.decode(t, &j)
	assert.Equal(t, domain.Effective(nil, nil), j.RetryStrategy, "the default: an interrupted run once more")

	before := jobRows(a)
	for _, bad := range []struct {
		body map[string]any
		msg  string
	}{
		{map[string]any{"attempts": 0}, "retry_strategy.attempts: 0 is out of range: a job gets 1 to 10 runs in all (1 = no retry)"},
		{map[string]any{"attempts": 2, "evaluate_on_exit": []map[string]any{{"on_exit_code": "300", "action": "retry"}}},
			`retry_strategy.evaluate_on_exit[0].on_exit_code: "300" is not an exit code: use a code 0-255 ("3"), a range ("1-5") or "*"`},
	} {
		r := c.do(http.MethodPost, "/v1/jobs", map[string]any{"job_definition": "etl", "job_queue": "etl", "retry_strategy": bad.body})
		assert.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
		assert.Equal(t, bad.msg, r.Message)
		r = c.do(http.MethodPost, "/v1/job-definitions/etl/revisions", map[string]any{"retry_strategy": bad.body})
		assert.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
		assert.Equal(t, bad.msg, r.Message)
	}
	assert.Equal(t, before, jobRows(a), "a refused submission writes nothing")
	r = c.do(http.MethodGet, "/v1/job-definitions/etl", nil)
	r.decode(t, &d)
	assert.Equal(t, 3, d.Version, "a refused revision writes nothing")
}
