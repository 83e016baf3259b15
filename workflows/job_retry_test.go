package workflows_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"daestro/activities"
	"daestro/internal/agentapi"
	"daestro/internal/contract"
	"daestro/internal/domain"
	"daestro/workflows"
)

// retryEnv is a jobEnv that records RetryJobRun's input.
type retryEnv struct {
	*jobEnv
	retried *activities.RetryJobRunInput
}

func newRetryEnv(t *testing.T, info domain.JobRunFacts) *retryEnv {
	e := &retryEnv{jobEnv: newJobEnv(t, info)}
	var a *activities.Activities
	e.OnActivity(a.RetryJobRun, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RetryJobRunInput) (string, error) {
		e.retried = &in
		return "run-2", nil
	})
	return e
}

// continuedAs runs the workflow and returns the input of the run it
// continued as, or nil when it ended.
func (e *retryEnv) continuedAs(t *testing.T, in contract.JobWorkflowInput) *contract.JobWorkflowInput {
	t.Helper()
	e.ExecuteWorkflow(workflows.JobWorkflow, in)
	require.True(t, e.IsWorkflowCompleted())
	err := e.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	if !errors.As(err, &can) {
		require.NoError(t, err)
		return nil
	}
	var next contract.JobWorkflowInput
	require.NoError(t, converterDecode(can, &next))
	return &next
}

func converterDecode(can *workflow.ContinueAsNewError, out any) error {
	return converter.GetDefaultDataConverter().FromPayloads(can.Input, out)
}

func exitRules(attempts int, rules ...domain.ExitRule) domain.RetryStrategy {
	return domain.RetryStrategy{Attempts: attempts, EvaluateOnExit: rules}
}

// An exit code the strategy retries ends the run (failed, with its code and
// the reason) and continues as the next attempt after the backoff; the
// allocation is released at once. A code it exits on, or the last attempt,
// ends the job.
func TestJobRetriesAsTheStrategySays(t *testing.T) {
	strategy := exitRules(3, domain.ExitRule{OnExitCode: "3", Action: "retry"}, domain.ExitRule{OnExitCode: "4", Action: "exit"})
	for _, tt := range []struct {
		name    string
		exit    int
		attempt int
		retried bool
	}{
		{"3 retries", 3, 1, true},
		{"3 retries on attempt 2", 3, 2, true},
		{"3 on the last attempt ends", 3, 3, false},
		{"4 exits", 4, 1, false},
		{"unmatched codes retry while attempts remain", 5, 1, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newRetryEnv(t, domain.JobRunFacts{QueueName: "etl", Attempt: tt.attempt, RetryStrategy: strategy})
			e.assignAfter(time.Second)
			e.run = func(context.Context, agentapi.WaitJobInput) (agentapi.RunJobResult, error) {
				return agentapi.RunJobResult{ExitCode: tt.exit}, nil
			}
			start := e.Now()
			next := e.continuedAs(t, contract.JobWorkflowInput{JobID: "job-1", RunID: "run-1", ProjectID: "p-1"})
			assert.Equal(t, 1, e.released, "the allocation is released once")
			if !tt.retried {
				assert.Nil(t, next)
				assert.Nil(t, e.retried)
				assert.Equal(t, domain.JobFailed, e.states[len(e.states)-1])
				return
			}
			require.NotNil(t, next)
			require.NotNil(t, e.retried)
			assert.Equal(t, "run-2", next.RunID)
			assert.Equal(t, "job-1", next.JobID)
			backoff := domain.RetryBackoff(tt.attempt + 1)
			assert.WithinDuration(t, start.Add(time.Second).Add(backoff), next.RetryAt, 2*time.Second, "the next attempt waits the backoff")
			assert.Equal(t, next.RetryAt, e.retried.RetryAt)
			assert.Equal(t, domain.JobFailed, e.retried.State)
			assert.Equal(t, 3, e.retried.Attempts)
			require.NotNil(t, e.retried.Fields.ExitCode)
			assert.Equal(t, tt.exit, *e.retried.Fields.ExitCode)
			assert.Contains(t, *e.retried.Fields.SystemNote, "exited with code")
			assert.Contains(t, *e.retried.Fields.SystemNote, "retrying as attempt")
			assert.NotContains(t, e.states, domain.JobFailed, "the job is never recorded final while a retry is due")
		})
	}
}

// A run whose agent is lost for good is interrupted: reason interrupted,
// and the default strategy tries it once more, on whatever spawn the queue
// gives it next.
func TestInterruptedRunRetriesOnceByDefault(t *testing.T) {
	for _, attempt := range []int{1, 2} {
		e := newRetryEnv(t, domain.JobRunFacts{QueueName: "etl", Attempt: attempt, RetryStrategy: domain.Effective(nil, nil)})
		e.assignAfter(time.Second)
		e.run = func(context.Context, agentapi.WaitJobInput) (agentapi.RunJobResult, error) {
			return agentapi.RunJobResult{}, temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_HEARTBEAT, nil)
		}
		var a *activities.Activities
		e.OnActivity(a.RecoverLostRun, mock.Anything, mock.Anything).Return(activities.RecoverLostRunResult{Why: "x"}, nil)
		next := e.continuedAs(t, contract.JobWorkflowInput{JobID: "job-1", RunID: "run-1", ProjectID: "p-1"})
		if attempt == 2 {
			assert.Nil(t, next, "the default gives one retry")
			assert.Equal(t, "interrupted", *e.fields[domain.JobError].Reason)
			assert.Contains(t, e.notes[domain.JobError], "interrupted: ")
			continue
		}
		require.NotNil(t, next)
		assert.Equal(t, domain.ReasonInterrupted, *e.retried.Fields.Reason)
		assert.Equal(t, domain.JobError, e.retried.State)
		assert.Contains(t, *e.retried.Fields.SystemNote, "interrupted: the compute spawn's agent was lost")
	}
}

