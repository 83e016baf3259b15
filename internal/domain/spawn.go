package domain

import (
	"slices"
	"strings"
	"time"
)

// Compute spawn kinds, as they appear in the API and the database.
const (
	SpawnKindCloud      = "cloud"
	SpawnKindSelfHosted = "selfhosted"
)

// Compute spawn states, as they appear in the API and the database.
// SpawnWorkflow is the only writer after creation.
const (
	// SpawnFailed: a cloud machine could not be created; final.
	SpawnFailed = "failed"
	// SpawnInitialized: created, no agent has pinged yet.
	SpawnInitialized = "initialized"
	// SpawnRequested: a cloud machine is being created.
	SpawnRequested = "requested"
	// SpawnIdle: the agent pings and no run is allocated to it.
	SpawnIdle = "idle"
	// SpawnBusy: the agent pings and runs are allocated to it.
	SpawnBusy = "busy"
	// SpawnUnreachable: no ping for the unreachable timeout; back to idle or
	// busy when pings resume.
	SpawnUnreachable = "unreachable"
	// SpawnTerminating: termination was requested; the machine is being released.
	SpawnTerminating = "terminating"
	// SpawnTerminated: done; the agent is told to stop; final.
	SpawnTerminated = "terminated"
	// SpawnTerminationFailed: a cloud machine could not be deleted; terminate may be retried.
	SpawnTerminationFailed = "termination_failed"
)

// SpawnStates lists every state, in the order the API documents them, for
// validation and messages.
var SpawnStates = []string{SpawnFailed, SpawnInitialized, SpawnRequested, SpawnIdle, SpawnBusy,
	SpawnUnreachable, SpawnTerminating, SpawnTerminated, SpawnTerminationFailed}

// SpawnStateIsFinal reports whether a spawn in state will never change
// again. Every other state counts as "active" for the catalog's delete rules.
func SpawnStateIsFinal(state string) bool {
	return state == SpawnFailed || state == SpawnTerminated
}

// SpawnStopsAgent reports whether an agent of a spawn in state must stop
// taking work: termination was requested or is done.
func SpawnStopsAgent(state string) bool {
	switch state {
	case SpawnTerminating, SpawnTerminated, SpawnTerminationFailed, SpawnFailed:
		return true
	}
	return false
}

// AgentAccess is what an agent's request is, for the rule of which tokens it takes.
type AgentAccess struct {
	// Registering takes the one-time bootstrap token (and the credential).
	Registering bool
	// AnswerEnded lets a spawn told to stop through: its pings (which tell
	// it to stop) and its runs' last output.
	AnswerEnded bool
}

// Refusal says why the session may not make a request of kind a (nil when
// it may), for the agent's HTTP routes and its Temporal gateway alike: a
// bootstrap token only registers (EUNAUTHORIZED), and a spawn told to stop
// takes no more work (ECONFLICT).
func (a AgentSession) Refusal(access AgentAccess) error {
	if a.Bootstrap && !access.Registering {
		return Errorf(EUNAUTHORIZED, "agent token %s is a one-time bootstrap token: register first (POST /v1/agent/register) and use the credential it returns", a.TokenPrefix)
	}
	if !access.AnswerEnded && SpawnStopsAgent(a.State) {
		return Errorf(ECONFLICT, "compute spawn %s is %s: create a new spawn and start the agent with its token", a.SpawnID, a.State)
	}
	return nil
}

// ValidateSpawnState checks a state named by a client (a list filter).
func ValidateSpawnState(field, state string) error {
	if !slices.Contains(SpawnStates, state) {
		return Errorf(EINVALID, "%s: %q is not a compute spawn state: use one of %s", field, state, strings.Join(SpawnStates, ", "))
	}
	return nil
}

// ComputeSpawn is one machine running the agent, inside one job queue.
type ComputeSpawn struct {
	// ID is a UUID v7; the agent's task queue is "spawn-<id>".
	ID string `json:"id"`
	// Kind is SpawnKindCloud or SpawnKindSelfHosted.
	Kind string `json:"kind"`
	// State is one of SpawnStates.
	State string `json:"state"`
	// JobQueue is the queue whose jobs run on the spawn.
	JobQueue JobQueueRef `json:"job_queue"`
	// ComputeEnv is the environment the spawn was made from.
	ComputeEnv ComputeEnvRef `json:"compute_env"`
	// Capacity is what the agent offers and how much of it runs are allocated.
	Capacity SpawnCapacity `json:"capacity"`
	// LastPingAt is the agent's last ping; nil before the first.
	LastPingAt *time.Time `json:"last_ping_at"`
	// AgentVersion and Hostname are what the agent reported; empty before it registered.
	AgentVersion string `json:"agent_version"`
	Hostname     string `json:"hostname"`
	// RunningRuns are the IDs of the job runs allocated to the spawn.
	RunningRuns []string `json:"running_runs"`
	// AgentRuns are the runs the agent said it follows, in its last ping:
	// a run allocated here but missing from it has lost its agent.
	AgentRuns []string `json:"agent_runs"`
	// Machine is the cloud machine of a cloud spawn; nil for self-hosted.
	Machine *SpawnMachine `json:"machine"`
	// SystemNote says why the spawn failed or could not be terminated.
	SystemNote string `json:"system_note"`
	// CreatedAt and UpdatedAt are set by the store; StateChangedAt is when
	// State last changed.
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	StateChangedAt time.Time `json:"state_changed_at"`
}

