package workflows

// JobWorkflowID returns the workflow ID of a job: every run of the job (a
// submission or a resubmission) is a new run of this one workflow ID.
func JobWorkflowID(jobID string) string { return "job/" + jobID }

// Signals a JobWorkflow accepts.
const (
	// SignalJobCancel asks the job to stop in whatever phase it is.
	SignalJobCancel = "cancel"
	// SignalJobAssigned tells a runnable job where to run (JobAssignedSignal).
	SignalJobAssigned = "assigned"
)

// JobWorkflowInput is the input of JobWorkflow. Everything else (command,
// env, quotas) is read from Postgres by activities: no secret enters history.
type JobWorkflowInput struct {
	// JobID and RunID name the job and this run of it.
	JobID, RunID string
	// ProjectID is the job's project, for the dispatcher.
	ProjectID string
}

// JobAssignedSignal is the dispatcher's answer to a runnable job.
type JobAssignedSignal struct {
	// SpawnID is the compute spawn whose agent runs the job.
	SpawnID string
}
