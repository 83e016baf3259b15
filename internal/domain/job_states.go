package domain

import (
	"slices"
	"strings"
)

// JobState is a job's (or a run's) state, as it appears in the API and the
// database. After the submission JobWorkflow is the only writer (through the
// store's SetJobRunState); the API writes a state only for a job whose
// workflow is gone.
type JobState string

// The job states.
const (
	// JobSubmitted: accepted; its workflow has started.
	JobSubmitted JobState = "submitted"
	// JobPending: waiting for its schedule_at.
	JobPending JobState = "pending"
	// JobRunnable: waiting in its queue for capacity.
	JobRunnable JobState = "runnable"
	// JobStarting: placed on a compute spawn; the image is being pulled and the container created.
	JobStarting JobState = "starting"
	// JobRunning: its container runs.
	JobRunning JobState = "running"
	// JobCancelling: cancel was asked for; the container is being stopped.
	JobCancelling JobState = "cancelling"
	// JobCancelled: stopped on request; final.
	JobCancelled JobState = "cancelled"
	// JobTimeout: stopped at the definition's execution timeout; final.
	JobTimeout JobState = "timeout"
	// JobCompleted: the container exited 0; final.
	JobCompleted JobState = "completed"
	// JobFailed: the container exited non-zero (or was OOM-killed); final.
	JobFailed JobState = "failed"
	// JobError: daestro could not run it (image pull, invalid spec); final.
	JobError JobState = "error"
)

// JobStates lists every state in lifecycle order, as Daestro documents them.
var JobStates = []JobState{JobSubmitted, JobPending, JobRunnable, JobStarting, JobRunning,
	JobCancelling, JobCancelled, JobTimeout, JobCompleted, JobFailed, JobError}

// IsFinal reports whether a run in state will never change again.
func (state JobState) IsFinal() bool {
	switch state {
	case JobCancelled, JobTimeout, JobCompleted, JobFailed, JobError:
		return true
	}
	return false
}

// IsCancellable reports whether a job in state may be cancelled:
// queued or running. A cancelling job is already on its way out.
func (state JobState) IsCancellable() bool {
	switch state {
	case JobSubmitted, JobPending, JobRunnable, JobStarting, JobRunning:
		return true
	}
	return false
}

// JobNotCancellable is the ECONFLICT error for cancelling a job in state.
func JobNotCancellable(id string, state JobState) error {
	return Errorf(ECONFLICT, "job %s is %s: only queued or running jobs can be cancelled", id, state)
}

// ValidateJobState checks a state named by a client or a caller.
func ValidateJobState(field string, state JobState) error {
	if !slices.Contains(JobStates, state) {
		names := make([]string, len(JobStates))
		for i, s := range JobStates {
			names[i] = string(s)
		}
		return Errorf(EINVALID, "%s: %q is not a job state: use one of %s", field, state, strings.Join(names, ", "))
	}
	return nil
}
