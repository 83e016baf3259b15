package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"
)

// Job definition types: what a definition runs.
const (
	// JobDefinitionDocker runs a container image with a command.
	JobDefinitionDocker = "docker"
	// JobDefinitionBash runs a script in the server's bash image.
	JobDefinitionBash = "bash"
)

// MinCPUQuotaPct is the smallest CPU quota a definition may ask for: less
// than a tenth of a core is not enough to start most containers.
const MinCPUQuotaPct = 10

// EnvReservedPrefix starts the variables daestro injects into every job
// (DAESTRO_JOB_ID, …); definitions cannot set or shadow them.
const EnvReservedPrefix = "DAESTRO_"

// EnvVar is one environment variable of a job definition.
type EnvVar struct {
	// Value is never empty in a stored definition: empty values are dropped.
	Value string `json:"value,omitempty"`
	// Sensitive values are write-only: they reach the job but no response.
	Sensitive bool `json:"sensitive"`
}

// Env is a definition's environment by variable name. It holds sensitive
// values in memory (the agent needs them), so its JSON form leaves them out:
// no response can leak one by accident. The store seals the plain map.
type Env map[string]EnvVar

// MarshalJSON writes the environment with sensitive values left out.
func (e Env) MarshalJSON() ([]byte, error) {
	out := make(map[string]EnvVar, len(e))
	for k, v := range e {
		if v.Sensitive {
			v.Value = ""
		}
		out[k] = v
	}
	return json.Marshal(out)
}

// JobDefinition is one immutable revision of what a job runs: name:version.
// "Editing" a definition adds a revision; jobs keep pointing at the one they
// were submitted with.
type JobDefinition struct {
	// ID is a UUID v7; each version has its own.
	ID string `json:"id"`
	// Name is shared by all versions and unique within the project.
	Name string `json:"name"`
	// Version counts from 1; numbers of deleted versions are never reused.
	Version int `json:"version"`
	// Type is JobDefinitionDocker or JobDefinitionBash.
	Type string `json:"type"`
	// Image is the container image; for bash, the server's bash image at the time the version was made.
	Image string `json:"image"`
	// RegistryAuthID pulls a private image; nil when none.
	RegistryAuthID *string `json:"registry_auth_id"`
	// Script is what bash runs; "" for docker.
	Script string `json:"script"`
	// Command is the container command; elements may hold Param::name placeholders.
	Command []string `json:"command"`
	// Parameters are default values for the placeholders.
	Parameters map[string]string `json:"parameters"`
	// Env is the job's environment; JSON shows sensitive entries without their value.
	Env Env `json:"env"`
	// CPUQuotaPct (percent of one core) and MemoryMB are both set or both nil;
	// nil means the job takes a whole compute spawn.
	CPUQuotaPct *int `json:"cpu_quota_pct"`
	MemoryMB    *int `json:"memory_mb"`
	// Privileged runs the container privileged.
	Privileged bool `json:"privileged"`
	// TimeoutSeconds stops a run after this long; 0 means no timeout.
	TimeoutSeconds int `json:"timeout_seconds"`
	// RetryStrategy says when a run that did not complete is tried again;
	// nil means DefaultRetryStrategy (an interrupted run once more).
	RetryStrategy *RetryStrategy `json:"retry_strategy"`
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// DeletedAt is set once the version is deleted; jobs may still refer to it.
	DeletedAt *time.Time `json:"-"`
}

// Ref is the definition's reference, "name:version".
func (d JobDefinition) Ref() string { return FormatDefinitionRef(d.Name, d.Version) }

