package domain

import (
	"time"
)

// Job is one run request: a definition version in a queue, with the job's
// own overrides. Its state mirrors its current run.
type Job struct {
	// ID is a UUID v7; the JobWorkflow's ID is "job/<ID>".
	ID string `json:"id"`
	// Name is unique within the queue.
	Name string `json:"name"`
	// State is one of JobStates: the current run's.
	State JobState `json:"state"`
	// SystemNote is daestro's sentence about the current run ("exceeded execution timeout of 30s"); "" for none.
	SystemNote string `json:"system_note"`
	// ScheduleAt is when the job may start; nil for as soon as possible.
	ScheduleAt *time.Time `json:"schedule_at"`
	// JobQueue is the queue the job runs in (a deleted one keeps its name).
	JobQueue JobQueueRef `json:"job_queue"`
	// JobDefinition is the version the job runs.
	JobDefinition JobDefinitionRef `json:"job_definition"`
	// Command is the effective command, placeholders filled.
	Command []string `json:"command"`
	// Parameters are the job's own parameter overrides as submitted.
	Parameters map[string]string `json:"parameters"`
	// Env are the job's own env overrides; JSON leaves sensitive values out.
	Env Env `json:"env"`
	// CronJobID is the cron job that submitted the job; nil for a submission through the API.
	CronJobID *string `json:"cron_job_id"`
	// CurrentRunID is the run the state mirrors: the latest submission or resubmission.
	CurrentRunID string `json:"current_run_id"`
	// Attempt counts the current run from 1.
	Attempt int `json:"attempt"`
	// RunnableAt is when the job last became runnable: its place in the queue after priority.
	RunnableAt *time.Time `json:"runnable_at"`
	// Pending says why a runnable job is not running yet, or why a pending
	// one waits for its next attempt; nil otherwise.
	Pending *PendingReason `json:"pending"`
	// RetryStrategy is the strategy that applies to the job: its own, else
	// its definition's, else the default.
	RetryStrategy RetryStrategy `json:"retry_strategy"`
	// DependsOn are the jobs this one waits for; never nil.
	DependsOn []JobDependency `json:"depends_on"`
	// ArrayProperties is an array job's size and its children's states; nil otherwise.
	ArrayProperties *ArrayProperties `json:"array_properties,omitempty"`
	// ArrayChild names the array job of a child; nil otherwise.
	ArrayChild *ArrayChild `json:"array_child,omitempty"`
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// JobDefinitionRef names a job definition version inside another resource.
type JobDefinitionRef struct {
	// ID is the version's ID.
	ID string `json:"id"`
	// Name and Version make its reference "name:version".
	Name    string `json:"name"`
	Version int    `json:"version"`
}

// PendingReason says why a runnable job waits: a code and a sentence.
type PendingReason struct {
	// Reason is a short code, e.g. "no_capacity"; "queued" until placement has looked at the job.
	Reason string `json:"reason"`
	// Detail is a sentence for people.
	Detail string `json:"detail"`
}

// PendingQueued is what a runnable job shows before placement has
// recorded why it waits.
var PendingQueued = PendingReason{Reason: "queued", Detail: "waiting for the dispatcher to place it"}

// JobRun is one run of a job: the submission or one resubmission.
type JobRun struct {
	// ID is a UUID v7; agents, logs and metrics refer to runs.
	ID string `json:"id"`
	// Attempt counts the job's runs from 1.
	Attempt int `json:"attempt"`
	// State is one of JobStates.
	State JobState `json:"state"`
	// ComputeSpawnID is the spawn the run was placed on; nil before placement.
	ComputeSpawnID *string `json:"compute_spawn_id"`
	// ImageDigest identifies the exact image that ran; "" before the pull.
	ImageDigest string `json:"image_digest"`
	// ExitCode is the container's exit status; nil until it exits.
	ExitCode *int `json:"exit_code"`
	// OOMKilled is the kernel's report that the container hit its memory limit.
	OOMKilled bool `json:"oom_killed"`
	// Reason is how a run that did not complete ended, as retry rules
	// match it: oom, timeout, interrupted or error; "" otherwise.
	Reason string `json:"reason"`
	// SystemNote is daestro's sentence about how the run went.
	SystemNote string `json:"system_note"`
	// CreatedAt is when the run was submitted; StartedAt and FinishedAt are
	// the container's, nil until then.
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	// LogsPurgedAt is when the project's retention deleted the run's logs
	// and metrics; nil while they are kept.
	LogsPurgedAt *time.Time `json:"logs_purged_at"`
}

// JobEvent is one state change of a job.
type JobEvent struct {
	// State is the state entered.
	State JobState `json:"state"`
	// Reason says why, in words a user understands.
	Reason string `json:"reason"`
	// RunID is the run that changed; nil for an event of the job itself.
	RunID *string `json:"run_id"`
	// At is when the state was entered.
	At time.Time `json:"at"`
}

// JobDetail is a job with its runs (oldest first) and its state history.
type JobDetail struct {
	Job
	// Runs are every run of the job, by attempt.
	Runs []JobRun `json:"runs"`
	// Events are every state change, oldest first.
	Events []JobEvent `json:"events"`
}

// JobFilter narrows a job list; zero fields do not filter.
type JobFilter struct {
	// JobQueueID keeps the jobs of one queue.
	JobQueueID string
	// States keeps jobs in any of these states.
	States []JobState
	// DefinitionName keeps jobs of any version of a definition, or of one
	// version when DefinitionVersion > 0.
	DefinitionName    string
	DefinitionVersion int
	// CreatedAfter and CreatedBefore bound the creation time (exclusive).
	CreatedAfter, CreatedBefore *time.Time
	// NamePrefix keeps jobs whose name starts with it.
	NamePrefix string
	// ArrayJobID lists that array job's children instead of the top-level
	// jobs (a list never mixes them).
	ArrayJobID string
}

// ValidJobNamePrefix reports whether p can start a job name (the list filter's name_prefix).
func ValidJobNamePrefix(p string) bool { return len(p) <= MaxJobNameLen && nameRE.MatchString(p) }

// JobRunFacts are the scheduling facts of a run: what JobWorkflow needs to
// know of it (read by an activity, so they are in its history), no secrets.
type JobRunFacts struct {
	JobID, ProjectID, QueueID, QueueName string
	ScheduleAt                           *time.Time
	TimeoutSeconds                       int
	CPUQuotaPct, MemoryMB                int
	// Attempt counts the job's runs from 1; RetryStrategy is the one that
	// applies (Effective).
	Attempt       int
	RetryStrategy RetryStrategy
	// Dependencies counts the jobs it waits for.
	Dependencies int
}

// RunSpec is everything an agent needs to run one run of a job. It holds
// decrypted env values: it travels only from the store to the agent, over
// the agent's authenticated HTTP endpoint, never through Temporal.
type RunSpec struct {
	// RunID and Attempt name the run; JobID and JobName its job.
	RunID   string `json:"run_id"`
	Attempt int    `json:"attempt"`
	JobID   string `json:"job_id"`
	JobName string `json:"job_name"`
	// ProjectID is the job's project (the registry auth belongs to it).
	ProjectID string `json:"project_id"`
	// State is the run's state now: an agent must not start a finished run.
	State JobState `json:"state"`
	// ComputeSpawnID is the spawn the run was placed on; nil before placement.
	// The server hands a spec only to that spawn's agent.
	ComputeSpawnID *string `json:"compute_spawn_id"`
	// JobQueueID and JobQueueName are the queue (DAESTRO_JOB_QUEUE_NAME).
	JobQueueID   string `json:"job_queue_id"`
	JobQueueName string `json:"job_queue_name"`
	// Type is JobDefinitionDocker or JobDefinitionBash.
	Type string `json:"type"`
	// Image is the image to run; for bash, the bash image of the definition.
	Image string `json:"image"`
	// RegistryAuthID pulls a private image; nil for an anonymous pull.
	RegistryAuthID *string `json:"registry_auth_id"`
	// Script is a bash definition's script; "" for docker.
	Script string `json:"script"`
	// Command is the job's effective command (placeholders filled); empty keeps the image's.
	Command []string `json:"command"`
	// Env is the definition's env with the job's overrides, as sorted
	// KEY=value pairs, sensitive values included.
	Env []string `json:"env"`
	// CPUQuotaPct and MemoryMB are the quotas; nil means the run takes a whole spawn.
	CPUQuotaPct *int `json:"cpu_quota_pct"`
	MemoryMB    *int `json:"memory_mb"`
	// Privileged runs the container privileged.
	Privileged bool `json:"privileged"`
	// TimeoutSeconds stops the run after this long; 0 means no timeout.
	TimeoutSeconds int `json:"timeout_seconds"`
	// ArrayChild places a child of an array job (DAESTRO_JOB_ARRAY_INDEX
	// and _SIZE); nil otherwise.
	ArrayChild *ArrayChild `json:"array_child,omitempty"`
}
