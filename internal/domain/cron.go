package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	// The zone database is embedded so that which time zones a cron job
	// accepts never depends on the machine the server runs on.
	_ "time/tzdata"

	"daestro/internal/quartz"
)

// Overlap policies of a cron job: what a trigger does while the job of an
// earlier trigger has not finished. They map one to one to Temporal's
// schedule overlap policies.
const (
	// CronOverlapAllowAll: every trigger submits a job of its own (the default).
	CronOverlapAllowAll = "allow_all"
	// CronOverlapSkip: a trigger while the previous job runs does nothing.
	CronOverlapSkip = "skip"
	// CronOverlapBufferOne: a trigger while the previous job runs waits for
	// it; further triggers meanwhile are dropped.
	CronOverlapBufferOne = "buffer_one"
)

// CronOverlapPolicies lists every overlap policy, the default first.
var CronOverlapPolicies = []string{CronOverlapAllowAll, CronOverlapSkip, CronOverlapBufferOne}

// DefaultCronTimeZone is the zone of a cron job created without one.
const DefaultCronTimeZone = "UTC"

// cronJobNameTime is the layout of the trigger time in a triggered job's
// name: "nightly-20261129T184500Z".
const cronJobNameTime = "20060102T150405Z"

// MaxCronJobNameLen leaves room in MaxJobNameLen for the "-<UTC time>"
// suffix of the jobs a cron job submits.
const MaxCronJobNameLen = MaxJobNameLen - 1 - len(cronJobNameTime)

// MaxCronExpressionLen bounds an expression; real ones are a few dozen characters.
const MaxCronExpressionLen = 512

// CronJobName is the name of the job a cron job's trigger at `at` submits.
func CronJobName(cronName string, at time.Time) string {
	return cronName + "-" + at.UTC().Format(cronJobNameTime)
}

// CronJob is a Quartz expression in a time zone that submits a job of a
// definition to a queue at every trigger, through the Temporal Schedule
// `cron/<ID>`.
type CronJob struct {
	// ID is a UUID v7.
	ID string `json:"id"`
	// Name is unique within the project; triggered jobs are named "<Name>-<UTC time>".
	Name string `json:"name"`
	// Description is free text for people.
	Description string `json:"description"`
	// Expression is the Quartz expression as it was given.
	Expression string `json:"expression"`
	// EffectiveExpression is Expression after the one-minute floor, normalized:
	// what the schedule fires on.
	EffectiveExpression string `json:"effective_expression"`
	// TimeZone is the IANA zone the expression's wall-clock times are in.
	TimeZone string `json:"time_zone"`
	// Overlap is one of CronOverlapPolicies.
	Overlap string `json:"overlap"`
	// Enabled cron jobs trigger; a disabled one's schedule is paused.
	Enabled bool `json:"enabled"`
	// JobDefinition is the definition its jobs run.
	JobDefinition CronJobDefinition `json:"job_definition"`
	// JobQueue is the queue its jobs are submitted to.
	JobQueue JobQueueRef `json:"job_queue"`
	// ContainerCmd replaces the definition's command in every job; nil keeps it.
	ContainerCmd []string `json:"container_cmd"`
	// ContainerCmdParameter overrides the definition's default parameters.
	ContainerCmdParameter map[string]string `json:"container_cmd_parameter"`
	// ContainerEnv overrides the definition's env; JSON leaves sensitive values out.
	ContainerEnv Env `json:"container_env"`
	// LastTriggerAt is the scheduled time of the last trigger, whether it
	// submitted a job or not; nil before the first.
	LastTriggerAt *time.Time `json:"last_trigger_at"`
	// LastJob is the job the last successful trigger submitted, as it stands now.
	LastJob *CronJobLastJob `json:"last_job"`
	// LastError is the system note of the last trigger that could not submit
	// a job ("" when the last trigger did); LastErrorAt is when that was.
	LastError   string     `json:"last_error"`
	LastErrorAt *time.Time `json:"last_error_at"`
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// ProjectID is the cron job's project; triggers carry it to the job.
	ProjectID string `json:"-"`
	// Schedule is the state of the Temporal schedule's calendars.
	Schedule CronScheduleState `json:"-"`
}

// CronJobDefinition is the definition a cron job runs.
type CronJobDefinition struct {
	// Ref is the reference the jobs are submitted with: "name" follows the
	// latest active version at every trigger, "name:version" pins one.
	Ref string `json:"ref"`
	// ID, Name and Version are the version the next trigger runs.
	ID      string `json:"id"`
	Name    string `json:"name"`
	Version int    `json:"version"`
	// Pinned is true when Ref names a version.
	Pinned bool `json:"pinned"`
}

