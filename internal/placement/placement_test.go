package placement_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"daestro/internal/placement"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// rack is a self-hosted environment: its spawns are used, never requested.
var rack = placement.ComputeEnv{ID: "env-rack", Name: "rack", SelfHosted: true}

func queue(name string, priority int, envs ...placement.ComputeEnv) placement.Queue {
	return placement.Queue{ID: "q-" + name, Name: name, Priority: priority, Enabled: true, ComputeEnvs: envs}
}

func cloud(name string, cpu, mem int, price float64) placement.ComputeEnv {
	return placement.ComputeEnv{ID: "env-" + name, Name: name, CPUPct: cpu, MemoryMB: mem, HourlyPrice: price}
}

func idle(id, queue string, cpu, mem int) placement.Spawn {
	return placement.Spawn{ID: id, QueueID: "q-" + queue, ComputeEnvID: "env-rack", State: "idle", TotalCPUPct: cpu, TotalMemoryMB: mem}
}

func busy(id, queue string, cpu, mem, usedCPU, usedMem int) placement.Spawn {
	s := idle(id, queue, cpu, mem)
	s.State, s.AllocatedCPUPct, s.AllocatedMemoryMB, s.Allocations = "busy", usedCPU, usedMem, 1
	return s
}

func job(id, queue string, minute, cpu, mem int) placement.Job {
	return placement.Job{ID: id, QueueID: "q-" + queue, RunnableAt: t0.Add(time.Duration(minute) * time.Minute), CPUQuotaPct: cpu, MemoryMB: mem}
}

func with[T any](v T, f func(*T)) T {
	f(&v)
	return v
}

// creating is a spawn of env being created for queue: it takes no work yet,
// and placement sizes it from env.
func creating(id, queue, env string) placement.Spawn {
	return placement.Spawn{ID: id, QueueID: "q-" + queue, ComputeEnvID: "env-" + env, State: "requested", Requested: true}
}

// heldWhole is a busy spawn that a job without quotas holds alone.
func heldWhole(id, queue string, cpu, mem int) placement.Spawn {
	s := idle(id, queue, cpu, mem)
	s.State, s.WholeSpawnTaken, s.Allocations = "busy", true, 1
	return s
}

// inState is s in another state, most often one that takes no work.
func inState(state string, s placement.Spawn) placement.Spawn {
	s.State = state
	return s
}

// ofEnv is s made from the environment named env rather than the rack.
func ofEnv(env string, s placement.Spawn) placement.Spawn {
	s.ComputeEnvID = "env-" + env
	return s
}

// jobsEach are jobs of queue that became runnable one a minute from t0, in
// the order of ids, each with the same quota (0 and 0: none).
func jobsEach(queue string, cpu, mem int, ids ...string) []placement.Job {
	out := make([]placement.Job, len(ids))
	for i, id := range ids {
		out[i] = job(id, queue, i, cpu, mem)
	}
	return out
}

// resting is env while placement may not request a spawn of it.
func resting(env placement.ComputeEnv) placement.ComputeEnv {
	env.NoNewSpawns = true
	return env
}

// maxSpawns is q with at most n live spawns.
func maxSpawns(n int, q placement.Queue) placement.Queue {
	q.MaxSpawns = n
	return q
}

// maxConcurrency is q running at most n jobs at once, of which running
// already hold an allocation.
func maxConcurrency(n, running int, q placement.Queue) placement.Queue {
	q.MaxConcurrency, q.Allocated = n, running
	return q
}

// disabled is q disabled.
func disabled(q placement.Queue) placement.Queue {
	q.Enabled = false
	return q
}

func assigned(jobID, spawnID string, cpu, mem int, whole bool) placement.Assignment {
	return placement.Assignment{JobID: jobID, SpawnID: spawnID, CPUPct: cpu, MemoryMB: mem, WholeSpawn: whole}
}

