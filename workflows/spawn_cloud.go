package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"daestro/activities"
	"daestro/internal/domain"
)

// machineCreateOptions retry a provider's throttling and outages for a few
// minutes; its permanent refusals (credentials, quota, capacity) fail the
// spawn at once with the provider's sentence.
var machineCreateOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 5 * time.Minute,
	HeartbeatTimeout:    30 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        2 * time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        time.Minute,
		MaximumAttempts:        8,
		NonRetryableErrorTypes: []string{activities.ErrTypeCloudPermanent, activities.ErrTypeSpawnNotFound},
	},
}

// machineDeleteOptions retry a delete with backoff for about ten minutes;
// after that the spawn is termination_failed and reconciliation keeps trying.
// A machine in another account than the cloud auth's keys is not retried:
// no retry can reach it.
var machineDeleteOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 5 * time.Minute,
	HeartbeatTimeout:    30 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        5 * time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        2 * time.Minute,
		MaximumAttempts:        8,
		NonRetryableErrorTypes: []string{activities.ErrTypeCloudPermanent, activities.ErrTypeSpawnNotFound, activities.ErrTypeAccountChanged},
	},
}

// createMachine creates the machine of a requested cloud spawn. A refusal
// fails the spawn with the provider's sentence as its note (the queue's
// next round may request another environment).
func (w *spawnImpl) createMachine(ctx workflow.Context) error {
	var res activities.CreateMachineResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, machineCreateOptions), a.CreateMachine,
		activities.MachineInput{SpawnID: w.in.SpawnID}).Get(ctx, &res)
	if err != nil {
		if notFound(err) {
			return err
		}
		if errorType(err) == activities.ErrTypeSpawnNotRequested {
			// Terminated before its machine was made: nothing to manage.
			workflow.GetLogger(ctx).Info("spawn no longer requested; no machine created", "spawn_id", w.in.SpawnID)
			w.state = domain.SpawnTerminated
			return nil
		}
		note := failureMessage(err)
		// A create that failed after the provider accepted it may have left
		// a machine: delete whatever carries the spawn's tag before failing.
		cleanup := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, machineDeleteOptions), a.DeleteMachine,
			activities.MachineInput{SpawnID: w.in.SpawnID}).Get(ctx, nil)
		if errorType(cleanup) == activities.ErrTypeAccountChanged {
			// The keys changed account mid-create: a machine may be left in
			// the old account, which these keys cannot reach.
			note := failureMessage(cleanup)
			_, err := w.record(ctx, activities.RecordSpawnStateInput{State: domain.SpawnTerminationFailed, Reason: "machine not created: " + note, Note: note})
			return err
		}
		_, err := w.record(ctx, activities.RecordSpawnStateInput{State: domain.SpawnFailed, Reason: "machine not created: " + note, Note: note})
		if err == nil {
			err = w.wakeDispatcher(ctx)
		}
		return err
	}
	w.in.MachineCreated, w.in.MaxIdleSeconds = true, res.MaxIdleSeconds
	workflow.GetLogger(ctx).Info("machine created; waiting for its agent", "spawn_id", w.in.SpawnID, "instance_id", res.InstanceID, "adopted", res.Adopted)
	return nil
}

// armCloudTimers keeps the boot and idle timers in step with the state: the
// boot timer runs while the machine's agent has not pinged yet; the idle
// timer while the spawn is up (or unreachable) with nothing allocated. A
// timer whose condition ended is cancelled; one re-armed starts afresh.
func (w *spawnImpl) armCloudTimers(ctx workflow.Context) {
	wantBoot := w.state == domain.SpawnRequested
	switch {
	case wantBoot && w.boot == nil:
		timerCtx, cancel := workflow.WithCancel(ctx)
		w.boot, w.cancelBoot = workflow.NewTimer(timerCtx, w.in.BootTimeout), cancel
	case !wantBoot && w.boot != nil:
		w.cancelBoot()
		w.boot, w.cancelBoot = nil, nil
	}
	wantIdle := w.allocations == 0 && (w.state == domain.SpawnIdle || w.state == domain.SpawnUnreachable)
	switch {
	case wantIdle && w.idle == nil:
		timerCtx, cancel := workflow.WithCancel(ctx)
		w.idle, w.cancelIdle = workflow.NewTimer(timerCtx, w.idleLimit()), cancel
	case !wantIdle && w.idle != nil:
		w.cancelIdle()
		w.idle, w.cancelIdle = nil, nil
	}
}

// idleLimit is the queue's max idle time, at least MinIdle.
func (w *spawnImpl) idleLimit() time.Duration {
	return max(time.Duration(w.in.MaxIdleSeconds)*time.Second, w.in.MinIdle)
}

