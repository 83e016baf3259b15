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
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"daestro/activities"
	"daestro/internal/agentapi"
	"daestro/internal/contract"
	"daestro/internal/domain"
	"daestro/internal/store"
	"daestro/workflows"
)

// jobEnv is a JobWorkflow test environment that records the states the
// workflow writes, as Postgres would see them.
type jobEnv struct {
	*testsuite.TestWorkflowEnvironment
	mu       sync.Mutex
	states   []domain.JobState
	notes    map[domain.JobState]string
	released int
	fields   map[domain.JobState]store.RunFields
	wokeAt   time.Time
	load     func(ctx context.Context, in activities.LoadJobRunInput) (domain.JobRunFacts, error)
	start    func(ctx context.Context, in agentapi.RunJobInput) (agentapi.StartJobResult, error)
	run      func(ctx context.Context, in agentapi.WaitJobInput) (agentapi.RunJobResult, error)
	deps     func(ctx context.Context, in activities.JobDependenciesInput) (domain.DependencyVerdict, error)
	// notified counts NotifyDependents calls.
	notified int
}

func newJobEnv(t *testing.T, info domain.JobRunFacts) *jobEnv {
	var ts testsuite.WorkflowTestSuite
	e := &jobEnv{TestWorkflowEnvironment: ts.NewTestWorkflowEnvironment(), notes: map[domain.JobState]string{}, fields: map[domain.JobState]store.RunFields{}}
	var a *activities.Activities
	e.RegisterActivity(a)
	e.RegisterActivityWithOptions(func(ctx context.Context, in agentapi.RunJobInput) (agentapi.StartJobResult, error) {
		return e.start(ctx, in)
	}, activity.RegisterOptions{Name: agentapi.StartJobActivity})
	e.RegisterActivityWithOptions(func(ctx context.Context, in agentapi.WaitJobInput) (agentapi.RunJobResult, error) {
		return e.run(ctx, in)
	}, activity.RegisterOptions{Name: agentapi.WaitJobActivity})

	e.load = func(context.Context, activities.LoadJobRunInput) (domain.JobRunFacts, error) { return info, nil }
	e.OnActivity(a.LoadJobRun, mock.Anything, mock.Anything).Return(func(ctx context.Context, in activities.LoadJobRunInput) (domain.JobRunFacts, error) {
		return e.load(ctx, in)
	})
	e.OnActivity(a.SetJobRunState, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.SetJobRunStateInput) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.states = append(e.states, in.State)
		e.fields[in.State] = in.Fields
		if in.Fields.SystemNote != nil {
			e.notes[in.State] = *in.Fields.SystemNote
		}
		return nil
	})
	e.OnActivity(a.WakeDispatcher, mock.Anything, mock.Anything).Return(func(context.Context, activities.WakeDispatcherInput) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.wokeAt = e.Now()
		return nil
	})
	e.OnActivity(a.NotifyDependents, mock.Anything, mock.Anything).Return(func(context.Context, activities.JobDependenciesInput) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.notified++
		return nil
	})
	e.deps = func(context.Context, activities.JobDependenciesInput) (domain.DependencyVerdict, error) {
		return domain.DependencyVerdict{}, nil
	}
	e.OnActivity(a.CheckDependencies, mock.Anything, mock.Anything).Return(func(ctx context.Context, in activities.JobDependenciesInput) (domain.DependencyVerdict, error) {
		return e.deps(ctx, in)
	})
	e.OnActivity(a.ReleaseRun, mock.Anything, mock.Anything).Return(func(context.Context, activities.ReleaseRunInput) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.released++
		return nil
	})
	e.start = func(context.Context, agentapi.RunJobInput) (agentapi.StartJobResult, error) {
		return agentapi.StartJobResult{ContainerID: "c-1", StartedAt: e.Now()}, nil
	}
	e.run = func(context.Context, agentapi.WaitJobInput) (agentapi.RunJobResult, error) {
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
	assert.Equal(t, []domain.JobState{"runnable", "starting", "running", "completed"}, e.states)
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
		e.run = func(ctx context.Context, _ agentapi.WaitJobInput) (agentapi.RunJobResult, error) {
			got = activity.GetInfo(ctx)
			return agentapi.RunJobResult{}, nil
		}
		e.assignAfter(time.Second)
		e.execute(t)
		assert.GreaterOrEqual(t, got.StartToCloseTimeout, tt.atLeast, "timeout_seconds=%d", tt.timeoutSeconds)
		if tt.atMost > 0 {
			assert.LessOrEqual(t, got.StartToCloseTimeout, tt.atMost, "timeout_seconds=%d", tt.timeoutSeconds)
		}
		assert.Equal(t, 6*time.Second, got.HeartbeatTimeout, "a dead agent is noticed within seconds")
	}
}

