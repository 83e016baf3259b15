package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"daestro/activities"
	"daestro/internal/contract"
)

// dispatcherRecheck is how soon a round runs again while jobs wait and no
// signal comes: spawns that come up (or free capacity nobody signalled) are
// noticed without a signal of their own.
const dispatcherRecheck = 15 * time.Second

// DispatcherWorkflow places one project's runnable jobs. It is signal-driven
// and batched: every wake signal that arrives while a round runs is folded
// into the next round. Each round is one activity (one DB transaction:
// load, place, persist allocations); the workflow then tells each assigned
// JobWorkflow and each spawn whose allocations changed.
func DispatcherWorkflow(ctx workflow.Context, in contract.DispatcherInput) error {
	wake := workflow.GetSignalChannel(ctx, contract.SignalDispatcherWake)
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
			timerCtx, cancelTimer := workflow.WithCancel(ctx)
			if waiting > 0 {
				sel.AddFuture(workflow.NewTimer(timerCtx, dispatcherRecheck), func(workflow.Future) {})
			}
			sel.Select(ctx)
			cancelTimer() // a wake came first: the re-check timer is not needed
		}
		pending = false
		for wake.ReceiveAsync(nil) { // fold every queued wake into this round
		}

		var round activities.PlanRoundResult
		if err := workflow.ExecuteActivity(roundCtx, a.PlanRound, activities.PlanRoundInput{ProjectID: in.ProjectID}).Get(ctx, &round); err != nil {
			return err
		}
		waiting = round.Waiting
		// The round's signals go out together and are awaited at its end:
		// one after another, each cost a workflow task's round trip, and a
		// round that placed eight jobs told the last one a second later.
		// (Histories from before "batched-signals" awaited each in turn.)
		batched := workflow.GetVersion(ctx, "batched-signals", workflow.DefaultVersion, 1) == 1
		var sent []workflow.Future
		signal := func(workflowID, name string, arg any) {
			// A workflow that is gone or already past that step ignores (or
			// never sees) the signal, so a failed signal is not acted on.
			f := workflow.SignalExternalWorkflow(ctx, workflowID, "", name, arg)
			if batched {
				sent = append(sent, f)
				return
			}
			_ = f.Get(ctx, nil)
		}
		for _, as := range round.Assigned {
			signal(contract.JobWorkflowID(as.JobID), contract.SignalJobAssigned, contract.JobAssignedSignal{SpawnID: as.SpawnID})
		}
		if len(round.Requested) > 0 {
			// Idempotent: a spawn whose workflow runs is left alone. A failed
			// start is logged, not fatal: the next round tries again.
			if err := workflow.ExecuteActivity(roundCtx, a.StartSpawnWorkflows,
				activities.StartSpawnsInput{ProjectID: in.ProjectID, SpawnIDs: round.Requested}).Get(ctx, nil); err != nil {
				workflow.GetLogger(ctx).Error("could not start spawn workflows; the next round retries", "error", err)
			}
		}
		for _, sp := range round.SpawnAllocations {
			signal(contract.SpawnWorkflowID(sp.SpawnID), contract.SignalAllocationsChanged, contract.AllocationsChangedSignal{Count: sp.Count})
		}
		for _, f := range sent {
			_ = f.Get(ctx, nil)
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