func requested(queueID, envID, jobID string) placement.SpawnRequest {
	return placement.SpawnRequest{QueueID: queueID, ComputeEnvID: envID, ForJobID: jobID}
}

func reason(code placement.Code, position int, detail string) placement.Reason {
	return placement.Reason{Code: code, Detail: detail, Position: position}
}

// Detail sentences of queue 'etl' that many rows expect, spelled out once.
const noCapSelfHostedWhole = "no spawn of queue 'etl' is empty, which a job without quotas needs, and its compute environments are self-hosted, so placement cannot add one"

// newSpawnFor is the detail of a job that a new spawn of env was requested for.
func newSpawnFor(env string) string {
	return "waiting for a new spawn of compute environment '" + env + "' in queue 'etl', requested for this job"
}

// newSpawnOf is the detail of a job that waits for the new spawn of env
// requested for job.
func newSpawnOf(env, job string) string {
	return "waiting for a new spawn of compute environment '" + env + "' in queue 'etl', requested for job '" + job + "'"
}

// beingCreated is the detail of a job that waits for spawn, of env, being created.
func beingCreated(spawn, env string) string {
	return "waiting for spawn '" + spawn + "' of compute environment '" + env + "' in queue 'etl', which is being created"
}

// noCapSelfHosted is the detail of a job whose quota no self-hosted spawn has free.
func noCapSelfHosted(cpu, mem int) string {
	return fmt.Sprintf("no spawn of queue 'etl' has %d%% CPU and %d MB free, and its compute environments are self-hosted, so placement cannot add one", cpu, mem)
}

