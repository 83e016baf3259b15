package workflows_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"daestro/activities"
	"daestro/internal/agentapi"
	"daestro/internal/contract"
	"daestro/internal/domain"
	"daestro/workflows"
)

// jobEnv is a JobWorkflow test environment that records the states the
// workflow writes, as Postgres would see them.
type jobEnv struct {
	*testsuite.TestWorkflowEnvironment
	mu       sync.Mutex
	states   []string
	notes    map[string]string
	released int
	wokeAt   time.Time
	run      func(ctx context.Context, in agentapi.RunJobInput) (agentapi.RunJobResult, error)
}

func newJobEnv(t *testing.T, info domain.JobRunFacts) *jobEnv {
	var ts testsuite.WorkflowTestSuite
	e := &jobEnv{TestWorkflowEnvironment: ts.NewTestWorkflowEnvironment(), notes: map[string]string{}}
	var a *activities.Activities
	e.RegisterActivity(a)
	e.RegisterActivityWithOptions(func(ctx context.Context, in agentapi.RunJobInput) (agentapi.RunJobResult, error) {
		return e.run(ctx, in)
	}, activity.RegisterOptions{Name: agentapi.RunJobActivity})

	e.OnActivity(a.LoadJobRun, mock.Anything, mock.Anything).Return(info, nil)
	e.OnActivity(a.SetJobRunState, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.SetJobRunStateInput) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.states = append(e.states, in.State)
		e.notes[in.State] = in.Fields.SystemNote
		return nil
	})
	e.OnActivity(a.WakeDispatcher, mock.Anything, mock.Anything).Return(func(context.Context, activities.WakeDispatcherInput) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.wokeAt = e.Now()
		return nil
	})
	e.OnActivity(a.ReleaseRun, mock.Anything, mock.Anything).Return(func(context.Context, activities.ReleaseRunInput) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.released++
		return nil
	})
	e.run = func(context.Context, agentapi.RunJobInput) (agentapi.RunJobResult, error) {
		return agentapi.RunJobResult{ExitCode: 0}, nil
	}
	return e
}

// assignAfter sends the dispatcher's assignment after d of workflow time.
func (e *jobEnv) assignAfter(d time.Duration) {
	e.RegisterDelayedCallback(func() {
		e.SignalWorkflow(contract.SignalJobAssigned, contract.JobAssignedSignal{SpawnID: "spawn-1"})
	}, d)
}

func (e *jobEnv) execute(t *testing.T) contract.JobWorkflowResult {
	e.ExecuteWorkflow(workflows.JobWorkflow, contract.JobWorkflowInput{JobID: "job-1", RunID: "run-1", ProjectID: "p-1"})
	require.True(t, e.IsWorkflowCompleted())
	require.NoError(t, e.GetWorkflowError())
	var res contract.JobWorkflowResult
	require.NoError(t, e.GetWorkflowResult(&res))
	assert.Equal(t, 1, e.released, "the run's capacity is given back exactly once")
	return res
}

func TestJobRunsToCompletion(t *testing.T) {
	e := newJobEnv(t, domain.JobRunFacts{QueueName: "etl"})
	e.assignAfter(time.Minute)
	res := e.execute(t)
	assert.Equal(t, domain.JobCompleted, res.State)
	assert.Equal(t, []string{"runnable", "starting", "completed"}, e.states)
}

// Execution timeout 0 means indefinite: the run's activity has no bound a
// job of weeks could hit (a dead agent is caught by the heartbeat timeout).
func TestJobWithoutTimeoutMayRunForWeeks(t *testing.T) {
	for _, tt := range []struct {
		timeoutSeconds int
		atLeast        time.Duration
		atMost         time.Duration
	}{
		{0, 5 * 365 * 24 * time.Hour, 0},
		{60, time.Minute, 20 * time.Minute},
	} {
		e := newJobEnv(t, domain.JobRunFacts{QueueName: "etl", TimeoutSeconds: tt.timeoutSeconds})
		var got activity.Info
		e.run = func(ctx context.Context, _ agentapi.RunJobInput) (agentapi.RunJobResult, error) {
			got = activity.GetInfo(ctx)
			return agentapi.RunJobResult{}, nil
		}
		e.assignAfter(time.Second)
		e.execute(t)
		assert.GreaterOrEqual(t, got.StartToCloseTimeout, tt.atLeast, "timeout_seconds=%d", tt.timeoutSeconds)
		if tt.atMost > 0 {
			assert.LessOrEqual(t, got.StartToCloseTimeout, tt.atMost, "timeout_seconds=%d", tt.timeoutSeconds)
		}
		assert.Equal(t, time.Minute, got.HeartbeatTimeout, "a dead agent is still noticed in a minute")
	}
}

