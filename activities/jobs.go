package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	"daestro/internal/contract"
	"daestro/internal/domain"
	"daestro/internal/metrics"
	"daestro/internal/store"
)

// SetJobRunStateInput is one state change of a job run.
type SetJobRunStateInput struct {
	RunID  string
	State  domain.JobState
	Reason string
	// Fields are the facts the change also sets; nil ones stay.
	Fields store.RunFields
}

// SetJobRunState writes a run's state (mirrored on its job) and an event.
func (a *Activities) SetJobRunState(ctx context.Context, in SetJobRunStateInput) error {
	t, err := a.Store.RecordJobRunState(ctx, in.RunID, in.State, in.Reason, in.Fields)
	if err == nil && t.Changed {
		a.Metrics.JobTransition(metrics.Transition{State: string(in.State), Queue: t.Queue, SubmittedAt: t.SubmittedAt, RunnableAt: t.RunnableAt}, time.Now())
	}
	if domain.ErrorCode(err) == domain.ECONFLICT || domain.ErrorCode(err) == domain.ENOTFOUND {
		// A run already final (cancelled from the API while the workflow was
		// away) or gone: retrying cannot change that.
		return temporal.NewNonRetryableApplicationError(err.Error(), "RunStateConflict", err)
	}
	return err
}

// RetryJobRunInput ends a run that did not complete and starts its job's
// next attempt (store.RetryJobRun).
type RetryJobRunInput struct {
	RunID  string
	State  domain.JobState
	Reason string
	Fields store.RunFields
	// Attempts is the strategy's total; RetryAt when the next may run.
	Attempts int
	RetryAt  time.Time
}

// RetryJobRun writes the run's end and the next attempt's pending run in
// one transaction and returns the new run's ID.
func (a *Activities) RetryJobRun(ctx context.Context, in RetryJobRunInput) (string, error) {
	next, err := a.Store.RetryJobRun(ctx, in.RunID, in.State, in.Reason, in.Fields, in.Attempts, in.RetryAt)
	if domain.ErrorCode(err) == domain.ECONFLICT || domain.ErrorCode(err) == domain.ENOTFOUND {
		return "", temporal.NewNonRetryableApplicationError(err.Error(), "RunStateConflict", err)
	}
	return next, err
}

// LoadJobRunInput names the run.
type LoadJobRunInput struct{ RunID string }

// LoadJobRun reads the run's scheduling facts. A run that does not exist
// is a non-retryable contract.ErrTypeJobRunNotFound: the workflow decides
// how long to wait for rows a submission may still be committing.
func (a *Activities) LoadJobRun(ctx context.Context, in LoadJobRunInput) (domain.JobRunFacts, error) {
	f, err := a.Store.JobRunInfo(ctx, in.RunID)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return f, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeJobRunNotFound, err)
	}
	return f, err
}

// WakeDispatcherInput names the project.
type WakeDispatcherInput struct{ ProjectID string }

// WakeDispatcher signals the project's dispatcher, starting it when it is not running.
func (a *Activities) WakeDispatcher(ctx context.Context, in WakeDispatcherInput) error {
	_, err := a.Temporal.SignalWithStartWorkflow(ctx, contract.DispatcherWorkflowID(in.ProjectID), contract.SignalDispatcherWake, nil,
		contract.DispatcherStartOptions(in.ProjectID, a.ControlTaskQueue), contract.DispatcherWorkflowName, contract.DispatcherInput(in))
	if err != nil {
		return fmt.Errorf("wake dispatcher of project %s: %w", in.ProjectID, err)
	}
	return nil
}

// ReleaseRunInput names the run whose capacity to give back.
type ReleaseRunInput struct{ RunID, ProjectID string }

// ReleaseRun frees the run's allocation (idempotent), tells its spawn how
// many runs it still holds, and wakes the dispatcher to use the capacity.
func (a *Activities) ReleaseRun(ctx context.Context, in ReleaseRunInput) error {
	spawnID, remaining, err := a.Store.ReleaseAllocation(ctx, in.RunID)
	if err != nil {
		return err
	}
	if spawnID != "" {
		// A spawn workflow that is gone has nothing to update; any other
		// failure is retried: a lost "0 allocated" would keep a cloud
		// machine from ever going idle.
		err := a.Temporal.SignalWorkflow(ctx, contract.SpawnWorkflowID(spawnID), "", contract.SignalAllocationsChanged, contract.AllocationsChangedSignal{Count: remaining})
		var notFound *serviceerror.NotFound
		if err != nil && !errors.As(err, &notFound) {
			return fmt.Errorf("tell spawn %s its allocations: %w", spawnID, err)
		}
	}
	return a.WakeDispatcher(ctx, WakeDispatcherInput{ProjectID: in.ProjectID})
}

// JobDependenciesInput names the job.
type JobDependenciesInput struct{ JobID string }

// CheckDependencies says whether the job's dependencies let it run now,
// which one it waits for, or which one ended the wrong way.
func (a *Activities) CheckDependencies(ctx context.Context, in JobDependenciesInput) (domain.DependencyVerdict, error) {
	deps, err := a.Store.DependencyStates(ctx, in.JobID)
	if err != nil {
		return domain.DependencyVerdict{}, err
	}
	return domain.JudgeDependencies(deps), nil
}

// NotifyDependents wakes the jobs waiting for a job that ended. A dependent
// whose workflow is gone is skipped; one that missed the signal still looks
// again on its own timer.
func (a *Activities) NotifyDependents(ctx context.Context, in JobDependenciesInput) error {
	ids, err := a.Store.Dependents(ctx, in.JobID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		err := a.Temporal.SignalWorkflow(ctx, contract.JobWorkflowID(id), "", contract.SignalDependencyDone, nil)
		var notFound *serviceerror.NotFound
		if err != nil && !errors.As(err, &notFound) {
			return fmt.Errorf("signal job %s: %w", id, err)
		}
	}
	return nil
}
