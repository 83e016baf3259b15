package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"daestro/activities"
	"daestro/internal/store"
	"daestro/internal/testenv"
	"daestro/worker"
	"daestro/workflows"
)

// Smoke test 2 of the ladder: a worker on the real Temporal dev server runs a
// workflow and its activity against the real Postgres, and the test reads the result.
func TestSmokeWorkerRunsWorkflowOnRealTemporal(t *testing.T) {
	st := testenv.Store(t)
	tc := testenv.Temporal(t)
	queue := testenv.TaskQueue(t)

	w := worker.New(tc, queue, &activities.Activities{Store: st})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	note := testenv.RandomName("smoke")
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        workflows.HealthCheckWorkflowID(note),
		TaskQueue: queue,
	}, workflows.HealthCheckWorkflow, workflows.HealthCheckWorkflowInput{Note: note})
	require.NoError(t, err)

	var res workflows.HealthCheckWorkflowResult
	require.NoError(t, run.Get(ctx, &res))
	assert.Equal(t, note, res.Note)
	assert.Equal(t, store.LatestVersion(), res.SchemaVersion, "the activity read the migrated schema")

	// The run is visible in Temporal as completed, as the Web UI would show it.
	desc, err := tc.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID())
	require.NoError(t, err)
	assert.Equal(t, "Completed", desc.WorkflowExecutionInfo.Status.String())
}
