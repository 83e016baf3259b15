package placement

import (
	"fmt"
	"slices"
	"strings"
)

// Result is what one round decided. Every job of the Input is either in
// Assignments or in Pending, never both, never twice.
type Result struct {
	// Assignments are the jobs placed on a spawn this round, in the order
	// they were considered (queue priority, then runnable order), which is
	// the order the dispatcher should signal them in.
	Assignments []Assignment
	// SpawnRequests are the new spawns to start, in the order they were
	// decided.
	SpawnRequests []SpawnRequest
	// Pending says, for every job not assigned, why it waits and where it
	// stands in its queue.
	Pending map[string]Reason
}

// Assignment places one job on one spawn; the dispatcher persists it as an
// allocation.
type Assignment struct {
	// JobID is the job placed.
	JobID string
	// SpawnID is the idle or busy spawn it runs on.
	SpawnID string
	// CPUPct is the CPU the allocation holds: the job's quota, 0 without one.
	CPUPct int
	// MemoryMB is the memory the allocation holds: the job's quota, 0 without one.
	MemoryMB int
	// WholeSpawn is set when the job holds the spawn alone: it has no quota,
	// or its quota exceeds every spawn (and CPUPct/MemoryMB still record it).
	WholeSpawn bool
}

// SpawnRequest asks for one new cloud spawn.
type SpawnRequest struct {
	// QueueID is the queue the spawn joins.
	QueueID string
	// ComputeEnvID is the cloud environment to create it from.
	ComputeEnvID string
	// ForJobID is the job whose unmet need caused the request; other jobs of
	// the queue may wait for the same spawn.
	ForJobID string
}

// Code says why a job was not assigned; stable, for the API and the UI.
type Code string

// The reasons a runnable job stays runnable after a round.
const (
	// CodeQueueDisabled: the job's queue is disabled (or was not loaded).
	CodeQueueDisabled Code = "queue_disabled"
	// CodeQueueConcurrencyLimit: the queue already runs MaxConcurrency jobs.
	CodeQueueConcurrencyLimit Code = "queue_concurrency_limit"
	// CodeNoSpawnInQueue: the queue has no spawn that takes work and cannot
	// request one (self-hosted only, no environment, or at MaxSpawns).
	CodeNoSpawnInQueue Code = "no_spawn_in_queue"
	// CodeNoCapacity: the queue has spawns, none has room now, and none can be
	// added that would help.
	CodeNoCapacity Code = "no_capacity"
	// CodeWaitingForSpawn: a spawn being created (requested this round or
	// earlier) will take the job.
	CodeWaitingForSpawn Code = "waiting_for_spawn"
	// CodeSpawnLimitReached: no spawn has room and the queue is at MaxSpawns.
	CodeSpawnLimitReached Code = "spawn_limit_reached"
)

// Reason is why one job waits.
type Reason struct {
	// Code is the machine-readable reason.
	Code Code
	// Detail is a sentence for the user, naming the queue and the limit.
	Detail string
	// Position is the job's 1-based place in its queue's runnable order this
	// round (assigned jobs included), so "3" means two jobs were ahead of it.
	Position int
}

// Summary counts a round's outcome, for a log line or a workflow query.
type Summary struct {
	// Assigned is how many jobs were placed.
	Assigned int
	// SpawnsRequested is how many new spawns were asked for.
	SpawnsRequested int
	// Pending counts the jobs left waiting, by reason.
	Pending map[Code]int
}

// Summary counts r by outcome.
func (r Result) Summary() Summary {
	s := Summary{Assigned: len(r.Assignments), SpawnsRequested: len(r.SpawnRequests), Pending: map[Code]int{}}
	for _, reason := range r.Pending {
		s.Pending[reason.Code]++
	}
	return s
}

// String renders s in one line with codes in a fixed order, so equal
// summaries log equally: "3 assigned, 1 spawn requested, 2 pending
// (no_capacity 2)".
func (s Summary) String() string {
	var b strings.Builder
	plural := "s"
	if s.SpawnsRequested == 1 {
		plural = ""
	}
	total := 0
	for _, n := range s.Pending {
		total += n
	}
	fmt.Fprintf(&b, "%d assigned, %d spawn%s requested, %d pending", s.Assigned, s.SpawnsRequested, plural, total)
	if total == 0 {
		return b.String()
	}
	codes := make([]Code, 0, len(s.Pending))
	for c, n := range s.Pending {
		if n > 0 {
			codes = append(codes, c)
		}
	}
	slices.Sort(codes)
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = fmt.Sprintf("%s %d", c, s.Pending[c])
	}
	b.WriteString(" (" + strings.Join(parts, ", ") + ")")
	return b.String()
}