func TestJobWaitsForScheduleAt(t *testing.T) {
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	e := newJobEnv(t, domain.JobRunFacts{QueueName: "etl", ScheduleAt: &at})
	e.SetStartTime(at.Add(-2 * time.Hour))
	e.assignAfter(3 * time.Hour)
	res := e.execute(t)
	assert.Equal(t, domain.JobCompleted, res.State)
	assert.Equal(t, []domain.JobState{"pending", "runnable", "starting", "running", "completed"}, e.states)
	assert.False(t, e.wokeAt.Before(at), "not runnable before schedule_at (%s)", e.wokeAt)
}

func TestJobScheduledInThePastRunsNow(t *testing.T) {
	at := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	e := newJobEnv(t, domain.JobRunFacts{QueueName: "etl", ScheduleAt: &at})
	e.assignAfter(time.Second)
	e.execute(t)
	assert.Equal(t, []domain.JobState{"runnable", "starting", "running", "completed"}, e.states)
}

func TestJobCancelInEveryPhase(t *testing.T) {
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	t.Run("pending", func(t *testing.T) {
		e := newJobEnv(t, domain.JobRunFacts{QueueName: "etl", ScheduleAt: &at})
		e.SetStartTime(at.Add(-time.Hour))
		e.RegisterDelayedCallback(func() { e.SignalWorkflow(contract.SignalJobCancel, nil) }, time.Minute)
		res := e.execute(t)
		assert.Equal(t, domain.JobCancelled, res.State)
		assert.Equal(t, []domain.JobState{"pending", "cancelled"}, e.states)
	})
	t.Run("queued", func(t *testing.T) {
		e := newJobEnv(t, domain.JobRunFacts{QueueName: "etl"})
		e.RegisterDelayedCallback(func() { e.SignalWorkflow(contract.SignalJobCancel, nil) }, time.Minute)
		res := e.execute(t)
		assert.Equal(t, domain.JobCancelled, res.State)
		assert.Equal(t, []domain.JobState{"runnable", "cancelled"}, e.states)
	})
	t.Run("starting", func(t *testing.T) {
		// The cancel arrives while the agent pulls the image: the start
		// is abandoned and no container runs.
		e := newJobEnv(t, domain.JobRunFacts{QueueName: "etl"})
		e.assignAfter(time.Second)
		var waited agentapi.WaitJobInput
		e.start = func(ctx context.Context, _ agentapi.RunJobInput) (agentapi.StartJobResult, error) {
			e.SignalWorkflow(contract.SignalJobCancel, nil)
			for ctx.Err() == nil {
				activity.RecordHeartbeat(ctx)
				time.Sleep(10 * time.Millisecond)
			}
			return agentapi.StartJobResult{}, ctx.Err()
		}
		e.run = func(_ context.Context, in agentapi.WaitJobInput) (agentapi.RunJobResult, error) {
			waited = in
			return agentapi.RunJobResult{ExitCode: -1, Cancelled: true}, nil // no container: nothing to stop
		}
		res := e.execute(t)
		assert.Equal(t, domain.JobCancelled, res.State)
		assert.Equal(t, "cancelled before the container started", res.SystemNote)
		assert.Equal(t, []domain.JobState{"runnable", "starting", "cancelling", "cancelled"}, e.states)
		assert.Equal(t, agentapi.WaitJobInput{RunID: "run-1", JobID: "job-1", Stop: true}, waited,
			"the agent is told to stop whatever the abandoned start may have started")
	})
	t.Run("cancel races the start", func(t *testing.T) {
		// The container started just as the cancel arrived: the wait is
		// told to stop it, and the job ends cancelled, never running.
		// (Whether the start's answer reaches the workflow after the cancel
		// is Temporal's call: the wait stops the run's container either way.)
		e := newJobEnv(t, domain.JobRunFacts{QueueName: "etl"})
		e.assignAfter(time.Second)
		e.start = func(ctx context.Context, _ agentapi.RunJobInput) (agentapi.StartJobResult, error) {
			e.SignalWorkflow(contract.SignalJobCancel, nil)
			for ctx.Err() == nil {
				activity.RecordHeartbeat(ctx)
				time.Sleep(10 * time.Millisecond)
			}
			return agentapi.StartJobResult{ContainerID: "c-1"}, nil
		}
		var got agentapi.WaitJobInput
		e.run = func(_ context.Context, in agentapi.WaitJobInput) (agentapi.RunJobResult, error) {
			got = in
			return agentapi.RunJobResult{ContainerID: "c-1", ExitCode: 143, Cancelled: true}, nil
		}
		res := e.execute(t)
		assert.Equal(t, domain.JobCancelled, res.State)
		assert.True(t, got.Stop, "the wait stops the container the start started: %+v", got)
		assert.Equal(t, "run-1", got.RunID)
		assert.Equal(t, "cancelled while running", res.SystemNote)
		assert.Equal(t, []domain.JobState{"runnable", "starting", "cancelling", "cancelled"}, e.states)
	})
	t.Run("running", func(t *testing.T) {
		e := newJobEnv(t, domain.JobRunFacts{QueueName: "etl"})
		e.assignAfter(time.Second)
		e.run = func(ctx context.Context, _ agentapi.WaitJobInput) (agentapi.RunJobResult, error) {
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
		assert.Equal(t, []domain.JobState{"runnable", "starting", "running", "cancelling", "cancelled"}, e.states)
	})
}

// The workflow records `running` itself once the agent started the
// container, with the engine's start time, and the run's end with the
// engine's exit time (not when the workflow heard of it).
func TestJobRecordsRunningAndTheContainersTimes(t *testing.T) {
	e := newJobEnv(t, domain.JobRunFacts{QueueName: "etl"})
	e.assignAfter(time.Second)
	startedAt := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	finishedAt := startedAt.Add(90 * time.Second)
	e.start = func(context.Context, agentapi.RunJobInput) (agentapi.StartJobResult, error) {
		return agentapi.StartJobResult{ContainerID: "c-9", ImageDigest: "sha256:abc", StartedAt: startedAt}, nil
	}
	var stateWhileRunning domain.JobState
	var waitIn agentapi.WaitJobInput
	e.run = func(_ context.Context, in agentapi.WaitJobInput) (agentapi.RunJobResult, error) {
		waitIn = in
		e.mu.Lock()
		stateWhileRunning = e.states[len(e.states)-1]
		e.mu.Unlock()
		return agentapi.RunJobResult{ContainerID: "c-9", StartedAt: startedAt, FinishedAt: finishedAt}, nil
	}
	e.execute(t)
	assert.Equal(t, domain.JobRunning, stateWhileRunning, "the job is running while its container runs")
	assert.Equal(t, "c-9", waitIn.ContainerID, "the wait follows the container the start started")
	running := e.fields[domain.JobRunning]
	require.NotNil(t, running.ContainerID)
	assert.Equal(t, "c-9", *running.ContainerID)
	require.NotNil(t, running.StartedAt)
	assert.Equal(t, startedAt, *running.StartedAt)
	done := e.fields[domain.JobCompleted]
	require.NotNil(t, done.FinishedAt, "the run's end is the container's exit")
	assert.Equal(t, finishedAt, *done.FinishedAt)
}

func TestJobOutcomes(t *testing.T) {
	tests := []struct {
		name   string
		result agentapi.RunJobResult
		err    error
		state  domain.JobState
		note   string
	}{
		{"non-zero exit", agentapi.RunJobResult{ExitCode: 3}, nil, domain.JobFailed, "exited with code 3"},
		{"oom", agentapi.RunJobResult{ExitCode: 137, OOMKilled: true}, nil, domain.JobFailed, "killed: out of memory at 256 MB"},
		{"oom at the spawn's memory", agentapi.RunJobResult{ExitCode: 137, OOMKilled: true,
			SystemNote: "killed: out of memory at 1024 MB (all of the compute spawn's memory: the job has no memory quota)"}, nil,
			domain.JobFailed, "killed: out of memory at 1024 MB (all of the compute spawn's memory: the job has no memory quota)"},
		{"timeout", agentapi.RunJobResult{ExitCode: 143, TimedOut: true}, nil, domain.JobTimeout, "exceeded execution timeout of 30s"},
		{"image", agentapi.RunJobResult{}, temporal.NewNonRetryableApplicationError("pull busybox:9: manifest unknown", agentapi.ErrTypeImage, errors.New("x")),
			domain.JobError, "pull busybox:9: manifest unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newJobEnv(t, domain.JobRunFacts{QueueName: "etl", TimeoutSeconds: 30, CPUQuotaPct: 50, MemoryMB: 256})
			e.assignAfter(time.Second)
			e.run = func(context.Context, agentapi.WaitJobInput) (agentapi.RunJobResult, error) { return tt.result, tt.err }
			res := e.execute(t)
			assert.Equal(t, tt.state, res.State)
			assert.Equal(t, tt.note, res.SystemNote)
			assert.Equal(t, tt.note, e.notes[tt.state], "the note is recorded with the final state")
		})
	}
}

