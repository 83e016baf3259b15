package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
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

// MaxJobNameLen bounds job names, as it bounds every other name.
const MaxJobNameLen = 128

// ProjectRefSeparator separates the project code from a name in the client
// API's references ("acme::etl").
const ProjectRefSeparator = "::"

// SubmitJobInput is the body of a job submission, Daestro's client API
// shape; the management API takes the same body. Fields are as the client
// sent them until Normalize has checked them.
type SubmitJobInput struct {
	// JobDefinition is "project_code::name[:version]"; the management API
	// also takes "name[:version]". No version means the latest active one.
	JobDefinition string `json:"job_definition"`
	// JobQueue is "project_code::queue" (the management API also takes "queue").
	JobQueue string `json:"job_queue"`
	// Name is unique within the queue; a random readable one when empty.
	Name string `json:"name"`
	// ContainerCmd replaces the definition's command when given (even as []).
	ContainerCmd []string `json:"container_cmd"`
	// ContainerCmdParameter overrides the definition's default parameters by name.
	ContainerCmdParameter map[string]string `json:"container_cmd_parameter"`
	// ContainerEnv overrides the definition's environment by key; an empty
	// value removes the definition's variable for this job.
	ContainerEnv map[string]EnvVarInput `json:"container_env"`
	// ScheduleAt is an RFC 3339 string or unix seconds (a JSON number), kept
	// raw because the two forms cannot share a Go type; see ParseScheduleAt.
	ScheduleAt json.RawMessage `json:"schedule_at"`
}

// SubmitJob is a submission after Normalize: references resolved to plain
// names within the caller's project, every field checked. The store takes it.
type SubmitJob struct {
	// DefinitionName and DefinitionVersion (0 = latest active) name the job definition.
	DefinitionName    string
	DefinitionVersion int
	// QueueName names a live job queue of the project.
	QueueName string
	// Name is the job's name; "" asks the store for a random one.
	Name string
	// Command replaces the definition's command when non-nil.
	Command []string
	// Parameters override the definition's defaults; never nil.
	Parameters map[string]string
	// Env are the job's own overrides; an entry with an empty value removes
	// the definition's variable. Never nil.
	Env Env
	// ScheduleAt delays the job; nil runs it as soon as it can.
	ScheduleAt *time.Time
	// Via says how the job came, for the reason of its first event
	// ("client API", "API", "cron job 'nightly'"); "API" when empty.
	Via string
	// CronJobID is the cron job submitting the job; nil for the API.
	CronJobID *string
}

// DefinitionRef is the definition reference the request resolves, "name" or "name:version".
func (r SubmitJob) DefinitionRef() string {
	return FormatDefinitionRef(r.DefinitionName, r.DefinitionVersion)
}

