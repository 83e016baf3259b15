package domain

import (
	"fmt"
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
	// JobID is a job of the same project ("<id>:<index>" for an array
	// job's child); "" for SEQUENTIAL, which names none.
	JobID string `json:"job_id,omitempty"`
	// Type is success (the default) or completion; for array jobs also
	// N_TO_N or SEQUENTIAL.
	Type string `json:"type"`
}

// normalizeDependencies checks a submission's depends_on (existence is the
// store's) and fills in the default type. array says the submission is an
// array job, the only kind N_TO_N and SEQUENTIAL apply to.
func normalizeDependencies(in []JobDependency, array bool) ([]JobDependency, error) {
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
		if d.Type == DependencySequential {
			switch {
			case !array:
				return nil, Errorf(EINVALID, "%s.type: SEQUENTIAL applies to array jobs (child i waits for child i-1): set array_size, or use success or completion", at)
			case d.JobID != "":
				return nil, Errorf(EINVALID, "%s.job_id: a SEQUENTIAL dependency names no job (child i waits for child i-1 of this array job): leave job_id out", at)
			case seen[DependencySequential]:
				return nil, Errorf(EINVALID, "%s.type: SEQUENTIAL is listed twice", at)
			}
			seen[DependencySequential] = true
			out = append(out, d)
			continue
		}
		id, ok := ResolveJobID(d.JobID)
		if !ok {
			return nil, Errorf(EINVALID, "%s.job_id: %q is not a job ID", at, d.JobID)
		}
		if seen[id] {
			return nil, Errorf(EINVALID, "%s.job_id: job %s is listed twice", at, d.JobID)
		}
		seen[id] = true
		switch d.Type {
		case "":
			d.Type = DependencySuccess
		case DependencySuccess, DependencyCompletion:
		case DependencyNToN:
			if !array {
				return nil, Errorf(EINVALID, "%s.type: N_TO_N applies to array jobs (child i waits for child i of the other array job): set array_size, or use success or completion", at)
			}
		default:
			return nil, Errorf(EINVALID, "%s.type: %q is not a dependency type: use success (the default) or completion, or for array jobs N_TO_N or SEQUENTIAL", at, d.Type)
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
		case d.Type == DependencyNToN:
			// The array job's children wait for their counterparts one by one.
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
