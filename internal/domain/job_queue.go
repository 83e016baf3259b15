package domain

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/ssh"
)

// Bounds of a job queue's priority; lower runs first.
const (
	MinQueuePriority = 1
	MaxQueuePriority = 1000
)

// MaxDescriptionLen bounds descriptions, in characters.
const MaxDescriptionLen = 1024

// JobQueue is where jobs wait: its priority orders it against the project's
// other queues, its limits bound the machines and jobs it uses, and its
// compute environments say where its machines come from.
type JobQueue struct {
	// ID is a UUID v7.
	ID string `json:"id"`
	// Name is unique among the project's live queues; clients submit to "project_code::name".
	Name string `json:"name"`
	// Description is free text for people.
	Description string `json:"description"`
	// Priority is 1-1000; jobs of a lower number run first.
	Priority int `json:"priority"`
	// MaxConcurrency caps the queue's jobs running at once; 0 means no limit.
	MaxConcurrency int `json:"max_concurrency"`
	// MaxSpawns caps the queue's live compute spawns; 0 means no limit.
	MaxSpawns int `json:"max_spawns"`
	// MaxIdleSeconds is how long a spawn may sit without work before it is
	// terminated; 0 terminates it as soon as it falls idle.
	MaxIdleSeconds int `json:"max_idle_seconds"`
	// SSHPublicKey is installed on the queue's cloud machines; empty for none.
	SSHPublicKey string `json:"ssh_public_key"`
	// Enabled queues accept and run jobs; a queue can be enabled only with a compute environment.
	Enabled bool `json:"enabled"`
	// ComputeEnvs are the environments the queue spawns on, in the order they were added.
	ComputeEnvs []ComputeEnvRef `json:"compute_envs" db:"-"`
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ComputeEnvRef names a compute environment inside another resource.
type ComputeEnvRef struct {
	// ID is the compute environment's ID.
	ID string `json:"id"`
	// Name is its current name.
	Name string `json:"name"`
}

// JobQueueInput is the body of a create request. The numeric limits default
// to 0: no limit for max_concurrency and max_spawns, terminate at once for
// max_idle_seconds.
type JobQueueInput struct {
	// Name is required.
	Name string `json:"name"`
	// Description is optional.
	Description string `json:"description"`
	// Priority is required: there is no neutral value to guess.
	Priority *int `json:"priority"`
	// MaxConcurrency, MaxSpawns and MaxIdleSeconds are >= 0.
	MaxConcurrency int `json:"max_concurrency"`
	MaxSpawns      int `json:"max_spawns"`
	MaxIdleSeconds int `json:"max_idle_seconds"`
	// SSHPublicKey is one OpenSSH authorized_keys line without options, or
	// empty; surrounding whitespace is dropped.
	SSHPublicKey string `json:"ssh_public_key"`
	// Enabled is accepted only to refuse it with a reason: a new queue has no
	// compute environment yet, so it cannot run anything.
	Enabled *bool `json:"enabled"`
}

// Validate checks every rule of a new queue.
func (in JobQueueInput) Validate() error {
	if err := ValidateName("job queue", in.Name); err != nil {
		return err
	}
	if in.Enabled != nil {
		return Errorf(EINVALID, "enabled: queues are created disabled: add a compute environment, then PATCH enabled=true")
	}
	if in.Priority == nil {
		return Errorf(EINVALID, "priority: is required (%d-%d, lower runs first)", MinQueuePriority, MaxQueuePriority)
	}
	if err := validateQueueSettings(&in.Description, in.Priority, &in.MaxConcurrency, &in.MaxIdleSeconds); err != nil {
		return err
	}
	if err := CheckRange("max_spawns", in.MaxSpawns, 0, maxInt32); err != nil {
		return err
	}
	return ValidateSSHPublicKey(in.SSHPublicKey)
}

// validateQueueSettings checks the settings shared by create and update; nil ones are skipped.
func validateQueueSettings(description *string, priority, maxConcurrency, maxIdleSeconds *int) error {
	if description != nil {
		if err := ValidateDescription(*description); err != nil {
			return err
		}
	}
	if priority != nil {
		if err := CheckRange("priority", *priority, MinQueuePriority, MaxQueuePriority); err != nil {
			return err
		}
	}
	if maxConcurrency != nil {
		if err := CheckRange("max_concurrency", *maxConcurrency, 0, maxInt32); err != nil {
			return err
		}
	}
	if maxIdleSeconds != nil {
		if err := CheckRange("max_idle_seconds", *maxIdleSeconds, 0, maxInt32); err != nil {
			return err
		}
	}
	return nil
}

// ValidateDescription checks a description: at most MaxDescriptionLen
// characters, and no control characters but newlines and tabs (Postgres
// text cannot even hold NUL).
func ValidateDescription(d string) error {
	if n := utf8.RuneCountInString(d); n > MaxDescriptionLen {
		return Errorf(EINVALID, "description: is %d characters long; the limit is %d", n, MaxDescriptionLen)
	}
	if strings.IndexFunc(d, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' }) >= 0 {
		return Errorf(EINVALID, "description: must not contain control characters other than newlines and tabs")
	}
	return nil
}

// ValidateSSHPublicKey checks an optional OpenSSH authorized_keys line
// ("ssh-ed25519 AAAA… comment"). Options and several keys are refused because
// cloud providers import exactly one bare key.
func ValidateSSHPublicKey(key string) error {
	key = strings.TrimSpace(key)
	if key == "" {
		return nil
	}
	_, _, options, rest, err := ssh.ParseAuthorizedKey([]byte(key))
	if err != nil {
		return Errorf(EINVALID, "ssh_public_key: is not an OpenSSH public key line like \"ssh-ed25519 AAAA… you@host\" (%v)", err)
	}
	if len(options) > 0 {
		return Errorf(EINVALID, "ssh_public_key: authorized_keys options (%s) are not allowed: send the bare key", strings.Join(options, ","))
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return Errorf(EINVALID, "ssh_public_key: holds more than one key: send exactly one")
	}
	if strings.ContainsAny(key, "\r\n\x00") {
		return Errorf(EINVALID, "ssh_public_key: must be a single line holding the key and an optional comment")
	}
	return nil
}

// JobQueuePatch is the body of an update. The name, max_spawns and the SSH
// key are fixed at creation: clients submit by name, and spawns already
// running were sized and keyed by the others.
type JobQueuePatch struct {
	// Description replaces the description when set.
	Description *string `json:"description"`
	// Priority, MaxConcurrency and MaxIdleSeconds replace the setting when set.
	Priority       *int `json:"priority"`
	MaxConcurrency *int `json:"max_concurrency"`
	MaxIdleSeconds *int `json:"max_idle_seconds"`
	// Enabled enables (only with a compute environment) or disables the queue when set.
	Enabled *bool `json:"enabled"`
}

// Validate checks the patch's values.
func (p JobQueuePatch) Validate() error {
	return validateQueueSettings(p.Description, p.Priority, p.MaxConcurrency, p.MaxIdleSeconds)
}

// IsEmpty reports whether the patch changes nothing.
func (p JobQueuePatch) IsEmpty() bool {
	return p.Description == nil && p.Priority == nil && p.MaxConcurrency == nil && p.MaxIdleSeconds == nil && p.Enabled == nil
}

// QueueWaiting is why a queue's runnable jobs wait, for the queue's detail:
// how many wait, how many for each reason, and the first few in queue order.
type QueueWaiting struct {
	// Runnable counts the queue's runnable jobs.
	Runnable int `json:"runnable"`
	// Reasons counts them by pending reason ("" = not looked at by the dispatcher yet).
	Reasons map[string]int `json:"reasons"`
	// Jobs are the first runnable jobs in queue order with their reason.
	Jobs []WaitingJob `json:"jobs"`
}

// WaitingJob is one runnable job and why it waits.
type WaitingJob struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Reason string `json:"reason"`
	Detail string `json:"detail"`
}