// A submission that crashed between starting the workflow and committing
// its rows leaves a workflow without a job: it waits a bounded time for the
// rows, then ends cleanly, writing nothing; rows that arrive late are run.
func TestJobWhoseRowsNeverAppearEnds(t *testing.T) {
	notFound := temporal.NewNonRetryableApplicationError("no job run run-1", contract.ErrTypeJobRunNotFound, errors.New("no rows"))
	t.Run("never", func(t *testing.T) {
		var ts testsuite.WorkflowTestSuite
		env := ts.NewTestWorkflowEnvironment()
		var a *activities.Activities
		env.RegisterActivity(a)
		env.OnActivity(a.LoadJobRun, mock.Anything, mock.Anything).Return(domain.JobRunFacts{}, notFound)
		start := env.Now()
		env.ExecuteWorkflow(workflows.JobWorkflow, contract.JobWorkflowInput{JobID: "job-1", RunID: "run-1", ProjectID: "p-1"})
		require.True(t, env.IsWorkflowCompleted())
		require.NoError(t, env.GetWorkflowError(), "a job that was never saved ends cleanly, it does not retry forever")
		var res contract.JobWorkflowResult
		require.NoError(t, env.GetWorkflowResult(&res))
		assert.Empty(t, res.State)
		assert.Equal(t, "job run run-1 was never saved: nothing ran", res.SystemNote)
		waited := env.Now().Sub(start)
		assert.GreaterOrEqual(t, waited, 5*time.Minute, "it gives the submission's transaction time to commit")
		assert.Less(t, waited, 6*time.Minute)
		env.AssertNotCalled(t, "SetJobRunState", mock.Anything, mock.Anything)
	})
	t.Run("late", func(t *testing.T) {
		e := newJobEnv(t, domain.JobRunFacts{})
		calls := 0
		e.load = func(context.Context, activities.LoadJobRunInput) (domain.JobRunFacts, error) {
			calls++
			if calls < 3 {
				return domain.JobRunFacts{}, notFound
			}
			return domain.JobRunFacts{QueueName: "etl"}, nil
		}
		e.assignAfter(time.Minute)
		res := e.execute(t)
		assert.Equal(t, domain.JobCompleted, res.State)
		assert.Equal(t, 3, calls)
	})
}