// SpawnMachine is a cloud spawn's machine at its provider.
type SpawnMachine struct {
	// Provider is the cloud provider (aws, digitalocean, linode, vultr, localdocker).
	Provider string `json:"provider"`
	// Region and InstanceType are the machine's, copied from the compute env.
	Region       string `json:"region"`
	InstanceType string `json:"instance_type"`
	// InstanceID is the provider's machine ID; empty until it was created.
	InstanceID string `json:"instance_id"`
	// PublicIPv4 and PublicIPv6 are the machine's addresses, when known.
	PublicIPv4 string `json:"public_ipv4"`
	PublicIPv6 string `json:"public_ipv6"`
}

// JobQueueRef names a job queue inside another resource.
type JobQueueRef struct {
	// ID is the job queue's ID.
	ID string `json:"id"`
	// Name is its current name.
	Name string `json:"name"`
}

// SpawnCapacity is a spawn's capacity in the quota's units: CPU in percent of
// one core (100 = one core), memory in MB.
type SpawnCapacity struct {
	// TotalCPUPct and TotalMemoryMB are what the agent last offered, capped
	// by the compute environment's usable share; 0 before the first ping.
	TotalCPUPct   int `json:"total_cpu_pct"`
	TotalMemoryMB int `json:"total_memory_mb"`
	// AllocatedCPUPct and AllocatedMemoryMB are held by runs placed on the spawn.
	AllocatedCPUPct   int `json:"allocated_cpu_pct"`
	AllocatedMemoryMB int `json:"allocated_memory_mb"`
	// FreeCPUPct and FreeMemoryMB are total minus allocated, never negative.
	FreeCPUPct   int `json:"free_cpu_pct"`
	FreeMemoryMB int `json:"free_memory_mb"`
}

// WithFree returns c with the free fields computed from total and allocated.
func (c SpawnCapacity) WithFree() SpawnCapacity {
	c.FreeCPUPct = max(c.TotalCPUPct-c.AllocatedCPUPct, 0)
	c.FreeMemoryMB = max(c.TotalMemoryMB-c.AllocatedMemoryMB, 0)
	return c
}

// SpawnEvent is one state transition of a spawn.
type SpawnEvent struct {
	// ID is a UUID v7; the list's next_token refers to it.
	ID string `json:"-"`
	// State is the state entered.
	State string `json:"state"`
	// Reason says why, in words a user understands ("no ping for 5m0s").
	Reason string `json:"reason"`
	// At is when the state was entered.
	At time.Time `json:"at"`
}

// ComputeSpawnInput is the body of a create request: a self-hosted spawn of
// one of the queue's compute environments.
type ComputeSpawnInput struct {
	// ComputeEnvID is a selfhosted, enabled compute environment of the queue.
	ComputeEnvID string `json:"compute_env_id"`
	// JobQueueID is the queue whose jobs run on the spawn.
	JobQueueID string `json:"job_queue_id"`
}

// Validate checks that both references are present; the store checks what they refer to.
func (in ComputeSpawnInput) Validate() error {
	if in.JobQueueID == "" {
		return Errorf(EINVALID, "job_queue_id: is required: the id of the job queue whose jobs run on the spawn")
	}
	if in.ComputeEnvID == "" {
		return Errorf(EINVALID, "compute_env_id: is required: the id of a selfhosted compute environment of that job queue")
	}
	return nil
}

// SpawnFilter narrows a list of spawns; empty fields match everything.
type SpawnFilter struct {
	// JobQueueID keeps the spawns of one queue.
	JobQueueID string
	// State keeps the spawns in one state.
	State string
}

// AgentSession is what an authenticated agent token resolves to.
type AgentSession struct {
	// SpawnID is the spawn the token is bound to.
	SpawnID string
	// ProjectID is the spawn's project.
	ProjectID string
	// State is the spawn's current state.
	State string
	// TokenPrefix is the token's visible part, for logs.
	TokenPrefix string
	// UsableCPUPct and UsableMemoryMB are the compute environment's caps.
	UsableCPUPct   *int
	UsableMemoryMB *int
	// TokenID is the presented token's row.
	TokenID string
	// Bootstrap is set for a one-time token that only registration takes.
	Bootstrap bool
	// SpawnKind is SpawnKindCloud or SpawnKindSelfHosted.
	SpawnKind string
	// InstanceVCPU and InstanceMemoryMB are a cloud spawn's instance type
	// size (nil for self-hosted): what its agent may report at most.
	InstanceVCPU     *int
	InstanceMemoryMB *int
}
