package activities

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"

	"daestro/internal/contract"
	"daestro/internal/store"
)

// ArrayChildrenInput names a range of an array job's children.
type ArrayChildrenInput struct {
	JobID, ProjectID, QueueName string
	// From and To are the indexes from..to-1.
	From, To int
}

// StartArrayChildren starts the workflows of children From..To-1 of an
// array job. A child already started is left as it is, so a retry of the
// batch starts only the rest.
func (a *Activities) StartArrayChildren(ctx context.Context, in ArrayChildrenInput) error {
	children, err := a.Store.ArrayChildRuns(ctx, in.JobID, in.From, in.To)
	if err != nil {
		return err
	}
	for _, c := range children {
		_, err := a.Temporal.ExecuteWorkflow(ctx, contract.ArrayChildStartOptions(c.JobID, a.ControlTaskQueue, in.ProjectID, in.QueueName),
			contract.JobWorkflowName, contract.JobWorkflowInput{JobID: c.JobID, RunID: c.RunID, ProjectID: in.ProjectID})
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if err != nil && !errors.As(err, &started) {
			return fmt.Errorf("start child %d: %w", c.Index, err)
		}
		activity.RecordHeartbeat(ctx, c.Index)
	}
	return nil
}

// CancelArrayChildren cancels an array job's children: those never started
// end cancelled at once; the started ones that have not ended are signalled
// as a cancel of each would.
func (a *Activities) CancelArrayChildren(ctx context.Context, in ArrayChildrenInput) error {
	if err := a.Store.CancelUnstartedArrayChildren(ctx, in.JobID, in.To, "cancelled with its array job before it started"); err != nil {
		return err
	}
	children, err := a.Store.ArrayChildRuns(ctx, in.JobID, 0, in.To)
	if err != nil {
		return err
	}
	for _, c := range children {
		if c.State.IsFinal() {
			continue
		}
		err := a.Temporal.SignalWorkflow(ctx, contract.JobWorkflowID(c.JobID), "", contract.SignalJobCancel, nil)
		var notFound *serviceerror.NotFound
		if err != nil && !errors.As(err, &notFound) {
			return fmt.Errorf("cancel child %d: %w", c.Index, err)
		}
		activity.RecordHeartbeat(ctx, c.Index)
	}
	return nil
}

// UpdateArrayJobInput names an array job.
type UpdateArrayJobInput struct {
	JobID           string
	CancelRequested bool
}

// UpdateArrayJob records the state an array job's children give it and
// returns it with their counts.
func (a *Activities) UpdateArrayJob(ctx context.Context, in UpdateArrayJobInput) (store.ArrayStatus, error) {
	return a.Store.UpdateArrayJob(ctx, in.JobID, in.CancelRequested)
}
