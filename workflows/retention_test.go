package workflows_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"daestro/activities"
	"daestro/internal/contract"
	"daestro/internal/store"
	"daestro/workflows"
)

// retentionEnv runs RetentionWorkflow over a fake backlog of rows due for
// a purge: each batch takes at most its limit of them.
type retentionEnv struct {
	*testsuite.TestWorkflowEnvironment
	// due is how many rows are left; calls records each batch's input.
	due   int
	calls []activities.PurgeRunOutputInput
}

func newRetentionEnv(t *testing.T, due int) *retentionEnv {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	e := &retentionEnv{TestWorkflowEnvironment: ts.NewTestWorkflowEnvironment(), due: due}
	e.RegisterWorkflowWithOptions(workflows.RetentionWorkflow, workflow.RegisterOptions{Name: contract.RetentionWorkflowName})
	var a *activities.Activities
	e.RegisterActivity(a)
	e.OnActivity(a.PurgeRunOutput, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.PurgeRunOutputInput) (store.PurgeBatch, error) {
		e.calls = append(e.calls, in)
		n := min(in.Limit, e.due)
		e.due -= n
		b := store.PurgeBatch{LogLines: n, More: e.due > 0}
		if !b.More {
			b.Runs = 1
		}
		return b, nil
	})
	return e
}

// 12,001 rows due are purged in three batches of at most 5,000, each
// measured from the same moment (the workflow's start), and the totals add up.
func TestRetentionPurgesInBatchesUntilNothingIsDue(t *testing.T) {
	e := newRetentionEnv(t, 12001)
	start := e.Now()
	e.ExecuteWorkflow(contract.RetentionWorkflowName, contract.RetentionWorkflowInput{})
	require.True(t, e.IsWorkflowCompleted())
	require.NoError(t, e.GetWorkflowError())
	var res contract.RetentionWorkflowResult
	require.NoError(t, e.GetWorkflowResult(&res))
	assert.Equal(t, contract.RetentionWorkflowResult{Runs: 1, LogLines: 12001, Batches: 3}, res)
	require.Len(t, e.calls, 3)
	for _, c := range e.calls {
		assert.Equal(t, store.DefaultPurgeBatchRows, c.Limit, "the default batch is 5,000 rows")
		assert.True(t, c.Now.Equal(start), "every batch measures retention from the workflow's start: %v vs %v", c.Now, start)
	}
	assert.Zero(t, e.due)
}

// Nothing due: one batch that finds nothing, and the workflow ends.
func TestRetentionWithNothingDueIsOneEmptyBatch(t *testing.T) {
	e := newRetentionEnv(t, 0)
	e.ExecuteWorkflow(contract.RetentionWorkflowName, contract.RetentionWorkflowInput{BatchRows: 10})
	require.NoError(t, e.GetWorkflowError())
	var res contract.RetentionWorkflowResult
	require.NoError(t, e.GetWorkflowResult(&res))
	assert.Equal(t, 1, res.Batches)
	assert.Zero(t, res.LogLines)
}

// A backlog larger than one run's batches continues as new with the same
// moment and the totals so far, so its history stays small.
func TestRetentionContinuesAsNewWithTheSameMoment(t *testing.T) {
	e := newRetentionEnv(t, 1_000_000)
	now := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	e.ExecuteWorkflow(contract.RetentionWorkflowName, contract.RetentionWorkflowInput{Now: now, BatchRows: 1000})
	require.True(t, e.IsWorkflowCompleted())
	err := e.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, err, &can, "a long purge continues as new")
	assert.Equal(t, contract.RetentionWorkflowName, can.WorkflowType.Name)
	var next contract.RetentionWorkflowInput
	require.NoError(t, converterDecode(can, &next))
	assert.True(t, next.Now.Equal(now), "the continued run purges up to the same moment")
	assert.Equal(t, 1000, next.BatchRows)
	assert.Equal(t, 200, next.Done.Batches)
	assert.Equal(t, 200_000, next.Done.LogLines)
	assert.Len(t, e.calls, 200)
}
