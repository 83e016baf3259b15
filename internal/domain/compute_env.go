package domain

import (
	"math"
	"strings"
	"time"
	"unicode"
)

// Compute environment kinds, as they appear in the API and the database.
const (
	ComputeEnvCloud      = "cloud"
	ComputeEnvSelfHosted = "selfhosted"
)

// MinUsableCPUPct is the least CPU a self-hosted compute environment may
// offer, in percent of one core like a job definition's quota.
const MinUsableCPUPct = 10

// maxInt32 bounds every integer setting: the columns are Postgres integers,
// and a larger number must be a 400, not a database error.
const maxInt32 = math.MaxInt32

// maxCloudFieldLen bounds instance_type and region; provider names are short.
const maxCloudFieldLen = 128

// ComputeEnv is a template for machines: a cloud auth, instance type and
// region, or the self-hosted kind (the user's own machines running the agent).
type ComputeEnv struct {
	// ID is a UUID v7.
	ID string `json:"id"`
	// Name is unique among the project's live compute environments.
	Name string `json:"name"`
	// Kind is ComputeEnvCloud or ComputeEnvSelfHosted.
	Kind string `json:"kind"`
	// CloudAuthID is the provider account machines are created with; nil for self-hosted.
	CloudAuthID *string `json:"cloud_auth_id"`
	// InstanceType is the provider's machine size ("t3.large"); empty for self-hosted.
	InstanceType string `json:"instance_type"`
	// Region is where machines are created ("us-east-1"); empty for self-hosted.
	Region string `json:"region"`
	// UsableCPUPct caps the CPU jobs may use on a self-hosted machine, in
	// percent of one core like a job's quota (100 = one core, 400 = four;
	// at least 10); nil means the whole machine.
	UsableCPUPct *int `json:"usable_cpu_pct"`
	// UsableMemoryMB caps the memory of a self-hosted machine that jobs may
	// use; nil means all of it.
	UsableMemoryMB *int `json:"usable_memory_mb"`
	// InstanceVCPU, InstanceMemoryMB and HourlyPrice are the instance type's
	// size and price as the provider reported them when the environment was
	// created (placement's best fit reads them); nil for self-hosted.
	InstanceVCPU     *int     `json:"instance_vcpu"`
	InstanceMemoryMB *int     `json:"instance_memory_mb"`
	HourlyPrice      *float64 `json:"hourly_price"`
	// Enabled environments can be spawned on; only disabled ones can be deleted.
	Enabled bool `json:"enabled"`
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ComputeEnvInput is the body of a create request.
type ComputeEnvInput struct {
	// Name is required.
	Name string `json:"name"`
	// Kind is "cloud" (the default when empty) or "selfhosted".
	Kind string `json:"kind"`
	// CloudAuthID, InstanceType and Region are required for the cloud kind and
	// refused for the self-hosted one.
	CloudAuthID  string `json:"cloud_auth_id"`
	InstanceType string `json:"instance_type"`
	Region       string `json:"region"`
	// UsableCPUPct and UsableMemoryMB are optional and only for the self-hosted kind.
	UsableCPUPct   *int `json:"usable_cpu_pct"`
	UsableMemoryMB *int `json:"usable_memory_mb"`
	// Enabled defaults to true: a new environment is meant to be used.
	Enabled *bool `json:"enabled"`
	// Size is the instance type's size and price, looked up at the provider
	// by the caller before the store is called (so no provider call happens
	// inside a database transaction). Required for the cloud kind, refused
	// for the self-hosted one; never read from the request body.
	Size *InstanceSize `json:"-"`
}

// InstanceSize is what a cloud compute environment's instance type offers.
type InstanceSize struct {
	// VCPU is the number of virtual CPUs.
	VCPU int
	// MemoryMB is the memory in mebibytes.
	MemoryMB int
	// HourlyPrice is the on-demand price in US dollars per hour, 0 when the
	// provider does not say.
	HourlyPrice float64
}

// ResolvedKind is the kind the input asks for, with the default applied.
func (in ComputeEnvInput) ResolvedKind() string {
	if in.Kind == "" {
		return ComputeEnvCloud
	}
	return in.Kind
}

// Validate checks every rule that needs no database; the store checks that
// the cloud auth exists in the project.
func (in ComputeEnvInput) Validate() error {
	if err := ValidateName("compute environment", in.Name); err != nil {
		return err
	}
	switch in.ResolvedKind() {
	case ComputeEnvCloud:
		if in.CloudAuthID == "" {
			return Errorf(EINVALID, "cloud_auth_id: is required for a cloud compute environment (or set kind to %q for your own machines)", ComputeEnvSelfHosted)
		}
		if err := ValidateCloudField("instance_type", in.InstanceType, "t3.large or s-2vcpu-4gb"); err != nil {
			return err
		}
		if err := ValidateCloudField("region", in.Region, "us-east-1 or fra1"); err != nil {
			return err
		}
		if in.UsableCPUPct != nil {
			return Errorf(EINVALID, "usable_cpu_pct: only a selfhosted compute environment takes it; a cloud machine is sized by its instance_type")
		}
		if in.UsableMemoryMB != nil {
			return Errorf(EINVALID, "usable_memory_mb: only a selfhosted compute environment takes it; a cloud machine is sized by its instance_type")
		}
	case ComputeEnvSelfHosted:
		for _, f := range []struct{ name, v string }{{"cloud_auth_id", in.CloudAuthID}, {"instance_type", in.InstanceType}, {"region", in.Region}} {
			if f.v != "" {
				return Errorf(EINVALID, "%s: a selfhosted compute environment runs on your own machines and takes no %s; leave it out", f.name, f.name)
			}
		}
		if in.UsableCPUPct != nil && (*in.UsableCPUPct < MinUsableCPUPct || *in.UsableCPUPct > maxInt32) {
			return Errorf(EINVALID, "usable_cpu_pct: %d is out of range: use at least %d (percent of one CPU core: 100 is one core, 400 four; leave it out for the whole machine)",
				*in.UsableCPUPct, MinUsableCPUPct)
		}
		if in.UsableMemoryMB != nil {
			if err := CheckRange("usable_memory_mb", *in.UsableMemoryMB, 1, maxInt32); err != nil {
				return err
			}
		}
	default:
		return Errorf(EINVALID, "kind: %q is not a compute environment kind: use %q (the default) or %q", in.Kind, ComputeEnvCloud, ComputeEnvSelfHosted)
	}
	return nil
}

// ValidateCloudField checks instance_type and region: required, short, and
// free of whitespace, because they are passed verbatim to the provider.
func ValidateCloudField(field, v, example string) error {
	if v == "" {
		return Errorf(EINVALID, "%s: is required for a cloud compute environment (e.g. %s)", field, example)
	}
	if len(v) > maxCloudFieldLen {
		return Errorf(EINVALID, "%s: is %d characters long; the limit is %d", field, len(v), maxCloudFieldLen)
	}
	if strings.IndexFunc(v, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return Errorf(EINVALID, "%s: %q must not contain spaces or control characters", field, v)
	}
	return nil
}

// ComputeEnvPatch is the body of an update: only the name and the enabled
// state of a compute environment can change, because spawns already created
// from it must keep matching what it says.
type ComputeEnvPatch struct {
	// Name renames the environment when set.
	Name *string `json:"name"`
	// Enabled enables or disables the environment when set.
	Enabled *bool `json:"enabled"`
}

// Validate checks the patch's values.
func (p ComputeEnvPatch) Validate() error {
	if p.Name != nil {
		return ValidateName("compute environment", *p.Name)
	}
	return nil
}

// IsEmpty reports whether the patch changes nothing.
func (p ComputeEnvPatch) IsEmpty() bool { return p.Name == nil && p.Enabled == nil }

// CheckRange returns the EINVALID error "<field>: <v> is out of range lo-hi"
// when v is outside [lo, hi].
func CheckRange(field string, v, lo, hi int) error {
	if v < lo || v > hi {
		return Errorf(EINVALID, "%s: %d is out of range %d-%d", field, v, lo, hi)
	}
	return nil
}

// FrozenField is the error for a PATCH that tries to change a field fixed at
// creation; what names the resource ("compute environment").
func FrozenField(field, what string) error {
	return Errorf(EINVALID, "%s cannot be changed: create a new %s", field, what)
}

// CloudRegion is a region of a cloud auth's provider, as the API shows it.
type CloudRegion struct {
	// ID is what compute environments take as region, e.g. "nyc3".
	ID string `json:"id"`
	// Name is the provider's human-readable name, e.g. "New York 3".
	Name string `json:"name"`
}

// CloudInstanceType is an instance type of a region, as the API shows it.
type CloudInstanceType struct {
	// ID is what compute environments take as instance_type, e.g. "s-2vcpu-4gb".
	ID string `json:"id"`
	// VCPU is the number of virtual CPUs.
	VCPU int `json:"vcpu"`
	// MemoryMB is the memory in mebibytes.
	MemoryMB int `json:"memory_mb"`
	// HourlyPrice is the on-demand price in US dollars per hour; 0 when the
	// provider does not report prices.
	HourlyPrice float64 `json:"hourly_price"`
}