// Reasons other than interrupted do not retry by default: a job that failed
// or timed out is the job's own doing.
func TestDefaultStrategyDoesNotRetryFailures(t *testing.T) {
	for _, res := range []agentapi.RunJobResult{{ExitCode: 1}, {ExitCode: 137, OOMKilled: true}, {ExitCode: 143, TimedOut: true}} {
		e := newRetryEnv(t, domain.JobRunFacts{QueueName: "etl", Attempt: 1, RetryStrategy: domain.Effective(nil, nil)})
		e.assignAfter(time.Second)
		e.run = func(context.Context, agentapi.WaitJobInput) (agentapi.RunJobResult, error) { return res, nil }
		assert.Nil(t, e.continuedAs(t, contract.JobWorkflowInput{JobID: "job-1", RunID: "run-1", ProjectID: "p-1"}), "%+v", res)
		assert.Nil(t, e.retried)
	}
}

// The next attempt waits pending for its backoff (cancellable), then
// queues as runnable.
func TestRetryWaitsItsBackoff(t *testing.T) {
	t.Run("then runs", func(t *testing.T) {
		e := newRetryEnv(t, domain.JobRunFacts{QueueName: "etl", Attempt: 2, RetryStrategy: exitRules(2)})
		retryAt := e.Now().Add(40 * time.Second)
		e.assignAfter(time.Minute)
		next := e.continuedAs(t, contract.JobWorkflowInput{JobID: "job-1", RunID: "run-2", ProjectID: "p-1", RetryAt: retryAt})
		assert.Nil(t, next)
		assert.Equal(t, []domain.JobState{"runnable", "starting", "running", "completed"}, e.states, "pending was written by the attempt before")
		assert.False(t, e.wokeAt.Before(retryAt), "queued only after the backoff: woke at %s, retry at %s", e.wokeAt, retryAt)
	})
	t.Run("cancelled", func(t *testing.T) {
		e := newRetryEnv(t, domain.JobRunFacts{QueueName: "etl", Attempt: 2, RetryStrategy: exitRules(2)})
		e.RegisterDelayedCallback(func() { e.SignalWorkflow(contract.SignalJobCancel, nil) }, 10*time.Second)
		next := e.continuedAs(t, contract.JobWorkflowInput{JobID: "job-1", RunID: "run-2", ProjectID: "p-1", RetryAt: e.Now().Add(time.Minute)})
		assert.Nil(t, next)
		assert.Equal(t, []domain.JobState{"cancelled"}, e.states)
		assert.Equal(t, "cancelled while waiting to retry", e.notes[domain.JobCancelled])
	})
}

// A spawn that became unreachable interrupts its runs at once (the signal
// the spawn's workflow sends): the agent activity is given up, the run ends
// interrupted and the default strategy tries it again. A signal about
// another run or spawn changes nothing.
func TestInterruptSignalEndsTheRunAtOnce(t *testing.T) {
	e := newRetryEnv(t, domain.JobRunFacts{QueueName: "etl", Attempt: 1, RetryStrategy: domain.Effective(nil, nil)})
	e.assignAfter(time.Second)
	attempts := 0
	e.run = func(context.Context, agentapi.WaitJobInput) (agentapi.RunJobResult, error) {
		attempts++ // every attempt ends without an agent (its heartbeat times out)
		return agentapi.RunJobResult{}, errors.New("no agent answered")
	}
	e.RegisterDelayedCallback(func() {
		e.SignalWorkflow(contract.SignalJobInterrupted, contract.JobInterruptedSignal{RunID: "run-9", SpawnID: "spawn-1", Note: "not ours"})
		e.SignalWorkflow(contract.SignalJobInterrupted, contract.JobInterruptedSignal{RunID: "run-1", SpawnID: "spawn-2", Note: "not ours"})
	}, time.Minute)
	e.RegisterDelayedCallback(func() {
		e.SignalWorkflow(contract.SignalJobInterrupted, contract.JobInterruptedSignal{RunID: "run-1", SpawnID: "spawn-1",
			Note: "compute spawn spawn-1 became unreachable (no ping for 5m0s)"})
	}, 2*time.Minute)
	start := e.Now()
	next := e.continuedAs(t, contract.JobWorkflowInput{JobID: "job-1", RunID: "run-1", ProjectID: "p-1"})
	require.NotNil(t, next, "retried")
	require.NotNil(t, e.retried)
	assert.Equal(t, domain.ReasonInterrupted, *e.retried.Fields.Reason)
	assert.Equal(t, "interrupted: compute spawn spawn-1 became unreachable (no ping for 5m0s); retrying as attempt 2 of 2", *e.retried.Fields.SystemNote)
	assert.Less(t, next.RetryAt.Sub(start), 2*time.Minute+time.Minute, "ended when the signal came, not at a timeout")
	assert.Equal(t, 1, e.released)
	assert.Less(t, attempts, 20, "the agent's attempts stop at the interruption")
}
