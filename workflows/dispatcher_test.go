package workflows_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"daestro/activities"
	"daestro/internal/contract"
	"daestro/workflows"
)

// A round tells every job it placed which spawn it is on and every spawn
// whose allocations changed its new count, each once; while jobs still
// wait, the dispatcher looks again after its re-check interval without a
// signal.
func TestDispatcherSignalsEveryPlacedJobAndChangedSpawn(t *testing.T) {
	env := (&testsuite.WorkflowTestSuite{}).NewTestWorkflowEnvironment()
	var a *activities.Activities
	env.RegisterActivity(a)
	first := activities.PlanRoundResult{
		Assigned: []activities.Assignment{
			{JobID: "j1", RunID: "r1", SpawnID: "s1"}, {JobID: "j2", RunID: "r2", SpawnID: "s1"}, {JobID: "j3", RunID: "r3", SpawnID: "s2"},
		},
		SpawnAllocations: []activities.SpawnCount{{SpawnID: "s1", Count: 2}, {SpawnID: "s2", Count: 1}},
		Waiting:          1,
	}
	var rounds []time.Time
	env.OnActivity(a.PlanRound, mock.Anything, activities.PlanRoundInput{ProjectID: "p1"}).Return(
		func(context.Context, activities.PlanRoundInput) (activities.PlanRoundResult, error) {
			rounds = append(rounds, env.Now())
			if len(rounds) == 1 {
				return first, nil
			}
			// Ends the test: the workflow otherwise runs for good.
			return activities.PlanRoundResult{}, temporal.NewNonRetryableApplicationError("end of test", "EndOfTest", nil)
		})
	for _, as := range first.Assigned {
		env.OnSignalExternalWorkflow(mock.Anything, contract.JobWorkflowID(as.JobID), "", contract.SignalJobAssigned,
			contract.JobAssignedSignal{SpawnID: as.SpawnID}).Return(nil).Once()
	}
	for _, sp := range first.SpawnAllocations {
		env.OnSignalExternalWorkflow(mock.Anything, contract.SpawnWorkflowID(sp.SpawnID), "", contract.SignalAllocationsChanged,
			contract.AllocationsChangedSignal{Count: sp.Count}).Return(nil).Once()
	}
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(contract.SignalDispatcherWake, nil) }, time.Second)

	env.ExecuteWorkflow(workflows.DispatcherWorkflow, contract.DispatcherInput{ProjectID: "p1"})

	require.True(t, env.IsWorkflowCompleted())
	require.ErrorContains(t, env.GetWorkflowError(), "end of test")
	env.AssertExpectations(t)
	require.Len(t, rounds, 2, "one round for the wake, one re-check while a job waits")
	assert.GreaterOrEqual(t, rounds[1].Sub(rounds[0]), 15*time.Second, "the re-check waits its interval")
}