// onIdleTimeout terminates the spawn unless a placement got there first:
// the transition is refused while a run is allocated, and the allocation's
// signal then re-arms everything.
func (w *spawnImpl) onIdleTimeout(ctx workflow.Context) error {
	if w.allocations > 0 {
		return nil
	}
	reason := fmt.Sprintf("idle for %s with nothing allocated (the queue's max idle time)", w.idleLimit())
	if w.state == domain.SpawnUnreachable {
		reason = fmt.Sprintf("unreachable and without work for %s", w.idleLimit())
	}
	applied, err := w.record(ctx, activities.RecordSpawnStateInput{State: domain.SpawnTerminating, Reason: reason, RequireNoAllocations: true})
	if err != nil || !applied {
		return err
	}
	w.stopLiveness()
	return w.deleteMachine(ctx, domain.SpawnTerminated, "machine deleted")
}

// onBootTimeout gives up on a machine whose agent never pinged: it is
// deleted and the spawn fails, so the queue can request another.
func (w *spawnImpl) onBootTimeout(ctx workflow.Context) error {
	if w.state != domain.SpawnRequested {
		return nil
	}
	note := fmt.Sprintf("the machine's agent did not ping within %s of the machine's creation: check that the machine can reach the daestro API and pull the agent image", w.in.BootTimeout)
	if _, err := w.record(ctx, activities.RecordSpawnStateInput{State: domain.SpawnTerminating, Reason: note, Note: note}); err != nil {
		return err
	}
	if err := w.deleteMachine(ctx, domain.SpawnFailed, "machine deleted after its agent never pinged"); err != nil {
		return err
	}
	return w.wakeDispatcher(ctx)
}

// deleteMachine deletes the machine of a terminating spawn and records
// final (terminated, or failed), or termination_failed with the provider's
// sentence when the retries ran out; reconciliation keeps trying then.
func (w *spawnImpl) deleteMachine(ctx workflow.Context, final, reason string) error {
	w.stopCloudTimers()
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, machineDeleteOptions), a.DeleteMachine,
		activities.MachineInput{SpawnID: w.in.SpawnID}).Get(ctx, nil)
	if err != nil {
		if notFound(err) {
			return err
		}
		note := "the machine could not be deleted: " + failureMessage(err) + "; reconciliation keeps trying"
		if errorType(err) == activities.ErrTypeAccountChanged {
			note = failureMessage(err) // reconciliation cannot reach it either
		}
		_, err := w.record(ctx, activities.RecordSpawnStateInput{State: domain.SpawnTerminationFailed, Reason: note, Note: note})
		return err
	}
	_, err = w.transition(ctx, final, reason, 0)
	return err
}

// stopCloudTimers cancels the boot and idle timers.
func (w *spawnImpl) stopCloudTimers() {
	if w.cancelBoot != nil {
		w.cancelBoot()
	}
	if w.cancelIdle != nil {
		w.cancelIdle()
	}
	w.boot, w.cancelBoot, w.idle, w.cancelIdle = nil, nil, nil, nil
}

// wakeDispatcher asks the project's dispatcher for a round: a spawn that
// failed leaves jobs waiting that another spawn may take.
func (w *spawnImpl) wakeDispatcher(ctx workflow.Context) error {
	return workflow.ExecuteActivity(ctx, a.WakeDispatcher, activities.WakeDispatcherInput{ProjectID: w.in.ProjectID}).Get(ctx, nil)
}

// notFound reports whether err is the spawn having vanished.
func notFound(err error) bool { return errorType(err) == activities.ErrTypeSpawnNotFound }

// errorType is the type of an activity's application error, "" for others.
func errorType(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Type()
	}
	return ""
}

// machineRefreshOptions bound the best-effort read of a new machine's addresses.
var machineRefreshOptions = workflow.ActivityOptions{
	StartToCloseTimeout: time.Minute,
	RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 2 * time.Second, MaximumAttempts: 3},
}

// refreshMachine records the machine's addresses, best effort: a provider
// that cannot say them now never stops the spawn.
func (w *spawnImpl) refreshMachine(ctx workflow.Context) {
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, machineRefreshOptions), a.RefreshMachine,
		activities.MachineInput{SpawnID: w.in.SpawnID}).Get(ctx, nil)
	if err != nil {
		workflow.GetLogger(ctx).Warn("could not read the machine's addresses", "spawn_id", w.in.SpawnID, "error", err)
	}
}

// cleanUp deletes the machine of a cloud spawn whose lifecycle failed
// unexpectedly, so that no machine outlives the workflow that owns it.
func (w *spawnImpl) cleanUp(ctx workflow.Context, cause error) {
	workflow.GetLogger(ctx).Error("cloud spawn lifecycle failed; deleting its machine", "spawn_id", w.in.SpawnID, "error", cause)
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	w.stopCloudTimers()
	w.stopLiveness()
	_ = w.deleteMachine(ctx, domain.SpawnTerminated, "machine deleted after the spawn's lifecycle failed: "+failureMessage(cause))
}

// failureMessage is the user-facing sentence of an activity's failure.
func failureMessage(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	var timeoutErr *temporal.TimeoutError
	if errors.As(err, &timeoutErr) {
		return "the provider did not answer in time"
	}
	return err.Error()
}
