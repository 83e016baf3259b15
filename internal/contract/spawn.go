package contract

import (
	"time"

	"go.temporal.io/sdk/client"
)

// SpawnWorkflowName is the registered name of workflows.SpawnWorkflow.
const SpawnWorkflowName = "SpawnWorkflow"

// SpawnWorkflowID returns the workflow ID of the spawn with the given ID.
func SpawnWorkflowID(spawnID string) string { return "spawn/" + spawnID }

// Signals and queries of SpawnWorkflow.
const (
	// SignalSpawnPing (PingSignal) tells the workflow the agent pinged. The
	// API sends it only when the workflow waits for one: the first ping of an
	// initialized spawn, or a ping of an unreachable one. Every other ping
	// only lands in Postgres.
	SignalSpawnPing = "spawn-ping"
	// SignalAllocationsChanged (AllocationsChangedSignal) carries how many
	// runs are allocated to the spawn now; it moves the spawn between idle and busy.
	SignalAllocationsChanged = "allocations-changed"
	// SignalTerminateSpawn (TerminateSignal) asks the workflow to terminate the spawn.
	SignalTerminateSpawn = "terminate"
	// QuerySpawnStatus answers the workflow's SpawnStatus.
	QuerySpawnStatus = "status"
)

// SpawnWorkflowInput is the input of SpawnWorkflow. It carries IDs only:
// the agent token never enters a Temporal payload.
type SpawnWorkflowInput struct {
	// SpawnID is the spawn whose lifecycle this is.
	SpawnID string
	// ProjectID is the spawn's project (a search attribute).
	ProjectID string
	// Kind is domain.SpawnKindSelfHosted or domain.SpawnKindCloud.
	Kind string
	// UnreachableAfter is how long without a ping makes the spawn unreachable;
	// workflows.DefaultUnreachableAfter when zero. Tests shorten it.
	UnreachableAfter time.Duration
	// BootTimeout is how long a cloud machine may take from create to the
	// agent's first ping; workflows.DefaultBootTimeout when zero.
	BootTimeout time.Duration
	// MinIdle is the least time an idle cloud spawn is kept, even when its
	// queue's max idle time is shorter, so the dispatcher can place the
	// jobs it was created for; workflows.DefaultMinIdle when zero.
	MinIdle time.Duration
	// State and Allocations carry the lifecycle across continue-as-new; a
	// fresh spawn starts with State empty (initialized, or requested for a
	// cloud spawn) and no allocations.
	State       string
	Allocations int
	// MachineCreated and MaxIdleSeconds carry a cloud spawn's machine
	// across continue-as-new: created once, idle limit read then.
	MachineCreated bool
	MaxIdleSeconds int
}

// PingSignal is the payload of SignalSpawnPing.
type PingSignal struct {
	// AgentVersion is the version the pinging agent reported.
	AgentVersion string
}

// AllocationsChangedSignal is the payload of SignalAllocationsChanged.
type AllocationsChangedSignal struct {
	// Count is the number of runs allocated to the spawn now (not a delta, so
	// a repeated or reordered signal cannot skew it).
	Count int
}

// TerminateSignal is the payload of SignalTerminateSpawn.
type TerminateSignal struct {
	// Reason is recorded with the terminating event ("terminate requested via API").
	Reason string
}

// SpawnStartOptions start a spawn's workflow on queue (the control task
// queue; tests use their own).
func SpawnStartOptions(spawnID, queue string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{ID: SpawnWorkflowID(spawnID), TaskQueue: queue}
}
