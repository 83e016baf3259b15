package domain

import (
	"fmt"

	"github.com/google/uuid"
)

// Dependency types: when a job that depends on another may run.
const (
	// DependencySuccess waits for the other job to complete; if it ends
	// any other way, the dependent job is cancelled.
	DependencySuccess = "success"
	// DependencyCompletion waits for the other job to end, however it ends.
	DependencyCompletion = "completion"
)

// PendingDependency is the pending reason of a job waiting for another; its
// stored detail is that job's ID (the sentence is made when read, with the
// other job's state then).
const PendingDependency = "dependency"

// MaxDependencies bounds a job's depends_on.
const MaxDependencies = 20

// JobDependency is one job another waits for.
type JobDependency struct {
	// JobID is a job of the same project.
	JobID string `json:"job_id"`
	// Type is success (the default) or completion.
	Type string `json:"type"`
}

// normalizeDependencies checks a submission's depends_on (existence is the
// store's) and fills in the default type.
func normalizeDependencies(in []JobDependency) ([]JobDependency, error) {
	if len(in) == 0 {
		return nil, nil
	}
	if len(in) > MaxDependencies {
		return nil, Errorf(EINVALID, "depends_on: %d jobs are too many: a job waits for at most %d", len(in), MaxDependencies)
	}
	out := make([]JobDependency, 0, len(in))
	seen := map[string]bool{}
	for i, d := range in {
		at := fmt.Sprintf("depends_on[%d]", i)
		if uuid.Validate(d.JobID) != nil {
			return nil, Errorf(EINVALID, "%s.job_id: %q is not a job ID", at, d.JobID)
		}
		if seen[d.JobID] {
			return nil, Errorf(EINVALID, "%s.job_id: job %s is listed twice", at, d.JobID)
		}
		seen[d.JobID] = true
		switch d.Type {
		case "":
			d.Type = DependencySuccess
		case DependencySuccess, DependencyCompletion:
		case "N_TO_N", "SEQUENTIAL":
			return nil, Errorf(EINVALID, "%s.type: %s applies to array jobs, which daestro does not run yet: use success or completion", at, d.Type)
		default:
			return nil, Errorf(EINVALID, "%s.type: %q is not a dependency type: use success (the default) or completion", at, d.Type)
		}
		out = append(out, d)
	}
	return out, nil
}

// DependencyState is a dependency as a waiting job sees it.
type DependencyState struct {
	JobDependency
	// Name and State are the other job's now.
	Name  string   `json:"name"`
	State JobState `json:"state"`
}

// DependencyVerdict is what a job's dependencies say now: run, wait for
// one, or give up because one ended the wrong way.
type DependencyVerdict struct {
	// Wait is the first dependency not finished yet; nil when none.
	Wait *DependencyState
	// Failed is the first success dependency that ended otherwise; nil when none.
	Failed *DependencyState
}

// JudgeDependencies decides from the dependencies' states.
func JudgeDependencies(deps []DependencyState) DependencyVerdict {
	var v DependencyVerdict
	for i := range deps {
		d := &deps[i]
		switch {
		case !d.State.IsFinal():
			if v.Wait == nil {
				v.Wait = d
			}
		case d.Type == DependencySuccess && d.State != JobCompleted:
			if v.Failed == nil {
				v.Failed = d
			}
		}
	}
	return v
}

// WaitSentence is the pending reason of a job waiting for d.
func (d DependencyState) WaitSentence() string {
	return fmt.Sprintf("waiting for job %s (%s)", d.JobID, d.State)
}

// FailedNote is the note of a job cancelled because of d.
func (d DependencyState) FailedNote() string {
	if d.State == JobCancelled {
		return fmt.Sprintf("dependency %s was cancelled", d.JobID)
	}
	return fmt.Sprintf("dependency %s %s", d.JobID, map[JobState]string{JobFailed: "failed", JobTimeout: "timed out", JobError: "failed (error)"}[d.State])
}