// CronJobLastJob is the job of a cron job's last successful trigger.
type CronJobLastJob struct {
	// ID and Name are the job's.
	ID   string `json:"id"`
	Name string `json:"name"`
	// State is the job's state now.
	State JobState `json:"state"`
	// SystemNote is the job's own note ("exited with code 1").
	SystemNote string `json:"system_note"`
}

// CronScheduleState says how long the calendars of a cron job's Temporal
// schedule are exact.
type CronScheduleState struct {
	// TranslatedAt is when the calendars were built.
	TranslatedAt time.Time
	// RefreshAfter is zero when the calendars are exact forever; otherwise
	// they must be rebuilt before it.
	RefreshAfter time.Time
}

// Longest lead with which calendars are rebuilt before RefreshAfter. A
// shorter window is rebuilt once half of it has passed.
const cronRefreshLead = 7 * 24 * time.Hour

// RefreshAt is when the calendars should be rebuilt; zero when never.
func (st CronScheduleState) RefreshAt() time.Time {
	if st.RefreshAfter.IsZero() {
		return time.Time{}
	}
	lead := min(cronRefreshLead, st.RefreshAfter.Sub(st.TranslatedAt)/2)
	return st.RefreshAfter.Add(-max(lead, 0))
}

// RefreshDue reports whether the calendars should be rebuilt at now.
func (st CronScheduleState) RefreshDue(now time.Time) bool {
	at := st.RefreshAt()
	return !at.IsZero() && !now.Before(at)
}

// CronJobEvent is one thing that happened to a cron job.
type CronJobEvent struct {
	// Kind is created, updated, triggered, trigger_failed or schedule_refreshed.
	Kind string `json:"kind"`
	// Message says what, in words a user understands.
	Message string `json:"message"`
	// JobID is the job a trigger submitted; nil otherwise.
	JobID *string `json:"job_id"`
	// At is when it happened.
	At time.Time `json:"at"`
}

// Kinds of cron job events.
const (
	CronEventCreated           = "created"
	CronEventUpdated           = "updated"
	CronEventTriggered         = "triggered"
	CronEventTriggerFailed     = "trigger_failed"
	CronEventScheduleRefreshed = "schedule_refreshed"
)

// CronJobDetail is a cron job with its latest events, newest first.
type CronJobDetail struct {
	CronJob
	// Events are the latest events, newest first.
	Events []CronJobEvent `json:"events"`
	// ScheduleStatus is what its Temporal schedule reports; nil when
	// Temporal did not answer.
	ScheduleStatus *CronScheduleStatus `json:"schedule_status"`
	// Warnings say why the cron job may not be submitting jobs (a trigger
	// waits for a job that has not finished, triggers were skipped); empty
	// when there is nothing to say.
	Warnings []string `json:"warnings"`
}

// CronScheduleStatus is what Temporal reports of a cron job's schedule:
// the triggers it did not start, which no event of the cron job records
// (they never ran daestro code). Counts are since the schedule was created.
type CronScheduleStatus struct {
	// WaitingTriggers is how many triggers are waiting for their job to
	// finish (overlap skip and buffer_one wait; allow_all does not).
	WaitingTriggers int `json:"waiting_triggers"`
	// OverlapSkipped counts triggers skipped (overlap skip) because an
	// earlier trigger still waited for its job.
	OverlapSkipped int64 `json:"overlap_skipped"`
	// Buffered is how many triggers wait to start (buffer_one) once the
	// earlier one's job finishes; BufferDropped counts those dropped because
	// one was already waiting.
	Buffered      int64 `json:"buffered"`
	BufferDropped int64 `json:"buffer_dropped"`
	// MissedCatchupWindow counts triggers not run because Temporal was
	// unavailable for longer than the catch-up window at their time.
	MissedCatchupWindow int64 `json:"missed_catchup_window"`
}

