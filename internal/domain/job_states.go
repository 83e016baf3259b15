package domain

import (
	"slices"
	"strings"
)

// Job states, as they appear in the API and the database. After the
// submission JobWorkflow is the only writer (through the store's
// SetJobRunState); the API writes a state only for a job whose workflow is gone.
const (
	// JobSubmitted: accepted; its workflow has started.
	JobSubmitted = "submitted"
	// JobPending: waiting for its schedule_at.
	JobPending = "pending"
	// JobRunnable: waiting in its queue for capacity.
	JobRunnable = "runnable"
	// JobStarting: placed on a compute spawn; the image is being pulled and the container created.
	JobStarting = "starting"
	// JobRunning: its container runs.
	JobRunning = "running"
	// JobCancelling: cancel was asked for; the container is being stopped.
	JobCancelling = "cancelling"
	// JobCancelled: stopped on request; final.
	JobCancelled = "cancelled"
	// JobTimeout: stopped at the definition's execution timeout; final.
	JobTimeout = "timeout"
	// JobCompleted: the container exited 0; final.
	JobCompleted = "completed"
	// JobFailed: the container exited non-zero (or was OOM-killed); final.
	JobFailed = "failed"
	// JobError: daestro could not run it (image pull, invalid spec); final.
	JobError = "error"
)

// JobStates lists every state in lifecycle order, as Daestro documents them.
var JobStates = []string{JobSubmitted, JobPending, JobRunnable, JobStarting, JobRunning,
	JobCancelling, JobCancelled, JobTimeout, JobCompleted, JobFailed, JobError}

// JobStateIsFinal reports whether a run in state will never change again.
func JobStateIsFinal(state string) bool {
	switch state {
	case JobCancelled, JobTimeout, JobCompleted, JobFailed, JobError:
		return true
	}
	return false
}

// JobStateIsCancellable reports whether a job in state may be cancelled:
// queued or running. A cancelling job is already on its way out.
func JobStateIsCancellable(state string) bool {
	switch state {
	case JobSubmitted, JobPending, JobRunnable, JobStarting, JobRunning:
		return true
	}
	return false
}

// JobNotCancellable is the ECONFLICT error for cancelling a job in state.
func JobNotCancellable(id, state string) error {
	return Errorf(ECONFLICT, "job %s is %s: only queued or running jobs can be cancelled", id, state)
}

// ValidateJobState checks a state named by a client or a caller.
func ValidateJobState(field, state string) error {
	if !slices.Contains(JobStates, state) {
		return Errorf(EINVALID, "%s: %q is not a job state: use one of %s", field, state, strings.Join(JobStates, ", "))
	}
	return nil
}