// Normalize checks every rule of a submission that needs no database and
// returns the request the store runs. projectCode is the caller's project:
// a reference naming another project is refused without saying whether that
// project exists. requirePrefix is true on the client API, whose documented
// references always carry the project code.
func (in SubmitJobInput) Normalize(projectCode string, requirePrefix bool) (SubmitJob, error) {
	var r SubmitJob
	defRef, err := StripProjectCode("job_definition", in.JobDefinition, projectCode, requirePrefix, "nightly-etl:3")
	if err != nil {
		return r, err
	}
	if r.DefinitionName, r.DefinitionVersion, err = ParseDefinitionRef(defRef); err != nil {
		return r, Errorf(EINVALID, "job_definition: %s", ErrorMessage(err))
	}
	if r.QueueName, err = StripProjectCode("job_queue", in.JobQueue, projectCode, requirePrefix, "etl"); err != nil {
		return r, err
	}
	if !nameRE.MatchString(r.QueueName) {
		return r, Errorf(EINVALID, "job_queue: %q is not a job queue name: use 1-128 letters, digits and dashes", r.QueueName)
	}
	if err := ValidateJobName(in.Name); err != nil {
		return r, err
	}
	r.Name = in.Name
	if in.ContainerCmd != nil {
		r.Command = make([]string, len(in.ContainerCmd))
		for i, arg := range in.ContainerCmd {
			if strings.ContainsRune(arg, 0) {
				return r, Errorf(EINVALID, "container_cmd: element %d contains a NUL character, which no command line can hold", i)
			}
			r.Command[i] = arg
		}
	}
	r.Parameters = make(map[string]string, len(in.ContainerCmdParameter))
	for k, v := range in.ContainerCmdParameter {
		if !paramNameRE.MatchString(k) {
			return r, Errorf(EINVALID, "container_cmd_parameter: %q is not a parameter name: use letters, digits and _, as Param::name placeholders do", k)
		}
		if strings.ContainsRune(v, 0) {
			return r, Errorf(EINVALID, "container_cmd_parameter: the value of %q contains a NUL character, which no command line can hold", k)
		}
		r.Parameters[k] = v
	}
	r.Env = make(Env, len(in.ContainerEnv))
	for k, v := range in.ContainerEnv {
		if err := ValidateEnvKey(k); err != nil {
			// The same rule as a definition's env, named after this field.
			return r, Errorf(EINVALID, "container_env: %s", strings.TrimPrefix(ErrorMessage(err), "env: "))
		}
		val := deref(v.Value)
		if strings.ContainsRune(val, 0) {
			return r, Errorf(EINVALID, "container_env: the value of %q contains a NUL character, which no environment variable can hold", k)
		}
		r.Env[k] = EnvVar{Value: val, Sensitive: v.Sensitive}
	}
	if r.ScheduleAt, err = ParseScheduleAt(in.ScheduleAt); err != nil {
		return r, err
	}
	return r, nil
}

// StripProjectCode returns the name part of a reference "code::name" after
// checking that code is the caller's project. Without a code the reference
// is taken as is, unless requirePrefix. example is a name for the message.
func StripProjectCode(field, ref, projectCode string, requirePrefix bool, example string) (string, error) {
	code, name, found := strings.Cut(ref, ProjectRefSeparator)
	if !found {
		if ref == "" {
			return "", Errorf(EINVALID, "%s: is required, e.g. %s%s%s", field, projectCode, ProjectRefSeparator, example)
		}
		if requirePrefix {
			return "", Errorf(EINVALID, "%s: %q must start with the project code, e.g. %s%s%s", field, ref, projectCode, ProjectRefSeparator, ref)
		}
		return ref, nil
	}
	if code != projectCode {
		// The same answer whether that project exists or not.
		return "", Errorf(EINVALID, "%s: project code '%s' is not the project of this API key ('%s'): use %s%s%s",
			field, code, projectCode, projectCode, ProjectRefSeparator, name)
	}
	if name == "" {
		return "", Errorf(EINVALID, "%s: %q names no %s after the project code, e.g. %s%s%s", field, ref, strings.ReplaceAll(field, "_", " "), projectCode, ProjectRefSeparator, example)
	}
	return name, nil
}

// ValidateJobName checks an optional job name: empty (a random name is
// given) or 1-128 letters, digits and dashes.
func ValidateJobName(name string) error {
	if name != "" && !nameRE.MatchString(name) {
		return Errorf(EINVALID, "name: %q is not a valid job name: use 1-%d characters of letters, digits and dashes, or leave it out for a random one", name, MaxJobNameLen)
	}
	return nil
}