// Warnings are the sentences that explain a quiet cron job: a trigger that
// waits for an unfinished job (so later ones are skipped or buffered), and
// triggers Temporal did not start. lastJob is the cron job's last job.
func (st CronScheduleStatus) Warnings(overlap string, lastJob *CronJobLastJob, catchup time.Duration) []string {
	w := []string{}
	if st.WaitingTriggers > 0 && overlap != CronOverlapAllowAll {
		job := "its last job"
		if lastJob != nil && !lastJob.State.IsFinal() {
			job = fmt.Sprintf("job %s (now %s)", lastJob.Name, lastJob.State)
		}
		what := fmt.Sprintf("triggers meanwhile are skipped (%d so far)", st.OverlapSkipped)
		if overlap == CronOverlapBufferOne {
			what = fmt.Sprintf("the next trigger waits for it (%d waiting) and later ones are dropped (%d so far)", st.Buffered, st.BufferDropped)
		}
		w = append(w, fmt.Sprintf("overlap: %s: a trigger is waiting for %s to finish, so %s; cancel the job or set overlap to allow_all if it should not hold up the schedule",
			overlap, job, what))
	}
	if st.MissedCatchupWindow > 0 {
		w = append(w, fmt.Sprintf("schedule: %d triggers did not run because Temporal was unavailable for more than %s at their time",
			st.MissedCatchupWindow, catchup))
	}
	return w
}

// CronFireTime is one upcoming trigger of a cron job.
type CronFireTime struct {
	// At is the time in the cron job's zone (RFC 3339 with its offset).
	At time.Time `json:"at"`
	// AtUTC is the same instant in UTC.
	AtUTC time.Time `json:"at_utc"`
}

// CronUpcoming is a cron job's next triggers.
type CronUpcoming struct {
	// TimeZone is the zone of At.
	TimeZone string `json:"time_zone"`
	// Enabled is false when the schedule is paused: these times would fire
	// once it is enabled again.
	Enabled bool `json:"enabled"`
	// Items are the next trigger times, soonest first.
	Items []CronFireTime `json:"items"`
}

// Bounds of the upcoming list.
const (
	DefaultCronUpcoming = 10
	MaxCronUpcoming     = 100
)

// PreviewCronTriggers lists the next count triggers after now of an
// expression in a zone that no cron job holds yet (the console shows them
// while the user types), with the warnings a create would answer. Both are
// checked by the rules and sentences of a cron job's create. The times are
// those of daestro's Quartz evaluator, which the API's upcoming list of a
// saved cron job is bounded by: Temporal computes times only for a schedule
// it holds.
func PreviewCronTriggers(expression, timeZone string, now time.Time, count int) (CronUpcoming, []string, error) {
	sched, err := ParseCronExpression(expression)
	if err != nil {
		return CronUpcoming{}, nil, err
	}
	tz, err := ValidateTimeZone(timeZone)
	if err != nil {
		return CronUpcoming{}, nil, err
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return CronUpcoming{}, nil, err
	}
	out := CronUpcoming{TimeZone: tz, Enabled: true, Items: []CronFireTime{}}
	for _, t := range sched.Upcoming(now.In(loc), min(max(count, 1), MaxCronUpcoming)) {
		out.Items = append(out.Items, CronFireTime{At: t.In(loc), AtUTC: t.UTC()})
	}
	return out, CronJobSpec{Schedule: sched}.Warnings(), nil
}

// CronJobInput is the body of a cron job create. Its job fields are those
// of a job submission (SubmitJobInput) and follow the same rules.
type CronJobInput struct {
	// Name is required: 1-MaxCronJobNameLen letters, digits and dashes.
	Name string `json:"name"`
	// Description is optional.
	Description string `json:"description"`
	// Expression is a Quartz expression, "sec min hour dom month dow [year]".
	Expression string `json:"expression"`
	// JobDefinition is "name" (the latest active version at every trigger)
	// or "name:version", optionally prefixed with "project_code::".
	JobDefinition string `json:"job_definition"`
	// JobQueue is a queue name, optionally prefixed with "project_code::".
	JobQueue string `json:"job_queue"`
	// ContainerCmd, ContainerCmdParameter and ContainerEnv are the overrides
	// of every job it submits, as in a job submission.
	ContainerCmd          []string               `json:"container_cmd"`
	ContainerCmdParameter map[string]string      `json:"container_cmd_parameter"`
	ContainerEnv          map[string]EnvVarInput `json:"container_env"`
	// TimeZone is an IANA zone name; UTC when empty.
	TimeZone string `json:"time_zone"`
	// Overlap is one of CronOverlapPolicies; allow_all when empty.
	Overlap string `json:"overlap"`
	// Enabled defaults to true.
	Enabled *bool `json:"enabled"`
}

