package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"daestro/activities"
)

// ReconcileScheduleID is the Temporal schedule that runs ReconcileWorkflow.
const ReconcileScheduleID = "daestro-reconcile"

// ReconcileEvery is how often reconciliation runs.
const ReconcileEvery = 10 * time.Minute

// DefaultReconcileGrace is how long a spawn must have been failed or
// terminated before reconciliation deletes a machine still carrying its
// tag: its own workflow gets the first go.
const DefaultReconcileGrace = 10 * time.Minute

// ReconcileWorkflowInput tunes one pass.
type ReconcileWorkflowInput struct {
	// Grace overrides DefaultReconcileGrace when > 0 (tests).
	Grace time.Duration
}

// ReconcileWorkflow lists the machines daestro tagged in every cloud
// account and deletes those with no live spawn. The schedule
// ReconcileScheduleID runs it; operators and tests may start it directly.
func ReconcileWorkflow(ctx workflow.Context, in ReconcileWorkflowInput) (activities.ReconcileResult, error) {
	if in.Grace <= 0 {
		in.Grace = DefaultReconcileGrace
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 15 * time.Minute,
		HeartbeatTimeout:    5 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 10 * time.Second, MaximumAttempts: 3},
	})
	var res activities.ReconcileResult
	err := workflow.ExecuteActivity(ctx, a.ReconcileMachines, activities.ReconcileInput{Grace: in.Grace}).Get(ctx, &res)
	if len(res.Deleted) > 0 || len(res.Errors) > 0 || len(res.OtherAccount) > 0 {
		workflow.GetLogger(ctx).Warn("reconciliation", "deleted", res.Deleted, "errors", res.Errors, "other_account", res.OtherAccount)
	}
	return res, err
}
