package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

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
	// RetryStrategy overrides the definition's for this job; optional.
	RetryStrategy *RetryStrategy `json:"retry_strategy"`
	// DependsOn are jobs of the project this one waits for; optional.
	DependsOn []JobDependency `json:"depends_on"`
	// ArraySize makes the job an array job of that many children (2-10,000); optional.
	ArraySize *int `json:"array_size"`
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
	// RetryStrategy is the job's own; nil follows its definition's.
	RetryStrategy *RetryStrategy
	// DependsOn are checked but for existence (the store's); nil for none.
	DependsOn []JobDependency
	// ArraySize is an array job's number of children; 0 for a plain job.
	ArraySize int
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
	if in.ArraySize != nil {
		if *in.ArraySize < MinArraySize || *in.ArraySize > MaxArraySize {
			return r, Errorf(EINVALID, "array_size: %d is out of range: an array job has %d to %d children (leave array_size out for a single job)",
				*in.ArraySize, MinArraySize, MaxArraySize)
		}
		r.ArraySize = *in.ArraySize
	}
	if r.DependsOn, err = normalizeDependencies(in.DependsOn, r.ArraySize > 0); err != nil {
		return r, err
	}
	if in.RetryStrategy != nil {
		if err := in.RetryStrategy.Validate("retry_strategy"); err != nil {
			return r, err
		}
		r.RetryStrategy = in.RetryStrategy.clone()
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