// CronJobSpec is a cron job after Normalize: every field checked, the
// expression parsed. The store takes it.
type CronJobSpec struct {
	// Name and Description are checked.
	Name, Description string
	// Expression is the expression as given; Schedule is it parsed.
	Expression string
	Schedule   *quartz.Schedule
	// TimeZone is an IANA zone name, Overlap one of CronOverlapPolicies.
	TimeZone string
	Overlap  string
	// Enabled is true unless the request said false.
	Enabled bool
	// DefinitionName and DefinitionVersion (0 = follow the latest active one) name the definition.
	DefinitionName    string
	DefinitionVersion int
	// QueueName names a live job queue of the project.
	QueueName string
	// Command replaces the definition's command when non-nil.
	Command []string
	// Parameters and Env are the overrides; never nil.
	Parameters map[string]string
	Env        Env
}

// DefinitionRef is the definition reference, "name" or "name:version".
func (s CronJobSpec) DefinitionRef() string {
	return FormatDefinitionRef(s.DefinitionName, s.DefinitionVersion)
}

// Warnings are what a create or update answers besides the cron job: rules
// that changed what the user asked for.
func (s CronJobSpec) Warnings() []string {
	w := []string{}
	if s.Schedule != nil && s.Schedule.Floored() {
		w = append(w, fmt.Sprintf("expression: fires more than once a minute; daestro fires at most once a minute, so only the first second of the seconds field is kept: effective expression is %q", s.Schedule.String()))
	}
	return w
}

// Normalize checks every rule of a cron job that needs no database.
// projectCode is the caller's project, for "code::" references.
func (in CronJobInput) Normalize(projectCode string) (CronJobSpec, error) {
	var s CronJobSpec
	if err := ValidateCronJobName(in.Name); err != nil {
		return s, err
	}
	s.Name = in.Name
	if err := ValidateDescription(in.Description); err != nil {
		return s, err
	}
	s.Description = in.Description
	sched, err := ParseCronExpression(in.Expression)
	if err != nil {
		return s, err
	}
	s.Expression, s.Schedule = in.Expression, sched
	if s.TimeZone, err = ValidateTimeZone(in.TimeZone); err != nil {
		return s, err
	}
	if s.Overlap, err = ValidateCronOverlap(in.Overlap); err != nil {
		return s, err
	}
	s.Enabled = in.Enabled == nil || *in.Enabled
	// The job fields follow the rules of a job submission, by the same code.
	job, err := SubmitJobInput{
		JobDefinition: in.JobDefinition, JobQueue: in.JobQueue, ContainerCmd: in.ContainerCmd,
		ContainerCmdParameter: in.ContainerCmdParameter, ContainerEnv: in.ContainerEnv,
	}.Normalize(projectCode, false)
	if err != nil {
		return s, err
	}
	s.DefinitionName, s.DefinitionVersion, s.QueueName = job.DefinitionName, job.DefinitionVersion, job.QueueName
	s.Command, s.Parameters, s.Env = job.Command, job.Parameters, job.Env
	return s, nil
}

// ValidateCronJobName checks a cron job's name: required, and short enough
// that its jobs' names ("<name>-<UTC time>") fit the job name rule.
func ValidateCronJobName(name string) error {
	if name == "" {
		return Errorf(EINVALID, "name: cron job name is required (1-%d characters of letters, digits and dashes)", MaxCronJobNameLen)
	}
	if len(name) > MaxCronJobNameLen || !nameRE.MatchString(name) {
		return Errorf(EINVALID, "name: %q is not a valid cron job name: use 1-%d characters of letters, digits and dashes (its jobs are named <name>-<UTC time>, e.g. nightly-20261129T184500Z)",
			name, MaxCronJobNameLen)
	}
	return nil
}

// ParseCronExpression parses a Quartz expression; an invalid one is an
// EINVALID error naming the field and the reason.
func ParseCronExpression(expr string) (*quartz.Schedule, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, Errorf(EINVALID, `expression: is required: a Quartz expression "second minute hour day-of-month month day-of-week [year]", e.g. "0 30 2 * * ?" (every day at 02:30)`)
	}
	if len(expr) > MaxCronExpressionLen {
		return nil, Errorf(EINVALID, "expression: is %d characters long; the limit is %d", len(expr), MaxCronExpressionLen)
	}
	s, err := quartz.Parse(expr)
	var pe *quartz.ParseError
	switch {
	case errors.As(err, &pe):
		return nil, Errorf(EINVALID, "expression: %s", pe.Error())
	case err != nil:
		return nil, Errorf(EINVALID, "expression: %v", err)
	}
	return s, nil
}

