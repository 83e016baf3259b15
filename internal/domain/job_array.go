package domain

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// Bounds of an array job's size.
const (
	MinArraySize = 2
	MaxArraySize = 10000
)

// Dependency types of array jobs.
const (
	// DependencyNToN makes child i of an array job wait for child i of
	// another array job of the same size (to complete).
	DependencyNToN = "N_TO_N"
	// DependencySequential makes child i wait for child i-1 of the same
	// array job (to complete); it names no job.
	DependencySequential = "SEQUENTIAL"
)

// ArrayChildID is the row ID of child index of the array job parentID: a
// UUID v5 of the two, so "<parent>:<index>" maps to it without a lookup.
func ArrayChildID(parentID string, index int) string {
	return uuid.NewSHA1(uuid.MustParse(parentID), []byte(strconv.Itoa(index))).String()
}

// ArrayChildRef is how the API names child index of parentID.
func ArrayChildRef(parentID string, index int) string {
	return parentID + ":" + strconv.Itoa(index)
}

// ResolveJobID maps a job ID as the API takes it — a UUID, or
// "<array job ID>:<index>" for an array job's child — to the job's row ID.
// ok is false for anything else (which no job has).
func ResolveJobID(id string) (string, bool) {
	if uuid.Validate(id) == nil {
		return id, true
	}
	parent, idx, found := strings.Cut(id, ":")
	if !found || uuid.Validate(parent) != nil {
		return "", false
	}
	i, err := strconv.Atoi(idx)
	if err != nil || i < 0 || i >= MaxArraySize || strconv.Itoa(i) != idx {
		return "", false
	}
	return ArrayChildID(parent, i), true
}

// ArrayProperties describe an array job, as the parent shows them.
type ArrayProperties struct {
	// Size is the number of children (2-10,000), indexes 0 to size-1.
	Size int `json:"size"`
	// StatusSummary counts the children by state (every state present, zeros included).
	StatusSummary map[JobState]int `json:"status_summary"`
}

// ArrayChild says which array job a child belongs to.
type ArrayChild struct {
	// ParentID is the array job.
	ParentID string `json:"parent_id"`
	// Index is the child's index (DAESTRO_JOB_ARRAY_INDEX), Size the array's.
	Index int `json:"index"`
	Size  int `json:"size"`
}

// ArrayState is an array job's state from its children's counts: running
// once any child has started (until every child ended), completed when all
// completed, cancelled when it was cancelled, failed otherwise; pending
// before any child started.
func ArrayState(counts map[JobState]int, size int, cancelRequested bool) JobState {
	final, started := 0, 0
	for s, n := range counts {
		if s.IsFinal() {
			final += n
		}
		switch s {
		case JobStarting, JobRunning, JobCancelling:
			started += n
		}
	}
	switch {
	case final == size && counts[JobCompleted] == size:
		return JobCompleted
	case final == size && cancelRequested:
		return JobCancelled
	case final == size:
		return JobFailed
	case cancelRequested:
		return JobCancelling
	case started > 0 || final > 0:
		return JobRunning
	default:
		return JobPending
	}
}

// MarshalJSON writes a job with the ID the API names it by: an array
// child's is "<parent>:<index>".
func (j Job) MarshalJSON() ([]byte, error) {
	type plain Job
	out := struct {
		plain
		ID string `json:"id"`
	}{plain: plain(j), ID: j.PublicID()}
	return json.Marshal(out)
}

// PublicID is the ID the API names the job by.
func (j Job) PublicID() string {
	if j.ArrayChild != nil {
		return ArrayChildRef(j.ArrayChild.ParentID, j.ArrayChild.Index)
	}
	return j.ID
}

// MarshalJSON writes the detail flat, as its embedded Job's MarshalJSON
// would otherwise hide the runs and events.
func (d JobDetail) MarshalJSON() ([]byte, error) {
	type plainJob Job
	out := struct {
		plainJob
		ID     string     `json:"id"`
		Runs   []JobRun   `json:"runs"`
		Events []JobEvent `json:"events"`
	}{plainJob: plainJob(d.Job), ID: d.PublicID(), Runs: d.Runs, Events: d.Events}
	return json.Marshal(out)
}

// Sequential says the array job's children run one after the other.
func (r SubmitJob) Sequential() bool {
	for _, d := range r.DependsOn {
		if d.Type == DependencySequential {
			return true
		}
	}
	return false
}
