package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"daestro/activities"
	"daestro/internal/contract"
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

// The system schedules are created at start and a second start (another
// worker, a restart) finds them and leaves one of each: the retention
// schedule runs RetentionWorkflow every hour on the worker's queue.
func TestSystemSchedulesAreCreatedOnceAndRunRetentionHourly(t *testing.T) {
	tc := testenv.Temporal(t)
	queue := testenv.TaskQueue(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, worker.EnsureSystemSchedules(ctx, tc, queue))
	require.NoError(t, worker.EnsureSystemSchedules(ctx, tc, queue), "a second start finds the schedules and updates them")

	desc, err := tc.ScheduleClient().GetHandle(ctx, contract.RetentionScheduleID).Describe(ctx)
	require.NoError(t, err)
	require.Len(t, desc.Schedule.Spec.Intervals, 1)
	assert.Equal(t, time.Hour, desc.Schedule.Spec.Intervals[0].Every)
	action, ok := desc.Schedule.Action.(*client.ScheduleWorkflowAction)
	require.True(t, ok, "the schedule starts a workflow: %T", desc.Schedule.Action)
	assert.Equal(t, contract.RetentionWorkflowName, action.Workflow)
	assert.Equal(t, queue, action.TaskQueue)
	assert.Equal(t, enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, desc.Schedule.Policy.Overlap, "one purge at a time")

	_, err = tc.ScheduleClient().GetHandle(ctx, workflows.ReconcileScheduleID).Describe(ctx)
	assert.NoError(t, err, "the reconciliation schedule is created beside it")
}