// ValidateTimeZone checks an IANA zone name and returns it ("" is UTC).
// "Local" is refused: it would mean whatever zone the server runs in.
func ValidateTimeZone(tz string) (string, error) {
	if tz == "" {
		return DefaultCronTimeZone, nil
	}
	if _, err := time.LoadLocation(tz); err != nil || tz == "Local" || strings.ContainsRune(tz, 0) {
		return "", Errorf(EINVALID, "time_zone: %q is not an IANA time zone name: use e.g. UTC, Europe/Berlin or America/New_York", tz)
	}
	return tz, nil
}

// ValidateCronOverlap checks an overlap policy and returns it ("" is allow_all).
func ValidateCronOverlap(o string) (string, error) {
	if o == "" {
		return CronOverlapAllowAll, nil
	}
	if !slices.Contains(CronOverlapPolicies, o) {
		return "", Errorf(EINVALID, "overlap: %q is not an overlap policy: use one of %s", o, strings.Join(CronOverlapPolicies, ", "))
	}
	return o, nil
}

// CronJobPatch is the body of a cron job update. A field left out keeps its
// value. The overrides are replaced as a whole when given: container_cmd
// null goes back to the definition's command, container_cmd_parameter and
// container_env {} remove every override (sensitive values, which are never
// shown, must be sent again to keep them).
type CronJobPatch struct {
	// Name … JobQueue replace the setting when given, with the create's rules.
	Name          *string `json:"name"`
	Description   *string `json:"description"`
	Expression    *string `json:"expression"`
	TimeZone      *string `json:"time_zone"`
	Overlap       *string `json:"overlap"`
	Enabled       *bool   `json:"enabled"`
	JobDefinition *string `json:"job_definition"`
	JobQueue      *string `json:"job_queue"`
	// ContainerCmd is raw so that null (back to the definition's command)
	// differs from leaving it out.
	ContainerCmd json.RawMessage `json:"container_cmd"`
	// ContainerCmdParameter and ContainerEnv replace the overrides when given.
	ContainerCmdParameter map[string]string      `json:"container_cmd_parameter"`
	ContainerEnv          map[string]EnvVarInput `json:"container_env"`
}

// IsEmpty reports whether the patch changes nothing.
func (p CronJobPatch) IsEmpty() bool {
	return p.Name == nil && p.Description == nil && p.Expression == nil && p.TimeZone == nil && p.Overlap == nil &&
		p.Enabled == nil && p.JobDefinition == nil && p.JobQueue == nil && p.ContainerCmd == nil &&
		p.ContainerCmdParameter == nil && p.ContainerEnv == nil
}

// Apply returns the create body of cron job c with the patch's changes,
// for Normalize to check as a whole.
func (p CronJobPatch) Apply(c CronJob) (CronJobInput, error) {
	in := CronJobInput{
		Name: c.Name, Description: c.Description, Expression: c.Expression, JobDefinition: c.JobDefinition.Ref,
		JobQueue: c.JobQueue.Name, ContainerCmd: c.ContainerCmd, ContainerCmdParameter: c.ContainerCmdParameter,
		TimeZone: c.TimeZone, Overlap: c.Overlap, Enabled: &c.Enabled,
	}
	in.ContainerEnv = make(map[string]EnvVarInput, len(c.ContainerEnv))
	for k, v := range c.ContainerEnv {
		in.ContainerEnv[k] = EnvVarInput{Value: &v.Value, Sensitive: v.Sensitive}
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&in.Name, p.Name)
	set(&in.Description, p.Description)
	set(&in.Expression, p.Expression)
	set(&in.TimeZone, p.TimeZone)
	set(&in.Overlap, p.Overlap)
	set(&in.JobDefinition, p.JobDefinition)
	set(&in.JobQueue, p.JobQueue)
	if p.Enabled != nil {
		in.Enabled = p.Enabled
	}
	if p.ContainerCmd != nil {
		var cmd []string
		if err := json.Unmarshal(p.ContainerCmd, &cmd); err != nil {
			return in, Errorf(EINVALID, "container_cmd: must be an array of strings, or null for the definition's command")
		}
		in.ContainerCmd = cmd
	}
	if p.ContainerCmdParameter != nil {
		in.ContainerCmdParameter = p.ContainerCmdParameter
	}
	if p.ContainerEnv != nil {
		in.ContainerEnv = p.ContainerEnv
	}
	return in, nil
}
