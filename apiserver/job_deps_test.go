package apiserver_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/domain"
	"daestro/internal/store"
)

// depends_on names jobs of the caller's project; the job shows them in
// order with their types. Unknown IDs, another project's jobs, array-only
// types and more than 20 are 400s that write nothing.
func TestJobDependsOn(t *testing.T) {
	t.Parallel()
	a := newJobAPI(t)
	c := a.newProject("acme")
	readyQueue(t, c, "etl")
	etlDefinition(t, c)
	first := c.do(http.MethodPost, "/v1/jobs", etlJob(nil)).id(t)
	second := c.do(http.MethodPost, "/v1/jobs", etlJob(nil)).id(t)

	r := c.do(http.MethodPost, "/v1/jobs", etlJob(map[string]any{"depends_on": []map[string]any{
		{"job_id": first}, {"job_id": second, "type": "completion"}}}))
	require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
	var j domain.Job
	r.decode(t, &j)
	want := []domain.JobDependency{{JobID: first, Type: "success"}, {JobID: second, Type: "completion"}}
	assert.Equal(t, want, j.DependsOn)
	assert.Equal(t, want, getJob(t, c, j.ID).DependsOn)
	assert.Equal(t, []domain.JobDependency{}, getJob(t, c, first).DependsOn)

	other := a.newProject("other")
	readyQueue(t, other, "etl")
	etlDefinition(t, other)
	foreign := other.do(http.MethodPost, "/v1/jobs", etlJob(nil)).id(t)

	many := make([]map[string]any, 21)
	for i := range many {
		many[i] = map[string]any{"job_id": store.NewID()}
	}
	before := jobRows(a)
	for _, tt := range []struct {
		deps []map[string]any
		msg  string
	}{
		{[]map[string]any{{"job_id": store.NewID()}}, "depends_on[0].job_id: no job "},
		{[]map[string]any{{"job_id": first}, {"job_id": foreign}}, "depends_on[1].job_id: no job " + foreign + " in this project"},
		{[]map[string]any{{"job_id": "x"}}, `depends_on[0].job_id: "x" is not a job ID`},
		{[]map[string]any{{"job_id": first}, {"job_id": first}}, "depends_on[1].job_id: job " + first + " is listed twice"},
		{[]map[string]any{{"job_id": first, "type": "N_TO_N"}}, "depends_on[0].type: N_TO_N applies to array jobs"},
		{[]map[string]any{{"job_id": first, "type": "after"}}, `depends_on[0].type: "after" is not a dependency type`},
		{many, "depends_on: 21 jobs are too many: a job waits for at most 20"},
	} {
		r := c.do(http.MethodPost, "/v1/jobs", etlJob(map[string]any{"depends_on": tt.deps}))
		assert.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
		assert.True(t, strings.HasPrefix(r.Message, tt.msg), "%q does not start with %q", r.Message, tt.msg)
	}
	assert.Equal(t, before, jobRows(a), "a refused submission writes nothing")
}
