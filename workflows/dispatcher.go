package workflows

import (
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"daestro/activities"
	"daestro/internal/domain"
	"daestro/internal/temporalx"
)

// DispatcherWorkflowID returns the ID of a project's dispatcher.
func DispatcherWorkflowID(projectID string) string { return temporalx.DispatcherWorkflowID(projectID) }

// dispatcherRecheck is how soon a round runs again while jobs wait and no
// signal comes: spawns that come up (or free capacity nobody signalled) are
// noticed without a signal of their own.
const dispatcherRecheck = 15 * time.Second

// DispatcherWorkflow places one project's runnable jobs. It is signal-driven
// and batched: every wake signal that arrives while a round runs is folded
// into the next round. Each round is one activity (one DB transaction:
// load, place, persist allocations); the workflow then tells each assigned
// JobWorkflow and each spawn whose allocations changed.
func DispatcherWorkflow(ctx workflow.Context, in activities.DispatcherInput) error {
	wake := workflow.GetSignalChannel(ctx, activities.SignalDispatcherWake)
	roundCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second},
	})
	waiting, pending := 0, false
	for {
		// Wait for a wake signal, or re-check while jobs wait.
		if !pending && !wake.ReceiveAsync(nil) {
			sel := workflow.NewSelector(ctx)
			sel.AddReceive(wake, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
			if waiting > 0 {
				sel.AddFuture(workflow.NewTimer(ctx, dispatcherRecheck), func(workflow.Future) {})
			}
			sel.Select(ctx)
		}
		pending = false
		for wake.ReceiveAsync(nil) { // fold every queued wake into this round
		}

		var round activities.PlanRoundResult
		if err := workflow.ExecuteActivity(roundCtx, a.PlanRound, activities.PlanRoundInput{ProjectID: in.ProjectID}).Get(ctx, &round); err != nil {
			return err
		}
		waiting = round.Waiting
		for _, as := range round.Assigned {
			// A job that is gone or already running ignores (or never sees) the signal.
			_ = workflow.SignalExternalWorkflow(ctx, JobWorkflowID(as.JobID), "", SignalJobAssigned, JobAssignedSignal{SpawnID: as.SpawnID}).Get(ctx, nil)
		}
		for _, id := range round.Requested {
			if err := startCloudSpawn(ctx, in.ProjectID, id); err != nil {
				return err
			}
		}
		for _, sp := range round.SpawnAllocations {
			_ = workflow.SignalExternalWorkflow(ctx, SpawnWorkflowID(sp.SpawnID), "", SignalAllocationsChanged, AllocationsChangedSignal{Count: sp.Count}).Get(ctx, nil)
		}

		if workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			// Signals not yet received would be lost: fold them into a last round first.
			if wake.ReceiveAsync(nil) {
				pending = true
				continue
			}
			return workflow.NewContinueAsNewError(ctx, DispatcherWorkflow, in)
		}
	}
}

// startCloudSpawn starts the SpawnWorkflow of a cloud spawn the round
// requested, as a child that outlives the dispatcher (which continues as
// new). A workflow already running under the ID is the same spawn's.
func startCloudSpawn(ctx workflow.Context, projectID, spawnID string) error {
	childCtx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        SpawnWorkflowID(spawnID),
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
	})
	f := workflow.ExecuteChildWorkflow(childCtx, SpawnWorkflow, SpawnWorkflowInput{SpawnID: spawnID, ProjectID: projectID, Kind: domain.SpawnKindCloud})
	err := f.GetChildWorkflowExecution().Get(ctx, nil)
	if temporal.IsWorkflowExecutionAlreadyStartedError(err) {
		return nil
	}
	return err
}
