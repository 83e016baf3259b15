package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"daestro/internal/contract"
	"daestro/internal/domain"
	"daestro/internal/testenv"
)

// Array jobs on the real system (#14): an array of 50 and another of 50
// with an N_TO_N dependency on it run every child once, child i of the
// second after child i of the first, each with its index and size in the
// environment; the parents follow their children to completed. A cancelled
// array cancels every child. Bad arrays are refused and write nothing.
func TestArrayJobsEndToEnd(t *testing.T) {
	image := agentTestImage(t)
	s := startSystem(t)
	ar := s.startAgent(image)
	s.waitIdle(ar.spawnID)
	status, def := s.call(http.MethodPost, "/v1/job-definitions", map[string]any{
		"name": "child", "type": "docker", "image": testenv.TestImage(), "cpu_quota_pct": 10, "memory_mb": 16,
		"command":    []string{"sh", "-c", "echo index=$DAESTRO_JOB_ARRAY_INDEX size=$DAESTRO_JOB_ARRAY_SIZE id=$DAESTRO_JOB_ID; sleep Param::sleep"},
		"parameters": map[string]string{"sleep": "0"},
	})
	require.Equal(t, http.StatusCreated, status, def)
	submit := func(body map[string]any) (int, map[string]any) {
		body["job_definition"], body["job_queue"] = "child", "etl"
		return s.call(http.MethodPost, "/v1/jobs", body)
	}

	// Refused, and nothing written.
	for _, bad := range []struct {
		body map[string]any
		says string
	}{
		{map[string]any{"array_size": 1}, "array_size: 1 is out of range"},
		{map[string]any{"array_size": 10001}, "array_size: 10001 is out of range"},
		{map[string]any{"depends_on": []map[string]any{{"type": "SEQUENTIAL"}}}, "SEQUENTIAL applies to array jobs"},
	} {
		status, body := submit(bad.body)
		require.Equal(t, http.StatusBadRequest, status, body)
		assert.Contains(t, fmt.Sprint(body["message"], body["error"]), bad.says)
	}
	status, single := submit(map[string]any{})
	require.Equal(t, http.StatusAccepted, status, single)
	status, body := submit(map[string]any{"array_size": 3, "depends_on": []map[string]any{{"job_id": single["id"], "type": "N_TO_N"}}})
	require.Equal(t, http.StatusBadRequest, status, body)
	assert.Contains(t, fmt.Sprint(body), "is not an array job")
	s.waitJob(single["id"].(string), 2*time.Minute)
	status, list := s.call(http.MethodGet, "/v1/jobs", nil)
	require.Equal(t, http.StatusOK, status, list)
	require.Len(t, list["items"], 1, "only the single job was written")

	const n = 50
	status, first := submit(map[string]any{"array_size": n})
	require.Equal(t, http.StatusAccepted, status, first)
	a := first["id"].(string)
	status, second := submit(map[string]any{"array_size": n, "depends_on": []map[string]any{{"job_id": a, "type": "N_TO_N"}}})
	require.Equal(t, http.StatusAccepted, status, second)
	b := second["id"].(string)

	for _, parent := range []string{a, b} {
		job := s.waitJob(parent, 6*time.Minute)
		require.Equal(t, "completed", job["state"], job)
		_, d := s.call(http.MethodGet, "/v1/jobs/"+parent, nil)
		props := d["array_properties"].(map[string]any)
		assert.EqualValues(t, n, props["size"])
		assert.EqualValues(t, n, props["status_summary"].(map[string]any)["completed"])
	}
	for i := 0; i < n; i++ {
		ai, bi := fmt.Sprintf("%s:%d", a, i), fmt.Sprintf("%s:%d", b, i)
		aRuns, bRuns := s.runsOf(ai), s.runsOf(bi)
		require.Len(t, aRuns, 1, "child %s ran once", ai)
		require.Len(t, bRuns, 1, "child %s ran once", bi)
		assert.False(t, parseTime(t, bRuns[0]["started_at"]).Before(parseTime(t, aRuns[0]["finished_at"])),
			"child %s started after %s finished", bi, ai)
		if i == 7 {
			_, d := s.call(http.MethodGet, "/v1/jobs/"+bi, nil)
			assert.Equal(t, bi, d["id"])
			child := d["array_child"].(map[string]any)
			assert.Equal(t, b, child["parent_id"])
			assert.EqualValues(t, 7, child["index"])
			assert.Equal(t, []any{map[string]any{"job_id": ai, "type": "success"}}, d["depends_on"])
			assert.Contains(t, strings.Join(s.logTexts(bi), "\n"), fmt.Sprintf("index=7 size=%d id=%s", n, bi))
		}
	}
	status, children := s.call(http.MethodGet, "/v1/jobs?array_job_id="+a+"&limit=100", nil)
	require.Equal(t, http.StatusOK, status, children)
	assert.Len(t, children["items"], n, "the filter lists the array's children")

	// Cancel: every child that had not ended ends cancelled, and so does the array.
	status, slow := submit(map[string]any{"array_size": 4, "container_cmd_parameter": map[string]string{"sleep": "300"},
		"depends_on": []map[string]any{{"type": "SEQUENTIAL"}}})
	require.Equal(t, http.StatusAccepted, status, slow)
	c := slow["id"].(string)
	s.waitRunning(c + ":0")
	_, d := s.call(http.MethodGet, "/v1/jobs/"+c+":1", nil)
	assert.Equal(t, "pending", d["state"], "SEQUENTIAL: child 1 waits for child 0")
	status, body = s.call(http.MethodPost, "/v1/jobs/"+c+"/cancel", nil)
	require.Equal(t, http.StatusAccepted, status, body)
	assert.Equal(t, "cancelled", s.waitJob(c, 2*time.Minute)["state"])
	for i := 0; i < 4; i++ {
		assert.Equal(t, "cancelled", s.waitJob(fmt.Sprintf("%s:%d", c, i), time.Minute)["state"], "child %d", i)
	}
}

