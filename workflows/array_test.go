package workflows_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"daestro/activities"
	"daestro/internal/contract"
	"daestro/internal/domain"
	"daestro/internal/store"
	"daestro/workflows"
)

// arrayEnv runs ArrayJobWorkflow with its activities faked: children
// "finish" as the test's counts say.
type arrayEnv struct {
	*testsuite.TestWorkflowEnvironment
	started   [][2]int
	cancelled []int
	counts    func(cancel bool) map[domain.JobState]int
	notified  int
}

func newArrayEnv(t *testing.T) *arrayEnv {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	e := &arrayEnv{TestWorkflowEnvironment: ts.NewTestWorkflowEnvironment()}
	var a *activities.Activities
	e.RegisterActivity(a)
	e.OnActivity(a.StartArrayChildren, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ArrayChildrenInput) error {
		e.started = append(e.started, [2]int{in.From, in.To})
		return nil
	})
	e.OnActivity(a.CancelArrayChildren, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ArrayChildrenInput) error {
		e.cancelled = append(e.cancelled, in.To)
		return nil
	})
	e.OnActivity(a.UpdateArrayJob, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.UpdateArrayJobInput) (store.ArrayStatus, error) {
		c := e.counts(in.CancelRequested)
		return store.ArrayStatus{Size: 1200, Counts: c, State: domain.ArrayState(c, 1200, in.CancelRequested)}, nil
	})
	e.OnActivity(a.NotifyDependents, mock.Anything, mock.Anything).Return(func(context.Context, activities.JobDependenciesInput) error {
		e.notified++
		return nil
	})
	return e
}

// 1,200 children start in batches of 500; the array follows its children
// to completed and wakes its own dependents.
func TestArrayJobStartsChildrenInBatchesAndCompletes(t *testing.T) {
	e := newArrayEnv(t)
	t0 := e.Now()
	e.counts = func(bool) map[domain.JobState]int {
		switch {
		case e.Now().Before(t0.Add(time.Minute)):
			return map[domain.JobState]int{domain.JobRunnable: 1000, domain.JobRunning: 200}
		case e.Now().Before(t0.Add(5 * time.Minute)):
			return map[domain.JobState]int{domain.JobCompleted: 700, domain.JobRunning: 500}
		}
		return map[domain.JobState]int{domain.JobCompleted: 1200}
	}
	e.ExecuteWorkflow(workflows.ArrayJobWorkflow, contract.ArrayJobWorkflowInput{JobID: "a", ProjectID: "p", QueueName: "etl", Size: 1200})
	require.True(t, e.IsWorkflowCompleted())
	var res contract.JobWorkflowResult
	require.NoError(t, e.GetWorkflowResult(&res))
	assert.Equal(t, domain.JobCompleted, res.State)
	assert.Equal(t, [][2]int{{0, 500}, {500, 1000}, {1000, 1200}}, e.started)
	assert.Empty(t, e.cancelled)
	assert.Equal(t, 1, e.notified)
}

// A failed child fails the array once every child ended.
func TestArrayJobWithAFailedChildFails(t *testing.T) {
	e := newArrayEnv(t)
	e.counts = func(bool) map[domain.JobState]int {
		return map[domain.JobState]int{domain.JobCompleted: 1199, domain.JobFailed: 1}
	}
	e.ExecuteWorkflow(workflows.ArrayJobWorkflow, contract.ArrayJobWorkflowInput{JobID: "a", ProjectID: "p", QueueName: "etl", Size: 1200})
	var res contract.JobWorkflowResult
	require.NoError(t, e.GetWorkflowResult(&res))
	assert.Equal(t, domain.JobFailed, res.State)
}

// Cancel cancels every child the array started; the array ends cancelled
// when they have ended.
func TestArrayJobCancelCancelsItsChildren(t *testing.T) {
	e := newArrayEnv(t)
	t0 := e.Now()
	e.counts = func(cancel bool) map[domain.JobState]int {
		if cancel && e.Now().After(t0.Add(2*time.Minute)) {
			return map[domain.JobState]int{domain.JobCompleted: 200, domain.JobCancelled: 1000}
		}
		return map[domain.JobState]int{domain.JobCompleted: 200, domain.JobRunning: 1000}
	}
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(contract.SignalJobCancel, nil) }, time.Minute)
	e.ExecuteWorkflow(workflows.ArrayJobWorkflow, contract.ArrayJobWorkflowInput{JobID: "a", ProjectID: "p", QueueName: "etl", Size: 1200})
	var res contract.JobWorkflowResult
	require.NoError(t, e.GetWorkflowResult(&res))
	assert.Equal(t, domain.JobCancelled, res.State)
	assert.Equal(t, []int{1200}, e.cancelled, "every started child was cancelled once")
}

// The parent's state from its children's counts.
func TestArrayState(t *testing.T) {
	assert.Equal(t, domain.JobPending, domain.ArrayState(map[domain.JobState]int{domain.JobRunnable: 3}, 3, false))
	assert.Equal(t, domain.JobRunning, domain.ArrayState(map[domain.JobState]int{domain.JobRunnable: 2, domain.JobRunning: 1}, 3, false))
	assert.Equal(t, domain.JobRunning, domain.ArrayState(map[domain.JobState]int{domain.JobRunnable: 2, domain.JobCompleted: 1}, 3, false))
	assert.Equal(t, domain.JobCompleted, domain.ArrayState(map[domain.JobState]int{domain.JobCompleted: 3}, 3, false))
	assert.Equal(t, domain.JobFailed, domain.ArrayState(map[domain.JobState]int{domain.JobCompleted: 2, domain.JobTimeout: 1}, 3, false))
	assert.Equal(t, domain.JobCancelling, domain.ArrayState(map[domain.JobState]int{domain.JobRunning: 3}, 3, true))
	assert.Equal(t, domain.JobCancelled, domain.ArrayState(map[domain.JobState]int{domain.JobCancelled: 2, domain.JobCompleted: 1}, 3, true))
}