// An operator's cancellation of the workflow itself (Temporal's Web UI,
// `temporal workflow cancel`) ends the job cancelled in every phase, with its
// capacity released and the container stopped, like the API's cancel.
func TestJobCancelledFromTemporalInEveryPhase(t *testing.T) {
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	t.Run("pending", func(t *testing.T) {
		e := newJobEnv(t, domain.JobRunFacts{QueueName: "etl", ScheduleAt: &at})
		e.SetStartTime(at.Add(-time.Hour))
		e.RegisterDelayedCallback(e.CancelWorkflow, time.Minute)
		res := e.execute(t)
		assert.Equal(t, domain.JobCancelled, res.State)
		assert.Equal(t, []domain.JobState{"pending", "cancelled"}, e.states, "the timer's cancellation is not mistaken for it firing")
	})
	t.Run("queued", func(t *testing.T) {
		e := newJobEnv(t, domain.JobRunFacts{QueueName: "etl"})
		e.RegisterDelayedCallback(e.CancelWorkflow, time.Minute)
		res := e.execute(t)
		assert.Equal(t, domain.JobCancelled, res.State)
		assert.Equal(t, []domain.JobState{"runnable", "cancelled"}, e.states)
	})
	t.Run("running", func(t *testing.T) {
		e := newJobEnv(t, domain.JobRunFacts{QueueName: "etl"})
		e.assignAfter(time.Second)
		// (That the cancellation reaches the container is the e2e test's:
		// the test environment answers a cancelled activity at once.)
		e.run = func(ctx context.Context, _ agentapi.WaitJobInput) (agentapi.RunJobResult, error) {
			e.CancelWorkflow()
			for ctx.Err() == nil { // the agent heartbeats until the cancel reaches it
				activity.RecordHeartbeat(ctx, nil)
				time.Sleep(10 * time.Millisecond)
			}
			return agentapi.RunJobResult{ExitCode: 143, Cancelled: true}, nil
		}
		res := e.execute(t)
		assert.Equal(t, domain.JobCancelled, res.State)
		assert.Equal(t, []domain.JobState{"runnable", "starting", "running", "cancelling", "cancelled"}, e.states)
	})
}