func TestJobWaitsForScheduleAt(t *testing.T) {
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	e := newJobEnv(t, domain.JobRunFacts{QueueName: "etl", ScheduleAt: &at})
	e.SetStartTime(at.Add(-2 * time.Hour))
	e.assignAfter(3 * time.Hour)
	res := e.execute(t)
	assert.Equal(t, domain.JobCompleted, res.State)
	assert.Equal(t, []string{"pending", "runnable", "starting", "completed"}, e.states)
	assert.False(t, e.wokeAt.Before(at), "not runnable before schedule_at (%s)", e.wokeAt)
}

func TestJobScheduledInThePastRunsNow(t *testing.T) {
	at := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	e := newJobEnv(t, domain.JobRunFacts{QueueName: "etl", ScheduleAt: &at})
	e.assignAfter(time.Second)
	e.execute(t)
	assert.Equal(t, []string{"runnable", "starting", "completed"}, e.states)
}

func TestJobCancelInEveryPhase(t *testing.T) {
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	t.Run("pending", func(t *testing.T) {
		e := newJobEnv(t, domain.JobRunFacts{QueueName: "etl", ScheduleAt: &at})
		e.SetStartTime(at.Add(-time.Hour))
		e.RegisterDelayedCallback(func() { e.SignalWorkflow(contract.SignalJobCancel, nil) }, time.Minute)
		res := e.execute(t)
		assert.Equal(t, domain.JobCancelled, res.State)
		assert.Equal(t, []string{"pending", "cancelled"}, e.states)
	})
	t.Run("queued", func(t *testing.T) {
		e := newJobEnv(t, domain.JobRunFacts{QueueName: "etl"})
		e.RegisterDelayedCallback(func() { e.SignalWorkflow(contract.SignalJobCancel, nil) }, time.Minute)
		res := e.execute(t)
		assert.Equal(t, domain.JobCancelled, res.State)
		assert.Equal(t, []string{"runnable", "cancelled"}, e.states)
	})
	t.Run("running", func(t *testing.T) {
		e := newJobEnv(t, domain.JobRunFacts{QueueName: "etl"})
		e.assignAfter(time.Second)
		e.run = func(ctx context.Context, _ agentapi.RunJobInput) (agentapi.RunJobResult, error) {
			// The user cancels while the container runs.
			e.SignalWorkflow(contract.SignalJobCancel, nil)
			for ctx.Err() == nil { // the agent heartbeats until the cancel reaches it
				activity.RecordHeartbeat(ctx, nil)
				time.Sleep(10 * time.Millisecond)
			}
			return agentapi.RunJobResult{ExitCode: 143, Cancelled: true}, nil
		}
		res := e.execute(t)
		assert.Equal(t, domain.JobCancelled, res.State)
		assert.Equal(t, []string{"runnable", "starting", "cancelling", "cancelled"}, e.states)
	})
}

func TestJobOutcomes(t *testing.T) {
	tests := []struct {
		name   string
		result agentapi.RunJobResult
		err    error
		state  string
		note   string
	}{
		{"non-zero exit", agentapi.RunJobResult{ExitCode: 3}, nil, domain.JobFailed, "exited with code 3"},
		{"oom", agentapi.RunJobResult{ExitCode: 137, OOMKilled: true}, nil, domain.JobFailed, "killed: out of memory at 256 MB"},
		{"timeout", agentapi.RunJobResult{ExitCode: 143, TimedOut: true}, nil, domain.JobTimeout, "exceeded execution timeout of 30s"},
		{"image", agentapi.RunJobResult{}, temporal.NewNonRetryableApplicationError("pull busybox:9: manifest unknown", agentapi.ErrTypeImage, errors.New("x")),
			domain.JobError, "pull busybox:9: manifest unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newJobEnv(t, domain.JobRunFacts{QueueName: "etl", TimeoutSeconds: 30, CPUQuotaPct: 50, MemoryMB: 256})
			e.assignAfter(time.Second)
			e.run = func(context.Context, agentapi.RunJobInput) (agentapi.RunJobResult, error) { return tt.result, tt.err }
			res := e.execute(t)
			assert.Equal(t, tt.state, res.State)
			assert.Equal(t, tt.note, res.SystemNote)
			assert.Equal(t, tt.note, e.notes[tt.state], "the note is recorded with the final state")
		})
	}
}
