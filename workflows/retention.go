package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"daestro/activities"
	"daestro/internal/contract"
	"daestro/internal/store"
)

// retentionBatchesPerRun is how many batches one run of RetentionWorkflow
// deletes before it continues as new: a marker event each, so a history
// stays far below its limits however much is due (a million rows a run at
// the default batch size).
const retentionBatchesPerRun = 200

// RetentionWorkflow deletes the logs and metrics of every run that ended
// more than its project's log_retention_days before the workflow started,
// one small transaction (a local activity) at a time until none is due, so
// no purge holds a long transaction. The schedule contract.RetentionScheduleID
// runs it; operators and tests may start it directly.
func RetentionWorkflow(ctx workflow.Context, in contract.RetentionWorkflowInput) (contract.RetentionWorkflowResult, error) {
	if in.Now.IsZero() {
		in.Now = workflow.Now(ctx)
	}
	if in.BatchRows <= 0 {
		in.BatchRows = store.DefaultPurgeBatchRows
	}
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute, MaximumAttempts: 10},
	})
	res := in.Done
	for n := 0; ; n++ {
		if n == retentionBatchesPerRun {
			in.Done = res
			return res, workflow.NewContinueAsNewError(ctx, RetentionWorkflow, in)
		}
		var b store.PurgeBatch
		if err := workflow.ExecuteLocalActivity(ctx, a.PurgeRunOutput, activities.PurgeRunOutputInput{Now: in.Now, Limit: in.BatchRows}).Get(ctx, &b); err != nil {
			return res, err
		}
		res.Batches++
		res.Runs += b.Runs
		res.LogLines += b.LogLines
		res.MetricSamples += b.MetricSamples
		if !b.More {
			break
		}
	}
	if res.Runs > 0 {
		workflow.GetLogger(ctx).Info("retention purged run output", "runs", res.Runs, "log_lines", res.LogLines,
			"metric_samples", res.MetricSamples, "batches", res.Batches)
	}
	return res, nil
}
