package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"daestro/activities"
	"daestro/internal/contract"
	"daestro/internal/domain"
	"daestro/internal/store"
)

// Pacing of an array job. Its history stays small however many children
// it has: one activity per batch of starts, one local activity and a timer
// per look at the children's counts, and a new run every arrayPollsPerRun looks.
const (
	arrayBatch       = 500
	arrayPollMin     = 2 * time.Second
	arrayPollMax     = 15 * time.Second
	arrayPollsPerRun = 500
)

// ArrayJobWorkflow runs an array job: it starts its children's
// JobWorkflows in batches (each child is a job of its own, placed and run
// like any other), follows their counts into the parent's state (running
// while any runs, completed when all completed, failed otherwise) and, on
// cancel, cancels every child that has not ended.
func ArrayJobWorkflow(ctx workflow.Context, in contract.ArrayJobWorkflowInput) (contract.JobWorkflowResult, error) {
	cancelCh := workflow.GetSignalChannel(ctx, contract.SignalJobCancel)
	operatorCancel := ctx.Done()
	// Like a job's, the work goes on when an operator cancels the
	// workflow: that is one more way to cancel the array job.
	work, _ := workflow.NewDisconnectedContext(ctx)
	acts := workflow.WithActivityOptions(work, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
	})
	children := activities.ArrayChildrenInput{JobID: in.JobID, ProjectID: in.ProjectID, QueueName: in.QueueName}
	operatorSeen := false
	takeCancel := func() {
		for cancelCh.ReceiveAsync(nil) {
			in.CancelRequested = true
		}
		if !operatorSeen && ctx.Err() != nil {
			operatorSeen, in.CancelRequested = true, true
		}
	}
	cancelChildren := func() error {
		children.From, children.To = 0, in.Started
		return workflow.ExecuteActivity(acts, a.CancelArrayChildren, children).Get(work, nil)
	}

	for takeCancel(); in.Started < in.Size && !in.CancelRequested; takeCancel() {
		children.From, children.To = in.Started, min(in.Started+arrayBatch, in.Size)
		if err := workflow.ExecuteActivity(acts, a.StartArrayChildren, children).Get(work, nil); err != nil {
			return contract.JobWorkflowResult{}, err
		}
		in.Started = children.To
	}
	if in.CancelRequested {
		if err := cancelChildren(); err != nil {
			return contract.JobWorkflowResult{}, err
		}
	}

	poll, shown, last := arrayPollMin, domain.JobState(""), map[domain.JobState]int(nil)
	for looks := 0; ; looks++ {
		var st store.ArrayStatus
		if err := workflow.ExecuteLocalActivity(localStep(work), a.UpdateArrayJob,
			activities.UpdateArrayJobInput{JobID: in.JobID, CancelRequested: in.CancelRequested}).Get(work, &st); err != nil {
			return contract.JobWorkflowResult{}, err
		}
		if st.State != shown {
			if err := workflow.UpsertTypedSearchAttributes(work, temporal.NewSearchAttributeKeyKeyword(contract.SearchAttrJobState).ValueSet(string(st.State))); err != nil {
				return contract.JobWorkflowResult{}, err
			}
			shown = st.State
		}
		if st.State.IsFinal() {
			if err := workflow.ExecuteLocalActivity(localStep(work), a.NotifyDependents, activities.JobDependenciesInput{JobID: in.JobID}).Get(work, nil); err != nil {
				return contract.JobWorkflowResult{}, err
			}
			return contract.JobWorkflowResult{State: st.State}, nil
		}
		if looks >= arrayPollsPerRun {
			return contract.JobWorkflowResult{}, workflow.NewContinueAsNewError(ctx, ArrayJobWorkflow, in)
		}
		if sameCounts(last, st.Counts) {
			poll = min(poll*3/2, arrayPollMax)
		} else {
			poll = arrayPollMin
		}
		last = st.Counts

		timerCtx, stopTimer := workflow.WithCancel(work)
		sel := workflow.NewSelector(work)
		sel.AddFuture(workflow.NewTimer(timerCtx, poll), func(workflow.Future) {})
		sel.AddReceive(cancelCh, func(c workflow.ReceiveChannel, _ bool) { c.Receive(work, nil); in.CancelRequested = true })
		if !operatorSeen {
			sel.AddReceive(operatorCancel, func(workflow.ReceiveChannel, bool) { operatorSeen, in.CancelRequested = true, true })
		}
		wasCancelled := in.CancelRequested
		sel.Select(work)
		stopTimer()
		if in.CancelRequested && !wasCancelled {
			if err := cancelChildren(); err != nil {
				return contract.JobWorkflowResult{}, err
			}
			poll = arrayPollMin
		}
	}
}

// sameCounts tells whether two looks saw the same count in every state.
// It walks domain.JobStates, not the maps, so that nothing in the workflow
// ranges over a map.
func sameCounts(a, b map[domain.JobState]int) bool {
	if len(a) != len(b) {
		return false
	}
	for _, st := range domain.JobStates {
		if a[st] != b[st] {
			return false
		}
	}
	return true
}
