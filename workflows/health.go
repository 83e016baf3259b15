// Package workflows decides: every job, spawn and cron lifecycle is a
// workflow here. Workflows only orchestrate; all I/O is in activities.
package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"daestro/activities"
)

// a refers to the activities by method value; it is never dereferenced.
var a *activities.Activities

// HealthCheckWorkflowID returns the workflow ID of a health check named by id.
func HealthCheckWorkflowID(id string) string { return "healthcheck/" + id }

// HealthCheckWorkflowInput is the input of HealthCheckWorkflow.
type HealthCheckWorkflowInput struct {
	// Note is passed through the activity and back.
	Note string
}

// HealthCheckWorkflowResult is what HealthCheckWorkflow returns.
type HealthCheckWorkflowResult struct {
	// Note is the input's note as the activity returned it.
	Note string
	// SchemaVersion is the database schema version the worker sees.
	SchemaVersion int
}

// HealthCheckWorkflow runs one activity on the control task queue: it proves
// the worker polls, runs activities and reaches Postgres (`daestro admin check`).
func HealthCheckWorkflow(ctx workflow.Context, in HealthCheckWorkflowInput) (HealthCheckWorkflowResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		// A health check that fails a few times is an answer in itself: don't retry forever.
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 3},
	})
	var res activities.HealthCheckResult
	if err := workflow.ExecuteActivity(ctx, a.HealthCheck, activities.HealthCheckInput(in)).Get(ctx, &res); err != nil {
		return HealthCheckWorkflowResult{}, err
	}
	return HealthCheckWorkflowResult(res), nil
}
