package contract

import "time"

// The log lifecycle: one Temporal schedule runs RetentionWorkflow, which
// deletes the logs and metrics of runs past their project's retention.
const (
	// RetentionWorkflowName is the registered name of workflows.RetentionWorkflow.
	RetentionWorkflowName = "RetentionWorkflow"
	// RetentionScheduleID is the schedule that runs it; the worker creates
	// (or updates) it at start.
	RetentionScheduleID = "daestro-retention"
	// RetentionEvery is how often the schedule runs it: a run's output goes
	// at most this long after its retention passed.
	RetentionEvery = time.Hour
)

// RetentionWorkflowID is the ID of a purge the schedule did not start
// (an operator's, a test's), named by id.
func RetentionWorkflowID(id string) string { return "retention/" + id }

// RetentionWorkflowInput is the input of RetentionWorkflow; the schedule
// passes the zero value, a continued run carries the first run's.
type RetentionWorkflowInput struct {
	// Now is the moment retention is measured from: a run is purged when
	// it ended more than its project's log_retention_days before it. Zero
	// means the workflow's own start; a continued run keeps the first's.
	Now time.Time
	// BatchRows is how many rows one transaction deletes at most;
	// store.DefaultPurgeBatchRows when zero.
	BatchRows int
	// Done carries the totals across continue-as-new.
	Done RetentionWorkflowResult
}

// RetentionWorkflowResult is what a purge deleted.
type RetentionWorkflowResult struct {
	// Runs is how many runs had their output purged (logs_purged_at set).
	Runs int
	// LogLines and MetricSamples are the rows deleted.
	LogLines, MetricSamples int
	// Batches is how many transactions it took.
	Batches int
}