// clone copies d deeply enough that changing the copy leaves d alone.
func (d JobDefinition) clone() JobDefinition {
	c := d
	c.Command = append([]string{}, d.Command...)
	c.Parameters = make(map[string]string, len(d.Parameters))
	for k, v := range d.Parameters {
		c.Parameters[k] = v
	}
	c.Env = make(Env, len(d.Env))
	for k, v := range d.Env {
		c.Env[k] = v
	}
	c.RegistryAuthID = clonePtr(d.RegistryAuthID)
	c.CPUQuotaPct = clonePtr(d.CPUQuotaPct)
	c.MemoryMB = clonePtr(d.MemoryMB)
	c.RetryStrategy = d.RetryStrategy.clone()
	return c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// EnvVarInput is one environment entry of a request. Value is a pointer
// because a revision treats a missing value differently from an empty one.
type EnvVarInput struct {
	// Value nil or "" removes the variable, except as Sensitive says.
	Value *string `json:"value"`
	// Sensitive marks the value write-only. In a revision, a sensitive entry
	// without a value keeps the inherited value: it is never shown, so
	// clients cannot send it back.
	Sensitive bool `json:"sensitive"`
}

// JobDefinitionInput creates a definition or, without Name, a revision of
// one. In a revision an omitted field (nil) is inherited from the latest
// version, a given one replaces it, and one given as JSON null goes back to
// its default; env is merged per key instead (see EnvVarInput).
type JobDefinitionInput struct {
	// Name is required to create and refused in a revision.
	Name *string `json:"name"`
	// Type is docker or bash.
	Type *string `json:"type"`
	// Image is required for docker and refused for bash.
	Image *string `json:"image"`
	// RegistryAuthID is a registry auth of the same project; "" or null for none.
	RegistryAuthID *string `json:"registry_auth_id"`
	// Script is required for bash and refused for docker.
	Script *string `json:"script"`
	// Command replaces the whole command; nil means omitted.
	Command []string `json:"command"`
	// Parameters replaces all default parameter values; nil means omitted.
	Parameters map[string]string `json:"parameters"`
	// Env is merged into the inherited environment key by key.
	Env map[string]EnvVarInput `json:"env"`
	// CPUQuotaPct and MemoryMB are set together or not at all.
	CPUQuotaPct *int `json:"cpu_quota_pct"`
	MemoryMB    *int `json:"memory_mb"`
	// Privileged runs the container privileged.
	Privileged *bool `json:"privileged"`
	// TimeoutSeconds is 0 for no timeout.
	TimeoutSeconds *int `json:"timeout_seconds"`
	// RetryStrategy replaces the whole strategy; null goes back to the default.
	RetryStrategy *RetryStrategy `json:"retry_strategy"`
	// Null lists the JSON fields sent as null, which Go decoding cannot tell
	// from omitted ones: a revision resets them instead of inheriting.
	Null []string `json:"-"`
}

// UnmarshalJSON records the fields sent as null. It decodes strictly itself
// because a custom unmarshaler does not inherit the caller's
// DisallowUnknownFields.
func (in *JobDefinitionInput) UnmarshalJSON(b []byte) error {
	type plain JobDefinitionInput
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p plain
	if err := dec.Decode(&p); err != nil {
		return err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	for k, v := range raw {
		if string(bytes.TrimSpace(v)) == "null" {
			p.Null = append(p.Null, k)
		}
	}
	*in = JobDefinitionInput(p)
	return nil
}

// given reports whether the request set field, to a value or to null.
// Field names match case-insensitively, as encoding/json matches them.
func (in JobDefinitionInput) given(field string, set bool) bool {
	if set {
		return true
	}
	for _, n := range in.Null {
		if strings.EqualFold(n, field) {
			return true
		}
	}
	return false
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// Build returns the definition in describes, checked against every rule that
// needs no database (the registry auth's existence is the store's). base is
// nil for a new definition, else the latest version a revision inherits from.
// bashImage is the image bash definitions run in. ID, Version and the
// timestamps are left for the store.
func (in JobDefinitionInput) Build(base *JobDefinition, bashImage string) (JobDefinition, error) {
	var d JobDefinition
	if base == nil {
		if err := ValidateName("job definition", deref(in.Name)); err != nil {
			return d, err
		}
		d.Name = *in.Name
	} else {
		if in.given("name", in.Name != nil) {
			return d, Errorf(EINVALID, "name: a revision keeps its definition's name ('%s'): leave name out, or create a new definition with POST /v1/job-definitions", base.Name)
		}
		d = base.clone()
		d.ID, d.Version, d.CreatedAt, d.UpdatedAt, d.DeletedAt = "", 0, time.Time{}, time.Time{}, nil
	}

	if in.given("type", in.Type != nil) {
		d.Type = deref(in.Type)
	}
	switch d.Type {
	case JobDefinitionDocker, JobDefinitionBash:
	case "":
		return d, Errorf(EINVALID, "type: required: docker (runs an image) or bash (runs a script)")
	default:
		return d, Errorf(EINVALID, "type: %q is not a job definition type: use docker or bash", d.Type)
	}
	if base != nil && d.Type != base.Type {
		// What belonged to the old type means nothing to the new one.
		d.Image, d.RegistryAuthID, d.Script = "", nil, ""
	}
	if in.given("image", in.Image != nil) {
		d.Image = deref(in.Image)
	}
	if in.given("registry_auth_id", in.RegistryAuthID != nil) {
		d.RegistryAuthID = nil
		if id := deref(in.RegistryAuthID); id != "" {
			d.RegistryAuthID = &id
		}
	}
	if in.given("script", in.Script != nil) {
		d.Script = deref(in.Script)
	}
	switch d.Type {
	case JobDefinitionDocker:
		if d.Image == "" {
			return d, Errorf(EINVALID, "image: required for docker job definitions, e.g. python:3.12 or ghcr.io/acme/etl:1.4")
		}
		if _, err := reference.ParseNormalizedNamed(d.Image); err != nil {
			return d, Errorf(EINVALID, "image: %q is not an image reference like python:3.12 or ghcr.io/acme/etl:1.4 (%v)", d.Image, err)
		}
		if d.Script != "" {
			return d, Errorf(EINVALID, "script: only bash job definitions have a script; a docker one runs its image with command")
		}
	case JobDefinitionBash:
		if deref(in.Image) != "" {
			return d, Errorf(EINVALID, "image: bash job definitions run in the server's image (%s): leave image out, or use type docker to choose one", bashImage)
		}
		d.Image = bashImage
		if d.RegistryAuthID != nil {
			return d, Errorf(EINVALID, "registry_auth_id: only docker job definitions pull with a registry auth; bash ones run the server's image")
		}
		if strings.TrimSpace(d.Script) == "" {
			return d, Errorf(EINVALID, "script: required for bash job definitions")
		}
	}

	if in.given("command", in.Command != nil) {
		d.Command = append([]string{}, in.Command...)
	}
	if in.given("parameters", in.Parameters != nil) {
		d.Parameters = make(map[string]string, len(in.Parameters))
		for k, v := range in.Parameters {
			if !paramNameRE.MatchString(k) {
				return d, Errorf(EINVALID, "parameters: %q is not a parameter name: use letters, digits and _, as Param::name placeholders do", k)
			}
			d.Parameters[k] = v
		}
	}
	if in.given("env", false) {
		d.Env = Env{}
	}
	env, err := mergeEnv(d.Env, in.Env)
	if err != nil {
		return d, err
	}
	d.Env = env

	if in.given("cpu_quota_pct", in.CPUQuotaPct != nil) {
		d.CPUQuotaPct = clonePtr(in.CPUQuotaPct)
	}
	if in.given("memory_mb", in.MemoryMB != nil) {
		d.MemoryMB = clonePtr(in.MemoryMB)
	}
	if (d.CPUQuotaPct == nil) != (d.MemoryMB == nil) {
		return d, Errorf(EINVALID, "cpu_quota_pct and memory_mb go together: set both or neither")
	}
	if d.CPUQuotaPct != nil {
		if *d.CPUQuotaPct < MinCPUQuotaPct || *d.CPUQuotaPct > math.MaxInt32 {
			return d, Errorf(EINVALID, "cpu_quota_pct: %d is out of range: use at least %d (percent of one CPU core: 100 is one core)", *d.CPUQuotaPct, MinCPUQuotaPct)
		}
		if *d.MemoryMB < 1 || *d.MemoryMB > math.MaxInt32 {
			return d, Errorf(EINVALID, "memory_mb: %d is out of range: must be more than 0 (megabytes)", *d.MemoryMB)
		}
	}
	if in.given("privileged", in.Privileged != nil) {
		d.Privileged = deref(in.Privileged)
	}
	if in.given("timeout_seconds", in.TimeoutSeconds != nil) {
		d.TimeoutSeconds = deref(in.TimeoutSeconds)
	}
	if d.TimeoutSeconds < 0 || d.TimeoutSeconds > math.MaxInt32 {
		return d, Errorf(EINVALID, "timeout_seconds: %d is out of range: use 0 for no timeout or a number of seconds up to %d", d.TimeoutSeconds, math.MaxInt32)
	}
	if in.given("retry_strategy", in.RetryStrategy != nil) {
		d.RetryStrategy = in.RetryStrategy.clone()
	}
	if d.RetryStrategy != nil {
		if err := d.RetryStrategy.Validate("retry_strategy"); err != nil {
			return d, err
		}
	}

	if d.Command == nil {
		d.Command = []string{}
	}
	if d.Parameters == nil {
		d.Parameters = map[string]string{}
	}
	return d, nil
}

// mergeEnv applies given entries to base and returns the result: a value
// replaces, an empty or missing value removes, and a value-less sensitive
// entry keeps base's value (now sensitive). A new definition has a nil base,
// so its empty entries are simply dropped.
func mergeEnv(base Env, given map[string]EnvVarInput) (Env, error) {
	out := make(Env, len(base)+len(given))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range given {
		if err := ValidateEnvKey(k); err != nil {
			return nil, err
		}
		switch {
		case deref(v.Value) != "":
			out[k] = EnvVar{Value: *v.Value, Sensitive: v.Sensitive}
		case v.Value == nil && v.Sensitive && out[k].Value != "":
			out[k] = EnvVar{Value: out[k].Value, Sensitive: true}
		default:
			delete(out, k)
		}
	}
	return out, nil
}

var (
	envKeyRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	paramNameRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	paramRefRE  = regexp.MustCompile(`Param::([A-Za-z0-9_]+)`)
	versionRE   = regexp.MustCompile(`^[1-9][0-9]*$`)
)

// ValidateEnvKey checks an environment variable name: a shell-safe
// identifier that does not start with the prefix reserved for daestro's own.
func ValidateEnvKey(key string) error {
	if !envKeyRE.MatchString(key) {
		return Errorf(EINVALID, "env: %q is not a variable name: use letters, digits and _, not starting with a digit", key)
	}
	if strings.HasPrefix(key, EnvReservedPrefix) {
		return Errorf(EINVALID, "env: %q starts with %s, which is reserved for the variables daestro sets in every job", key, EnvReservedPrefix)
	}
	return nil
}

// CommandParams returns the names of the Param::name placeholders in command,
// each once, in order of first use.
func CommandParams(command []string) []string {
	var names []string
	seen := map[string]bool{}
	for _, arg := range command {
		for _, m := range paramRefRE.FindAllStringSubmatch(arg, -1) {
			if !seen[m[1]] {
				seen[m[1]] = true
				names = append(names, m[1])
			}
		}
	}
	return names
}

// ParseDefinitionRef splits a job definition reference: "name" (version 0,
// meaning the latest active version) or "name:version".
func ParseDefinitionRef(ref string) (name string, version int, err error) {
	name, v, hasVersion := strings.Cut(ref, ":")
	if !nameRE.MatchString(name) {
		return "", 0, Errorf(EINVALID, "job definition reference %q: the name must be 1-128 letters, digits and dashes, optionally followed by :version (e.g. etl or etl:3)", ref)
	}
	if !hasVersion {
		return name, 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if !versionRE.MatchString(v) || err != nil {
		return "", 0, Errorf(EINVALID, "job definition reference %q: the version must be a whole number from 1, e.g. %s:3", ref, name)
	}
	return name, int(n), nil
}

// FormatDefinitionRef is the inverse of ParseDefinitionRef.
func FormatDefinitionRef(name string, version int) string {
	if version == 0 {
		return name
	}
	return fmt.Sprintf("%s:%d", name, version)
}
