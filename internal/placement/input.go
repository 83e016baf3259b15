package placement

import "time"

// Input is the snapshot one dispatcher round hands to Place: everything of one
// project that placement may look at, loaded in one transaction. Place never
// changes it. IDs are unique within their slice, and every number is a
// non-negative value that fits a Postgres integer (the catalog validates
// that), which keeps impact comparisons exact in int64.
type Input struct {
	// Queues are the project's job queues; order does not matter.
	Queues []Queue
	// Spawns are the project's non-final compute spawns (final ones are
	// ignored if passed); order does not matter.
	Spawns []Spawn
	// Jobs are the project's runnable jobs; order does not matter, Place sorts.
	Jobs []Job
}

// Queue is a job queue as placement sees it: its order against other queues,
// its limits and where new spawns may come from.
type Queue struct {
	// ID identifies the queue; jobs and spawns refer to it.
	ID string
	// Name is used in Reason details, where users read it; the ID stands in
	// when it is empty.
	Name string
	// Priority is 1..1000; jobs of a lower number are considered first.
	Priority int
	// MaxConcurrency caps the queue's jobs running or allocated at once
	// (Allocated plus this round's assignments and jobs waiting for a new
	// spawn); 0 means no limit.
	MaxConcurrency int
	// MaxSpawns caps the queue's live spawns, including ones being created and
	// the ones requested this round; 0 means no limit.
	MaxSpawns int
	// Enabled queues run jobs; a disabled queue's jobs all stay pending.
	Enabled bool
	// ComputeEnvs are the queue's environments in the order they were added;
	// the order drives round robin and breaks best-fit ties.
	ComputeEnvs []ComputeEnv
	// Allocated is how many of the queue's jobs hold an allocation now
	// (starting or running); it counts against MaxConcurrency.
	Allocated int
}

// ComputeEnv is one environment of a queue, with what a new spawn made from
// it would offer.
type ComputeEnv struct {
	// ID identifies the environment; spawns and spawn requests refer to it.
	ID string
	// Name is used in Reason details; the ID stands in when it is empty.
	Name string
	// SelfHosted environments are the user's own machines: placement uses
	// their spawns but can never request one.
	SelfHosted bool
	// CPUPct is the instance type's vCPUs * 100 (100 = one core), what a new
	// cloud spawn offers; ignored for self-hosted environments.
	CPUPct int
	// MemoryMB is the instance type's memory, what a new cloud spawn offers;
	// ignored for self-hosted environments.
	MemoryMB int
	// HourlyPrice is the instance type's price per hour in any one currency;
	// it breaks best-fit ties between equally sized instance types.
	HourlyPrice float64
	// NoNewSpawns marks a cloud environment placement may not request a
	// spawn of (disabled, or resting after a spawn of it failed); its spawns
	// being created still get their projected size from it.
	NoNewSpawns bool
}

// Spawn is one compute spawn of a queue and how much of it is taken.
type Spawn struct {
	// ID identifies the spawn; assignments refer to it.
	ID string
	// QueueID is the queue whose jobs may run on the spawn; only those.
	QueueID string
	// ComputeEnvID is the environment the spawn was made from; it gives a
	// spawn being created its projected capacity.
	ComputeEnvID string
	// State is a domain spawn state; only idle and busy spawns take work,
	// final ones are ignored and every other one still counts as live
	// against MaxSpawns.
	State string
	// TotalCPUPct is the CPU the agent offers, 100 = one core.
	TotalCPUPct int
	// TotalMemoryMB is the memory the agent offers.
	TotalMemoryMB int
	// AllocatedCPUPct is the CPU held by allocations on the spawn.
	AllocatedCPUPct int
	// AllocatedMemoryMB is the memory held by allocations on the spawn.
	AllocatedMemoryMB int
	// WholeSpawnTaken is set while a job holds the spawn whole (it has no
	// quota, or its quota exceeded every spawn); nothing else may join it.
	WholeSpawnTaken bool
	// Allocations is how many jobs hold an allocation on the spawn; 0 (with
	// nothing allocated) makes the spawn empty.
	Allocations int
	// Requested marks a spawn being created (state "requested" implies it):
	// it counts against MaxSpawns and absorbs jobs that wait for it with
	// waiting_for_spawn, but takes no work until its agent is up. Its
	// totals, when still 0, are projected from its compute environment.
	Requested bool
}

// Job is one runnable job.
type Job struct {
	// ID identifies the job; assignments and Pending refer to it.
	ID string
	// QueueID is the job's queue.
	QueueID string
	// RunnableAt orders jobs within a queue (earlier first; ties by ID).
	RunnableAt time.Time
	// CPUQuotaPct is the CPU the job reserves, 100 = one core; with
	// MemoryMB 0 too the job has no quota and takes a whole spawn.
	CPUQuotaPct int
	// MemoryMB is the memory the job reserves; see CPUQuotaPct.
	MemoryMB int
}

// hasQuota reports whether the job reserves a share of a spawn rather than
// taking a whole one.
func (j Job) hasQuota() bool { return j.CPUQuotaPct > 0 || j.MemoryMB > 0 }