// Bounds of schedule_at: Postgres and RFC 3339 both end at year 9999, and a
// time before 1970 is a client bug, not a schedule.
var (
	minScheduleAt = time.Unix(0, 0).UTC()
	maxScheduleAt = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

// ParseScheduleAt reads schedule_at as Daestro documents it: an RFC 3339
// string ("2025-05-17T06:37:00.000Z") or unix seconds as a JSON number
// (1747463820; fractions are kept, since JavaScript's Date.now()/1000 has
// them). Absent, null and "" mean "not scheduled" (nil). A time in the past
// is accepted: the job runs as soon as it can.
func ParseScheduleAt(raw json.RawMessage) (*time.Time, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	bad := func(why string) error {
		return Errorf(EINVALID, "schedule_at: %s: use an RFC 3339 time like \"2025-05-17T06:37:00Z\" or unix seconds like 1747463820", why)
	}
	var t time.Time
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, bad("is not a valid JSON string")
		}
		if s == "" {
			return nil, nil
		}
		parsed, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, bad(fmt.Sprintf("%q is not an RFC 3339 time", s))
		}
		t = parsed
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return nil, bad(fmt.Sprintf("%s is not a number of seconds", raw))
		}
		if i, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
			if i < minScheduleAt.Unix() || i > maxScheduleAt.Unix() {
				return nil, bad(fmt.Sprintf("%s is outside 1970 to 9999", raw))
			}
			t = time.Unix(i, 0)
			break
		}
		f, err := n.Float64()
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, bad(fmt.Sprintf("%s is not a number of seconds", raw))
		}
		if f < float64(minScheduleAt.Unix()) || f > float64(maxScheduleAt.Unix()) {
			return nil, bad(fmt.Sprintf("%s is outside 1970 to 9999", raw))
		}
		sec, frac := math.Modf(f)
		t = time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3)
	default:
		return nil, bad(fmt.Sprintf("%s is neither a string nor a number", raw))
	}
	t = t.UTC()
	if t.Before(minScheduleAt) || t.After(maxScheduleAt) {
		return nil, bad(fmt.Sprintf("%s is outside 1970 to 9999", t.Format(time.RFC3339)))
	}
	// Postgres keeps microseconds: truncate here so what is stored is what was answered.
	t = t.Truncate(time.Microsecond)
	return &t, nil
}

// SubstituteParams returns command with every Param::name replaced by
// values[name], in one pass: a value that itself contains "Param::x" is
// inserted as is, never expanded again. A placeholder without a value is an
// EINVALID error naming the first one, in order of use.
func SubstituteParams(command []string, values map[string]string) ([]string, error) {
	for _, name := range CommandParams(command) {
		if _, ok := values[name]; !ok {
			return nil, Errorf(EINVALID, "container_cmd: Param::%s has no value: pass it in container_cmd_parameter or give the definition a default", name)
		}
	}
	out := make([]string, len(command))
	for i, arg := range command {
		out[i] = paramRefRE.ReplaceAllStringFunc(arg, func(m string) string {
			return values[strings.TrimPrefix(m, "Param::")]
		})
	}
	return out, nil
}

// EffectiveCommand is what a job runs: its own command if it gave one, else
// the definition's, with placeholders filled from the job's parameters over
// the definition's defaults.
func EffectiveCommand(def JobDefinition, r SubmitJob) ([]string, error) {
	command := def.Command
	if r.Command != nil {
		if def.Type == JobDefinitionBash && len(r.Command) > 0 {
			return nil, Errorf(EINVALID, "container_cmd: job definition '%s' runs a bash script, which has no command to replace: leave container_cmd out", def.Ref())
		}
		command = r.Command
	}
	values := make(map[string]string, len(def.Parameters)+len(r.Parameters))
	for k, v := range def.Parameters {
		values[k] = v
	}
	for k, v := range r.Parameters {
		values[k] = v
	}
	return SubstituteParams(command, values)
}

// MergeEnv is the environment a job's container gets: the definition's,
// with the job's overrides applied by key (an empty override removes the
// variable), as KEY=value pairs sorted by key so a spec is stable.
func MergeEnv(def, overrides Env) []string {
	merged := make(map[string]string, len(def)+len(overrides))
	for k, v := range def {
		merged[k] = v.Value
	}
	for k, v := range overrides {
		if v.Value == "" {
			delete(merged, k)
			continue
		}
		merged[k] = v.Value
	}
	keys := make([]string, 0, len(merged))
	for k := range merged {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + "=" + merged[k]
	}
	return out
}

