package contract

import "go.temporal.io/sdk/client"

// Names of the cron jobs' schedules and workflows, shared by the API (which
// writes schedules), the activities (which rebuild them) and the workflows.
const (
	// CronTriggerWorkflowName is the registered name of workflows.CronTriggerWorkflow,
	// the action of every cron schedule.
	CronTriggerWorkflowName = "CronTriggerWorkflow"
	// CronRefreshWorkflowName is the registered name of workflows.CronRefreshWorkflow.
	CronRefreshWorkflowName = "CronRefreshWorkflow"
	// SignalCronRescheduled tells a cron job's refresh workflow that its
	// calendars were rebuilt, so it re-reads when they next need it.
	SignalCronRescheduled = "rescheduled"
)

// CronScheduleID is the ID of a cron job's Temporal schedule; the trigger
// workflows it starts are named after it ("cron/<id>-<time>").
func CronScheduleID(cronJobID string) string { return "cron/" + cronJobID }

// CronRefreshWorkflowID is the ID of the workflow that keeps a cron job's
// calendars exact when they hold only for a while.
func CronRefreshWorkflowID(cronJobID string) string { return "cron-refresh/" + cronJobID }

// CronTriggerInput is the input of a cron job's trigger workflow, the one
// argument its schedule passes: IDs only, no overrides and no secret.
type CronTriggerInput struct {
	// CronJobID and ProjectID name the cron job.
	CronJobID, ProjectID string
}

// CronRefreshInput is the input of a cron job's refresh workflow.
type CronRefreshInput struct {
	// CronJobID and ProjectID name the cron job.
	CronJobID, ProjectID string
}

// CronRefreshStartOptions start a cron job's refresh workflow on queue.
func CronRefreshStartOptions(cronJobID, queue string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{ID: CronRefreshWorkflowID(cronJobID), TaskQueue: queue}
}