// An agent lost for good while its container ran, on a machine whose engine
// only the agent reaches: the note says so, and that the container's outcome
// is unknown and why, rather than blaming the job.
func TestJobWhoseAgentIsLostSaysSo(t *testing.T) {
	e := newJobEnv(t, domain.JobRunFacts{QueueName: "etl"})
	e.assignAfter(time.Second)
	e.run = func(context.Context, agentapi.WaitJobInput) (agentapi.RunJobResult, error) {
		return agentapi.RunJobResult{}, temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START, nil)
	}
	var asked activities.RecoverLostRunInput
	var a *activities.Activities
	e.OnActivity(a.RecoverLostRun, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RecoverLostRunInput) (activities.RecoverLostRunResult, error) {
		asked = in
		return activities.RecoverLostRunResult{Why: "a self-hosted machine's Docker engine is reachable only through its agent"}, nil
	})
	res := e.execute(t)
	assert.Equal(t, domain.JobError, res.State)
	assert.Contains(t, res.SystemNote, "the compute spawn's agent was lost while the job ran")
	assert.Contains(t, res.SystemNote, "the container's outcome is unknown")
	assert.Contains(t, res.SystemNote, "(a self-hosted machine's Docker engine is reachable only through its agent)")
	assert.Equal(t, activities.RecoverLostRunInput{ProjectID: "p-1", SpawnID: "spawn-1", RunID: "run-1", JobID: "job-1", ContainerID: "c-1"}, asked,
		"the control plane is asked about the run's own container on its own spawn")
}

// An agent lost for good on a machine whose engine the control plane reaches
// (localdocker): the outcome is the container's real exit, with its engine
// times, and the note says how it was learnt (#17 item 20).
func TestJobWhoseAgentIsLostEndsWithTheContainersRealExit(t *testing.T) {
	finished := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name  string
		exit  int
		state domain.JobState
		note  string
	}{
		{"exit 0", 0, domain.JobCompleted, "exited with code 0"},
		{"exit 2", 2, domain.JobFailed, "exited with code 2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newJobEnv(t, domain.JobRunFacts{QueueName: "etl", TimeoutSeconds: 60})
			e.assignAfter(time.Second)
			e.run = func(context.Context, agentapi.WaitJobInput) (agentapi.RunJobResult, error) {
				return agentapi.RunJobResult{}, temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_HEARTBEAT, nil)
			}
			var a *activities.Activities
			e.OnActivity(a.RecoverLostRun, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RecoverLostRunInput) (activities.RecoverLostRunResult, error) {
				assert.Equal(t, 60, in.TimeoutSeconds, "the job's timeout still holds while the container runs")
				return activities.RecoverLostRunResult{Known: true, Result: agentapi.RunJobResult{ContainerID: "c-1", ExitCode: tt.exit, FinishedAt: finished}}, nil
			})
			res := e.execute(t)
			assert.Equal(t, tt.state, res.State)
			assert.Equal(t, tt.note+" (the compute spawn's agent was lost: daestro followed the container on its engine to its end)", res.SystemNote)
			require.NotNil(t, e.fields[tt.state].FinishedAt)
			assert.Equal(t, finished, *e.fields[tt.state].FinishedAt, "the runtime is the container's")
			require.NotNil(t, e.fields[tt.state].ExitCode)
			assert.Equal(t, tt.exit, *e.fields[tt.state].ExitCode)
			assert.Equal(t, 1, e.released, "the allocation is released")
		})
	}
}