// BenchmarkArrayJob10000Children submits an array of 10,000 children to a
// queue whose only environment has no machine, and reports how long the
// system takes to place the whole array in the queue — from the submission
// until every child's JobWorkflow has started and the child waits for a
// spawn (runnable) — next to the submission's own latency; then the history
// events the array job's workflow wrote (every run of its continue-as-new
// chain) per child, and what one child's own workflow holds at that point;
// and how long cancelling the whole array takes. (The dispatcher's round over
// thousands of runnable jobs is measured on its own, in activities'
// BenchmarkPlanRound*.)
func BenchmarkArrayJob10000Children(b *testing.B) {
	const size = 10000
	s := startSystem(b)
	s.selfHostedQueue("etl", map[string]any{})
	status, def := s.call(http.MethodPost, "/v1/job-definitions", map[string]any{
		"name": "child", "type": "docker", "image": testenv.TestImage(), "command": []string{"true"}, "cpu_quota_pct": 10, "memory_mb": 16})
	require.Equal(b, http.StatusCreated, status, def)

	summary := func(id string) (map[string]any, map[string]any) {
		_, d := s.call(http.MethodGet, "/v1/jobs/"+id, nil)
		props, _ := d["array_properties"].(map[string]any)
		counts, _ := props["status_summary"].(map[string]any)
		return d, counts
	}
	for b.Loop() {
		t0 := time.Now()
		status, arr := s.call(http.MethodPost, "/v1/jobs", map[string]any{"job_definition": "child", "job_queue": "etl", "array_size": size})
		submitted := time.Since(t0)
		require.Equal(b, http.StatusAccepted, status, arr)
		id := arr["id"].(string)

		var counts map[string]any
		require.Eventually(b, func() bool {
			_, counts = summary(id)
			n, _ := counts["runnable"].(float64)
			return n == size
		}, 20*time.Minute, time.Second, "the children never all became runnable; last counts %v", counts)
		placed := time.Since(t0)

		ctx := context.Background()
		tc := testenv.Temporal(b)
		runs, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: fmt.Sprintf("WorkflowId = '%s'", contract.JobWorkflowID(id))})
		require.NoError(b, err)
		arrayEvents := 0
		for _, run := range runs.Executions {
			arrayEvents += historyLength(b, tc, run.Execution.WorkflowId, run.Execution.RunId)
		}
		childEvents := historyLength(b, tc, contract.JobWorkflowID(domain.ArrayChildID(id, size/2)), "")

		t1 := time.Now()
		status, body := s.call(http.MethodPost, "/v1/jobs/"+id+"/cancel", nil)
		require.Equal(b, http.StatusAccepted, status, body)
		require.Eventually(b, func() bool {
			d, counts := summary(id)
			n, _ := counts["cancelled"].(float64)
			return d["state"] == "cancelled" && n == size
		}, 20*time.Minute, time.Second, "the array was never all cancelled")
		cancelled := time.Since(t1)

		b.ReportMetric(float64(submitted.Milliseconds()), "submit-ms")
		b.ReportMetric(placed.Seconds(), "all-children-runnable-s")
		b.ReportMetric(size/placed.Seconds(), "children-placed/s")
		b.ReportMetric(float64(len(runs.Executions)), "array-workflow-runs")
		b.ReportMetric(float64(arrayEvents)/size, "array-history-events/child")
		b.ReportMetric(float64(childEvents), "child-history-events-when-runnable")
		b.ReportMetric(cancelled.Seconds(), "cancel-all-s")
	}
}

// historyLength counts the events of one workflow run (runID "" for the latest).
func historyLength(t testing.TB, tc client.Client, workflowID, runID string) int {
	t.Helper()
	n := 0
	it := tc.GetWorkflowHistory(context.Background(), workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		_, err := it.Next()
		require.NoError(t, err)
		n++
	}
	return n
}