// TestPlace is one round per row: the snapshot (queues, spawns, jobs) and
// everything the round decides (assignments, spawn requests, pending reasons).
func TestPlace(t *testing.T) {
	tests := []struct {
		name        string
		queues      []placement.Queue
		spawns      []placement.Spawn
		jobs        []placement.Job
		assignments []placement.Assignment
		requests    []placement.SpawnRequest
		pending     map[string]placement.Reason
	}{
		{
			name:   "a resting cloud environment requests nothing, says so, and still sizes its spawn being created",
			queues: []placement.Queue{queue("etl", 1, resting(cloud("small", 200, 2048, 0.02))), queue("web", 2, resting(cloud("tiny", 100, 1024, 0.01)))},
			spawns: []placement.Spawn{creating("s-new", "etl", "small")},
			jobs:   []placement.Job{job("e1", "etl", 0, 100, 512), job("w1", "web", 0, 100, 512)},
			pending: map[string]placement.Reason{
				"e1": reason(placement.CodeWaitingForSpawn, 1, beingCreated("s-new", "small")),
				"w1": reason(placement.CodeNoSpawnInQueue, 1, "queue 'web' has no idle or busy compute spawn, and its cloud compute environments are disabled or resting for a few minutes after a spawn of theirs failed (that spawn's system_note says why): a spawn is requested again once one can be"),
			},
		},
		{
			name:   "rule 1: queue priority first, ties by queue ID, then runnable order, ties by job ID",
			queues: []placement.Queue{queue("etl", 20, rack), queue("web", 10, rack), queue("ml", 20, rack)},
			spawns: []placement.Spawn{idle("s-ml", "ml", 100, 1024), idle("s-etl", "etl", 200, 2048), idle("s-web", "web", 200, 2048)},
			jobs: []placement.Job{
				job("e-b", "etl", 1, 100, 512), job("m-1", "ml", 0, 100, 512), job("e-a", "etl", 1, 100, 512),
				job("w-1", "web", 5, 100, 512), job("e-c", "etl", 0, 100, 512),
			},
			assignments: []placement.Assignment{
				assigned("w-1", "s-web", 100, 512, false),
				assigned("e-c", "s-etl", 100, 512, false),
				assigned("e-a", "s-etl", 100, 512, false),
				assigned("m-1", "s-ml", 100, 512, false),
			},
			pending: map[string]placement.Reason{"e-b": reason(placement.CodeNoCapacity, 3, noCapSelfHosted(100, 512))},
		},
		{
			name:        "rule 2: a job without quotas takes only an empty spawn, and nothing joins it afterwards",
			queues:      []placement.Queue{queue("etl", 1, rack)},
			spawns:      []placement.Spawn{heldWhole("s-0", "etl", 400, 4096), busy("s-1", "etl", 800, 8192, 100, 512), idle("s-2", "etl", 200, 2048)},
			jobs:        []placement.Job{job("whole-1", "etl", 0, 0, 0), job("small", "etl", 1, 100, 512), job("whole-2", "etl", 2, 0, 0)},
			assignments: []placement.Assignment{assigned("whole-1", "s-2", 0, 0, true), assigned("small", "s-1", 100, 512, false)},
			pending:     map[string]placement.Reason{"whole-2": reason(placement.CodeNoCapacity, 3, noCapSelfHostedWhole)},
		},
		{
			name:   "rule 3: jobs with quotas are packed while CPU and memory both fit; a later smaller job backfills",
			queues: []placement.Queue{queue("etl", 1, rack)},
			spawns: []placement.Spawn{idle("s-1", "etl", 400, 2048)},
			jobs: []placement.Job{
				job("j1", "etl", 1, 100, 1024), job("j2", "etl", 2, 200, 512), job("j3", "etl", 3, 100, 1024),
				job("j4", "etl", 4, 100, 512), job("j5", "etl", 5, 100, 1),
			},
			assignments: []placement.Assignment{assigned("j1", "s-1", 100, 1024, false), assigned("j2", "s-1", 200, 512, false), assigned("j4", "s-1", 100, 512, false)},
			pending: map[string]placement.Reason{
				"j3": reason(placement.CodeNoCapacity, 3, noCapSelfHosted(100, 1024)),
				"j5": reason(placement.CodeNoCapacity, 5, noCapSelfHosted(100, 1)),
			},
		},
		{
			name:   "rule 4: a quota larger than every spawn takes the empty spawn it overcommits least; a quota some spawn could hold waits",
			queues: []placement.Queue{queue("etl", 1, rack)},
			spawns: []placement.Spawn{busy("s-1", "etl", 400, 4096, 100, 512), idle("s-2", "etl", 200, 2048), idle("s-3", "etl", 300, 1024)},
			jobs: []placement.Job{
				job("big-1", "etl", 0, 800, 2048), job("fits-s1", "etl", 1, 400, 1024),
				job("big-2", "etl", 2, 800, 2048), job("big-3", "etl", 3, 800, 2048),
			},
			// impact on s-3: max(800/300, 2048/1024) = 2.67; on s-2: max(800/200, 2048/2048) = 4.
			assignments: []placement.Assignment{assigned("big-1", "s-3", 800, 2048, true), assigned("big-2", "s-2", 800, 2048, true)},
			pending: map[string]placement.Reason{
				"fits-s1": reason(placement.CodeNoCapacity, 2, noCapSelfHosted(400, 1024)),
				"big-3":   reason(placement.CodeNoCapacity, 4, noCapSelfHosted(800, 2048)),
			},
		},
		{
			name:     "rule 4: on a cloud queue an oversized job gets the largest instance type, held whole",
			queues:   []placement.Queue{queue("etl", 1, cloud("small", 200, 2048, 0.1), cloud("large", 400, 8192, 0.3))},
			jobs:     []placement.Job{job("huge", "etl", 0, 800, 4096), job("after", "etl", 1, 100, 512)},
			requests: []placement.SpawnRequest{requested("q-etl", "env-large", "huge"), requested("q-etl", "env-small", "after")},
			pending: map[string]placement.Reason{
				"huge":  reason(placement.CodeWaitingForSpawn, 1, newSpawnFor("large")),
				"after": reason(placement.CodeWaitingForSpawn, 2, newSpawnFor("small")),
			},
		},
		{
			name:   "rule 4: while an instance type could hold the job it does not overcommit an empty spawn, even at max spawns",
			queues: []placement.Queue{maxSpawns(1, queue("etl", 1, rack, cloud("large", 800, 8192, 0.4)))},
			spawns: []placement.Spawn{idle("s-1", "etl", 200, 2048)},
			jobs:   []placement.Job{job("j1", "etl", 0, 400, 1024)},
			pending: map[string]placement.Reason{
				"j1": reason(placement.CodeSpawnLimitReached, 1, "queue 'etl' is at its max spawns (1), and none of its spawns has 400% CPU and 1024 MB free"),
			},
		},
		{
			name:        "rule 5: max concurrency counts running jobs and this round's assignments",
			queues:      []placement.Queue{maxConcurrency(4, 3, queue("etl", 1, rack))},
			spawns:      []placement.Spawn{idle("s-1", "etl", 800, 8192)},
			jobs:        jobsEach("etl", 100, 512, "j1", "j2", "j3"),
			assignments: []placement.Assignment{assigned("j1", "s-1", 100, 512, false)},
			pending: map[string]placement.Reason{
				"j2": reason(placement.CodeQueueConcurrencyLimit, 2, "queue 'etl' runs at most 4 jobs at once; 4 are running or about to start"),
				"j3": reason(placement.CodeQueueConcurrencyLimit, 3, "queue 'etl' runs at most 4 jobs at once; 4 are running or about to start"),
			},
		},
		{
			name:   "rule 5: a queue already at its limit places nothing",
			queues: []placement.Queue{maxConcurrency(1, 1, queue("etl", 1, rack))},
			spawns: []placement.Spawn{idle("s-1", "etl", 800, 8192)},
			jobs:   []placement.Job{job("j1", "etl", 0, 100, 512)},
			pending: map[string]placement.Reason{
				"j1": reason(placement.CodeQueueConcurrencyLimit, 1, "queue 'etl' runs at most 1 job at once; 1 is running or about to start"),
			},
		},
		{
			name:     "rule 5: jobs waiting for a spawn count too, so a limited queue asks for no more spawns than it may use",
			queues:   []placement.Queue{maxConcurrency(2, 0, queue("etl", 1, cloud("small", 200, 2048, 0.1)))},
			jobs:     jobsEach("etl", 0, 0, "w1", "w2", "w3", "w4"),
			requests: []placement.SpawnRequest{requested("q-etl", "env-small", "w1"), requested("q-etl", "env-small", "w2")},
			pending: map[string]placement.Reason{
				"w1": reason(placement.CodeWaitingForSpawn, 1, newSpawnFor("small")),
				"w2": reason(placement.CodeWaitingForSpawn, 2, newSpawnFor("small")),
				"w3": reason(placement.CodeQueueConcurrencyLimit, 3, "queue 'etl' runs at most 2 jobs at once; 2 are running or about to start"),
				"w4": reason(placement.CodeQueueConcurrencyLimit, 4, "queue 'etl' runs at most 2 jobs at once; 2 are running or about to start"),
			},
		},
		{
			name:   "rule 6: max spawns counts live spawns, unreachable ones, spawns being created and this round's requests",
			queues: []placement.Queue{maxSpawns(4, queue("etl", 1, cloud("a", 200, 2048, 0.1), cloud("b", 200, 2048, 0.1)))},
			spawns: []placement.Spawn{
				ofEnv("a", busy("s-1", "etl", 200, 2048, 200, 2048)),
				ofEnv("a", inState("unreachable", idle("s-2", "etl", 200, 2048))),
				creating("s-3", "etl", "b"),
			},
			jobs: jobsEach("etl", 0, 0, "j1", "j2", "j3", "j4"),
			// 3 spawns before the round: round robin starts at 3 % 2 = env b.
			requests: []placement.SpawnRequest{requested("q-etl", "env-b", "j2")},
			pending: map[string]placement.Reason{
				"j1": reason(placement.CodeWaitingForSpawn, 1, beingCreated("s-3", "b")),
				"j2": reason(placement.CodeWaitingForSpawn, 2, newSpawnFor("b")),
				"j3": reason(placement.CodeSpawnLimitReached, 3, "queue 'etl' is at its max spawns (4), and none of its spawns is empty, which a job without quotas needs"),
				"j4": reason(placement.CodeSpawnLimitReached, 4, "queue 'etl' is at its max spawns (4), and none of its spawns is empty, which a job without quotas needs"),
			},
		},
		{
			name:   "rule 7: lowest impact wins, where impact is the larger of the CPU and memory shares of what is free",
			queues: []placement.Queue{queue("etl", 1, rack)},
			// For 100% CPU / 400 MB: s-a max(100/200, 400/8000) = 0.5; s-b max(100/400, 400/1000) = 0.4.
			// A sum of the shares (0.55 vs 0.65), the most free memory or the spawn ID would all pick s-a.
			spawns:      []placement.Spawn{idle("s-a", "etl", 200, 8000), busy("s-b", "etl", 600, 2000, 200, 1000)},
			jobs:        []placement.Job{job("j1", "etl", 0, 100, 400)},
			assignments: []placement.Assignment{assigned("j1", "s-b", 100, 400, false)},
		},
		{
			name:        "rule 7: equal impact goes to the lower spawn ID",
			queues:      []placement.Queue{queue("etl", 1, rack)},
			spawns:      []placement.Spawn{idle("s-2", "etl", 400, 4096), idle("s-1", "etl", 400, 4096)},
			jobs:        []placement.Job{job("j1", "etl", 0, 100, 1024)},
			assignments: []placement.Assignment{assigned("j1", "s-1", 100, 1024, false)},
		},
		{
			name:     "rule 8: a requested spawn's projected capacity absorbs the queue's next jobs",
			queues:   []placement.Queue{queue("etl", 1, cloud("vm", 400, 4096, 0.2))},
			jobs:     jobsEach("etl", 100, 1024, "j1", "j2", "j3", "j4", "j5"),
			requests: []placement.SpawnRequest{requested("q-etl", "env-vm", "j1"), requested("q-etl", "env-vm", "j5")},
			pending: map[string]placement.Reason{
				"j1": reason(placement.CodeWaitingForSpawn, 1, newSpawnFor("vm")),
				"j2": reason(placement.CodeWaitingForSpawn, 2, newSpawnOf("vm", "j1")),
				"j3": reason(placement.CodeWaitingForSpawn, 3, newSpawnOf("vm", "j1")),
				"j4": reason(placement.CodeWaitingForSpawn, 4, newSpawnOf("vm", "j1")),
				"j5": reason(placement.CodeWaitingForSpawn, 5, newSpawnFor("vm")),
			},
		},
		{
			name:     "rule 8: the next round packs onto the spawn being created instead of asking again",
			queues:   []placement.Queue{queue("etl", 1, cloud("vm", 400, 4096, 0.2))},
			spawns:   []placement.Spawn{creating("s-new", "etl", "vm")},
			jobs:     jobsEach("etl", 100, 1024, "j1", "j2", "j3", "j4", "j5"),
			requests: []placement.SpawnRequest{requested("q-etl", "env-vm", "j5")},
			pending: map[string]placement.Reason{
				"j1": reason(placement.CodeWaitingForSpawn, 1, beingCreated("s-new", "vm")),
				"j2": reason(placement.CodeWaitingForSpawn, 2, beingCreated("s-new", "vm")),
				"j3": reason(placement.CodeWaitingForSpawn, 3, beingCreated("s-new", "vm")),
				"j4": reason(placement.CodeWaitingForSpawn, 4, beingCreated("s-new", "vm")),
				"j5": reason(placement.CodeWaitingForSpawn, 5, newSpawnFor("vm")),
			},
		},
		{
			name: "rule 8: best fit is the smallest instance type by CPU then memory, then the cheapest, then queue order",
			queues: []placement.Queue{queue("etl", 1,
				cloud("big", 800, 16384, 0.4), cloud("tiny", 200, 2048, 0.05), cloud("mid-a", 400, 8192, 0.1),
				cloud("mid-b", 400, 4096, 0.25), cloud("mid-c", 400, 4096, 0.2), cloud("mid-d", 400, 4096, 0.2))},
			jobs:     []placement.Job{job("j1", "etl", 0, 300, 3000)},
			requests: []placement.SpawnRequest{requested("q-etl", "env-mid-c", "j1")},
			pending:  map[string]placement.Reason{"j1": reason(placement.CodeWaitingForSpawn, 1, newSpawnFor("mid-c"))},
		},
		{
			name:   "rule 8: jobs without quotas rotate over the cloud environments starting at the queue's spawn count",
			queues: []placement.Queue{queue("etl", 1, rack, cloud("a", 200, 2048, 0.1), cloud("b", 200, 2048, 0.1), cloud("c", 200, 2048, 0.1))},
			spawns: []placement.Spawn{heldWhole("s-1", "etl", 800, 8192)},
			jobs:   jobsEach("etl", 0, 0, "w1", "w2", "w3"),
			// One spawn already: start at 1 % 3 = b; the self-hosted rack is never requested.
			requests: []placement.SpawnRequest{requested("q-etl", "env-b", "w1"), requested("q-etl", "env-c", "w2"), requested("q-etl", "env-a", "w3")},
			pending: map[string]placement.Reason{
				"w1": reason(placement.CodeWaitingForSpawn, 1, newSpawnFor("b")),
				"w2": reason(placement.CodeWaitingForSpawn, 2, newSpawnFor("c")),
				"w3": reason(placement.CodeWaitingForSpawn, 3, newSpawnFor("a")),
			},
		},
		{
			name:   "rule 9: spawns that are not idle or busy take no work",
			queues: []placement.Queue{queue("etl", 1, rack)},
			spawns: []placement.Spawn{
				inState("unreachable", idle("s-1", "etl", 800, 8192)), inState("initialized", idle("s-2", "etl", 800, 8192)),
				inState("terminating", idle("s-3", "etl", 800, 8192)), inState("terminated", idle("s-4", "etl", 800, 8192)),
			},
			jobs: []placement.Job{job("j1", "etl", 0, 100, 512)},
			pending: map[string]placement.Reason{
				"j1": reason(placement.CodeNoSpawnInQueue, 1, "queue 'etl' has no idle or busy compute spawn, and its compute environments are self-hosted, so placement cannot start one: run the agent on one of your machines"),
			},
		},
		{
			name:   "rule 9: an idle spawn still marked requested takes no work; jobs wait for it",
			queues: []placement.Queue{queue("etl", 1, rack)},
			spawns: []placement.Spawn{with(idle("s-1", "etl", 800, 8192), func(s *placement.Spawn) { s.Requested = true })},
			jobs:   []placement.Job{job("j1", "etl", 0, 100, 512), job("j2", "etl", 1, 0, 0)},
			pending: map[string]placement.Reason{
				"j1": reason(placement.CodeWaitingForSpawn, 1, beingCreated("s-1", "rack")),
				"j2": reason(placement.CodeNoCapacity, 2, noCapSelfHostedWhole),
			},
		},
		{
			name:   "queue_disabled: a disabled queue and a queue the round did not load",
			queues: []placement.Queue{disabled(queue("etl", 1, rack))},
			spawns: []placement.Spawn{idle("s-1", "etl", 800, 8192)},
			jobs:   []placement.Job{job("e1", "etl", 0, 100, 512), job("g1", "gone", 0, 100, 512), job("g2", "gone", 1, 0, 0)},
			pending: map[string]placement.Reason{
				"e1": reason(placement.CodeQueueDisabled, 1, "queue 'etl' is disabled: enable it to run its jobs"),
				"g1": reason(placement.CodeQueueDisabled, 1, "queue 'q-gone' is not among the project's job queues; it may have been deleted"),
				"g2": reason(placement.CodeQueueDisabled, 2, "queue 'q-gone' is not among the project's job queues; it may have been deleted"),
			},
		},
		{
			name:   "no_spawn_in_queue: a queue without compute environments",
			queues: []placement.Queue{queue("etl", 1)},
			jobs:   []placement.Job{job("j1", "etl", 0, 0, 0)},
			pending: map[string]placement.Reason{
				"j1": reason(placement.CodeNoSpawnInQueue, 1, "queue 'etl' has no idle or busy compute spawn and no compute environment to create one: add a compute environment to the queue"),
			},
		},
		{
			name:   "no_spawn_in_queue: max spawns taken by spawns that cannot take work",
			queues: []placement.Queue{maxSpawns(2, queue("etl", 1, cloud("a", 200, 2048, 0.1)))},
			spawns: []placement.Spawn{inState("unreachable", idle("s-1", "etl", 200, 2048)), inState("terminating", idle("s-2", "etl", 200, 2048))},
			jobs:   []placement.Job{job("j1", "etl", 0, 0, 0)},
			pending: map[string]placement.Reason{
				"j1": reason(placement.CodeNoSpawnInQueue, 1, "queue 'etl' has no idle or busy compute spawn and may not create one: it is at its max spawns (2) with spawns that cannot take work (unreachable, initializing, terminating, or whose termination failed: their machines may still bill)"),
			},
		},
		{
			name:   "rule 6: a spawn whose termination failed counts against max spawns: its machine may still bill",
			queues: []placement.Queue{maxSpawns(1, queue("etl", 1, cloud("a", 200, 2048, 0.1)))},
			spawns: []placement.Spawn{ofEnv("a", inState("termination_failed", idle("s-1", "etl", 200, 2048)))},
			jobs:   []placement.Job{job("j1", "etl", 0, 100, 512)},
			pending: map[string]placement.Reason{
				"j1": reason(placement.CodeNoSpawnInQueue, 1, "queue 'etl' has no idle or busy compute spawn and may not create one: it is at its max spawns (1) with spawns that cannot take work (unreachable, initializing, terminating, or whose termination failed: their machines may still bill)"),
			},
		},
		{
			name:   "no_spawn_in_queue: no instance type holds the job, and the only spawn that would is unreachable",
			queues: []placement.Queue{queue("etl", 1, cloud("a", 200, 2048, 0.1))},
			spawns: []placement.Spawn{inState("unreachable", idle("s-1", "etl", 800, 8192))},
			jobs:   []placement.Job{job("j1", "etl", 0, 800, 4096)},
			pending: map[string]placement.Reason{
				"j1": reason(placement.CodeNoSpawnInQueue, 1, "queue 'etl' has no idle or busy compute spawn, and none of its cloud compute environments offers 800% CPU and 4096 MB"),
			},
		},
		{
			name:   "no_capacity: a spawn holds the job once it frees up, and no instance type could",
			queues: []placement.Queue{queue("etl", 1, rack, cloud("a", 200, 2048, 0.1))},
			spawns: []placement.Spawn{busy("s-1", "etl", 800, 8192, 400, 4096)},
			jobs:   []placement.Job{job("j1", "etl", 0, 800, 1024)},
			pending: map[string]placement.Reason{
				"j1": reason(placement.CodeNoCapacity, 1, "no spawn of queue 'etl' has 800% CPU and 1024 MB free, and none of its cloud compute environments offers that much, so a new spawn would not help"),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := placement.Result{Assignments: tt.assignments, SpawnRequests: tt.requests, Pending: tt.pending}
			if want.Pending == nil {
				want.Pending = map[string]placement.Reason{}
			}
			assert.Equal(t, want, placement.Place(placement.Input{Queues: tt.queues, Spawns: tt.spawns, Jobs: tt.jobs}))
		})
	}
}