// Words of random job names: short, harmless and easy to say aloud, so a
// name can be read out over a call.
var (
	nameAdjectives = []string{"amber", "bold", "brave", "brisk", "calm", "clever", "cosmic", "crisp", "daring", "eager",
		"early", "fancy", "fast", "fierce", "gentle", "giant", "glad", "golden", "grand", "happy", "hidden", "humble",
		"jolly", "keen", "kind", "lively", "lucky", "mellow", "merry", "mighty", "misty", "noble", "polite", "proud",
		"quick", "quiet", "rapid", "rare", "ruby", "rustic", "shiny", "silent", "silver", "sly", "smart", "snowy",
		"solid", "steady", "sunny", "swift", "tidy", "tiny", "vivid", "warm", "wild", "wise", "witty", "young", "zesty"}
	nameAnimals = []string{"badger", "bear", "beaver", "bison", "crane", "crow", "deer", "dolphin", "eagle", "falcon",
		"ferret", "finch", "fox", "gecko", "heron", "ibis", "jaguar", "koala", "lemur", "lion", "llama", "lynx", "marten",
		"mole", "moose", "newt", "orca", "otter", "owl", "panda", "parrot", "pelican", "penguin", "puffin", "quail",
		"rabbit", "raven", "robin", "salmon", "seal", "shark", "sloth", "sparrow", "squid", "stork", "swan", "tapir",
		"tiger", "toucan", "trout", "turtle", "viper", "walrus", "weasel", "whale", "wolf", "wombat", "yak", "zebra"}
)

// RandomJobName returns a readable name like "brave-otter-4821" for a job
// submitted without one. It is random, not unique: the store retries on the
// rare clash within a queue.
func RandomJobName() string {
	return fmt.Sprintf("%s-%s-%04d", nameAdjectives[rand.IntN(len(nameAdjectives))],
		nameAnimals[rand.IntN(len(nameAnimals))], 1000+rand.IntN(9000))
}

// Job is one run request: a definition version in a queue, with the job's
// own overrides. Its state mirrors its current run.
type Job struct {
	// ID is a UUID v7; the JobWorkflow's ID is "job/<ID>".
	ID string `json:"id"`
	// Name is unique within the queue.
	Name string `json:"name"`
	// State is one of JobStates: the current run's.
	State string `json:"state"`
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
	// Pending says why a runnable job is not running yet; nil unless runnable.
	Pending *PendingReason `json:"pending"`
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
	State string `json:"state"`
	// ComputeSpawnID is the spawn the run was placed on; nil before placement.
	ComputeSpawnID *string `json:"compute_spawn_id"`
	// ImageDigest identifies the exact image that ran; "" before the pull.
	ImageDigest string `json:"image_digest"`
	// ExitCode is the container's exit status; nil until it exits.
	ExitCode *int `json:"exit_code"`
	// OOMKilled is the kernel's report that the container hit its memory limit.
	OOMKilled bool `json:"oom_killed"`
	// SystemNote is daestro's sentence about how the run went.
	SystemNote string `json:"system_note"`
	// CreatedAt is when the run was submitted; StartedAt and FinishedAt are
	// the container's, nil until then.
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
}

// JobEvent is one state change of a job.
type JobEvent struct {
	// State is the state entered.
	State string `json:"state"`
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
	States []string
	// DefinitionName keeps jobs of any version of a definition, or of one
	// version when DefinitionVersion > 0.
	DefinitionName    string
	DefinitionVersion int
	// CreatedAfter and CreatedBefore bound the creation time (exclusive).
	CreatedAfter, CreatedBefore *time.Time
	// NamePrefix keeps jobs whose name starts with it.
	NamePrefix string
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
	State string `json:"state"`
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
}
