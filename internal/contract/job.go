package contract

import (
	"time"

	"daestro/internal/domain"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// JobWorkflowName is the registered name of workflows.JobWorkflow.
const JobWorkflowName = "JobWorkflow"

// JobWorkflowID returns the workflow ID of a job: every run of the job (a
// submission or a resubmission) is a new run of this one workflow ID.
func JobWorkflowID(jobID string) string { return "job/" + jobID }

// Signals and queries a JobWorkflow accepts.
const (
	// SignalJobCancel asks the job to stop in whatever phase it is.
	SignalJobCancel = "cancel"
	// SignalJobAssigned tells a runnable job where to run (JobAssignedSignal).
	SignalJobAssigned = "assigned"
	// QueryJobState answers the run's current state.
	QueryJobState = "state"
	// SignalJobInterrupted (JobInterruptedSignal) tells a run that its
	// spawn went away under it.
	SignalJobInterrupted = "interrupted"
	// SignalDependencyDone (no payload) tells a job waiting for others that
	// one of them ended: it looks at its dependencies again.
	SignalDependencyDone = "dependency-done"
)

// JobInterruptedSignal says a run's compute spawn went away (unreachable
// past its limit): the run ends interrupted and its retry strategy decides.
// A run ignores one naming another run or spawn than its own.
type JobInterruptedSignal struct {
	RunID, SpawnID string
	// Note says what happened, e.g. "compute spawn X became unreachable (no ping for 5m0s)".
	Note string
}

// JobWorkflowInput is the input of JobWorkflow. Everything else (command,
// env, quotas) is read from Postgres by activities: no secret enters history.
type JobWorkflowInput struct {
	// JobID and RunID name the job and this run of it.
	JobID, RunID string
	// ProjectID is the job's project, for the dispatcher.
	ProjectID string
	// RetryAt is when a retry may run (the run was written pending by the
	// attempt before, which continued as new into this one); zero for a
	// submission or a resubmission.
	RetryAt time.Time
}

// JobWorkflowResult is the run's outcome.
type JobWorkflowResult struct {
	// State is the final state: completed, failed, timeout, cancelled or
	// error; empty when the job's rows never appeared (nothing ran).
	State domain.JobState
	// SystemNote explains it.
	SystemNote string
}

// ErrTypeJobRunNotFound is LoadJobRun's error for a run without rows: its
// submission was not committed (yet, or ever).
const ErrTypeJobRunNotFound = "JobRunNotFound"

// JobAssignedSignal is the dispatcher's answer to a runnable job.
type JobAssignedSignal struct {
	// SpawnID is the compute spawn whose agent runs the job.
	SpawnID string
}

// Search attributes of a job's workflow (registered at worker start).
const (
	SearchAttrProjectID = "DaestroProjectID"
	SearchAttrJobQueue  = "DaestroJobQueue"
	SearchAttrJobState  = "DaestroJobState"
	SearchAttrSpawnID   = "DaestroSpawnID"
)

// JobStartOptions start a run of a job's workflow on queue (the control
// task queue; tests use their own), findable by project, queue and state.
// A start while a run of the same ID is still open fails instead of silently
// returning that run, so a new run row never lacks its workflow.
func JobStartOptions(jobID, queue, projectID, queueName string, state domain.JobState) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                                       JobWorkflowID(jobID),
		TaskQueue:                                queue,
		WorkflowIDReusePolicy:                    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    JobSearchAttributes(projectID, queueName, state),
	}
}

// JobSearchAttributes are a job workflow's search attributes at start (the
// API's start and a cron trigger's child workflow share them).
func JobSearchAttributes(projectID, queueName string, state domain.JobState) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(
		temporal.NewSearchAttributeKeyKeyword(SearchAttrProjectID).ValueSet(projectID),
		temporal.NewSearchAttributeKeyKeyword(SearchAttrJobQueue).ValueSet(queueName),
		temporal.NewSearchAttributeKeyKeyword(SearchAttrJobState).ValueSet(string(state)),
	)
}