// TestPlaceScaleUpWithoutStampede is rule 8 at the size the product cares
// about: a burst of 500 jobs asks for one spawn per unmet need.
func TestPlaceScaleUpWithoutStampede(t *testing.T) {
	t.Run("500 jobs that fit four to a machine ask for 125 spawns", func(t *testing.T) {
		in := placement.Input{Queues: []placement.Queue{queue("etl", 1, cloud("vm", 400, 4096, 0.2))}}
		want := placement.Result{Pending: map[string]placement.Reason{}}
		for i := range 500 {
			id := fmt.Sprintf("j%03d", i)
			in.Jobs = append(in.Jobs, job(id, "etl", i, 100, 1024))
			detail := newSpawnFor("vm")
			if i%4 == 0 {
				want.SpawnRequests = append(want.SpawnRequests, requested("q-etl", "env-vm", id))
			} else {
				detail = newSpawnOf("vm", fmt.Sprintf("j%03d", i-i%4))
			}
			want.Pending[id] = reason(placement.CodeWaitingForSpawn, i+1, detail)
		}
		got := placement.Place(in)
		assert.Equal(t, want, got)
		assert.Len(t, got.SpawnRequests, 125)
	})
	t.Run("500 jobs without quotas ask for one spawn each, up to max spawns", func(t *testing.T) {
		in := placement.Input{Queues: []placement.Queue{maxSpawns(20, queue("etl", 1, cloud("a", 200, 2048, 0.1), cloud("b", 200, 2048, 0.1)))}}
		want := placement.Result{Pending: map[string]placement.Reason{}}
		for i := range 500 {
			id := fmt.Sprintf("w%03d", i)
			in.Jobs = append(in.Jobs, job(id, "etl", i, 0, 0))
			if i < 20 {
				env := []string{"a", "b"}[i%2]
				want.SpawnRequests = append(want.SpawnRequests, requested("q-etl", "env-"+env, id))
				want.Pending[id] = reason(placement.CodeWaitingForSpawn, i+1, newSpawnFor(env))
				continue
			}
			want.Pending[id] = reason(placement.CodeSpawnLimitReached, i+1,
				"queue 'etl' is at its max spawns (20), and none of its spawns is empty, which a job without quotas needs")
		}
		assert.Equal(t, want, placement.Place(in))
	})
}

func TestSummary(t *testing.T) {
	res := placement.Place(placement.Input{
		Queues: []placement.Queue{queue("etl", 1, rack), queue("ml", 2, cloud("vm", 400, 4096, 0.2))},
		Spawns: []placement.Spawn{idle("s-1", "etl", 100, 512)},
		Jobs: []placement.Job{
			job("e1", "etl", 0, 100, 512), job("e2", "etl", 1, 100, 512), job("e3", "etl", 2, 100, 512),
			job("m1", "ml", 0, 100, 512), job("m2", "ml", 1, 100, 512),
		},
	})
	s := res.Summary()
	assert.Equal(t, placement.Summary{
		Assigned:        1,
		SpawnsRequested: 1,
		Pending:         map[placement.Code]int{placement.CodeNoCapacity: 2, placement.CodeWaitingForSpawn: 2},
	}, s)
	assert.Equal(t, "1 assigned, 1 spawn requested, 4 pending (no_capacity 2, waiting_for_spawn 2)", s.String())
	assert.Equal(t, "0 assigned, 0 spawns requested, 0 pending", placement.Place(placement.Input{}).Summary().String())
}
