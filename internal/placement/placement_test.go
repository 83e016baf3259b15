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

func assigned(jobID, spawnID string, cpu, mem int, whole bool) placement.Assignment {
	return placement.Assignment{JobID: jobID, SpawnID: spawnID, CPUPct: cpu, MemoryMB: mem, WholeSpawn: whole}
}

func requested(queueID, envID, jobID string) placement.SpawnRequest {
	return placement.SpawnRequest{QueueID: queueID, ComputeEnvID: envID, ForJobID: jobID}
}

func reason(code placement.Code, position int, detail string) placement.Reason {
	return placement.Reason{Code: code, Detail: detail, Position: position}
}

// Detail sentences the rows expect, spelled out once.
const (
	noCapSelfHosted100x512 = "no spawn of queue 'etl' has 100% CPU and 512 MB free, and its compute environments are self-hosted, so placement cannot add one"
	noCapSelfHostedWhole   = "no spawn of queue 'etl' is empty, which a job without quotas needs, and its compute environments are self-hosted, so placement cannot add one"
)

func TestPlace(t *testing.T) {
	tests := []struct {
		name string
		in   placement.Input
		want placement.Result
	}{
		{
			name: "a resting cloud environment requests nothing, says so, and still sizes its spawn being created",
			in: placement.Input{
				Queues: []placement.Queue{
					queue("etl", 1, with(cloud("small", 200, 2048, 0.02), func(e *placement.ComputeEnv) { e.NoNewSpawns = true })),
					queue("web", 2, with(cloud("tiny", 100, 1024, 0.01), func(e *placement.ComputeEnv) { e.NoNewSpawns = true })),
				},
				Spawns: []placement.Spawn{{ID: "s-new", QueueID: "q-etl", ComputeEnvID: "env-small", State: "requested", Requested: true}},
				Jobs:   []placement.Job{job("e1", "etl", 0, 100, 512), job("w1", "web", 0, 100, 512)},
			},
			want: placement.Result{
				Pending: map[string]placement.Reason{
					"e1": reason(placement.CodeWaitingForSpawn, 1, "waiting for spawn 's-new' of compute environment 'small' in queue 'etl', which is being created"),
					"w1": reason(placement.CodeNoSpawnInQueue, 1, "queue 'web' has no idle or busy compute spawn, and its cloud compute environments are disabled or resting for a few minutes after a spawn of theirs failed (that spawn's system_note says why): a spawn is requested again once one can be"),
				},
			},
		},
		{
			name: "rule 1: queue priority first, ties by queue ID, then runnable order, ties by job ID",
			in: placement.Input{
				Queues: []placement.Queue{queue("etl", 20, rack), queue("web", 10, rack), queue("ml", 20, rack)},
				Spawns: []placement.Spawn{idle("s-ml", "ml", 100, 1024), idle("s-etl", "etl", 200, 2048), idle("s-web", "web", 200, 2048)},
				Jobs: []placement.Job{
					job("e-b", "etl", 1, 100, 512), job("m-1", "ml", 0, 100, 512), job("e-a", "etl", 1, 100, 512),
					job("w-1", "web", 5, 100, 512), job("e-c", "etl", 0, 100, 512),
				},
			},
			want: placement.Result{
				Assignments: []placement.Assignment{
					assigned("w-1", "s-web", 100, 512, false),
					assigned("e-c", "s-etl", 100, 512, false),
					assigned("e-a", "s-etl", 100, 512, false),
					assigned("m-1", "s-ml", 100, 512, false),
				},
				Pending: map[string]placement.Reason{"e-b": reason(placement.CodeNoCapacity, 3, noCapSelfHosted100x512)},
			},
		},
		{
			name: "rule 2: a job without quotas takes only an empty spawn, and nothing joins it afterwards",
			in: placement.Input{
				Queues: []placement.Queue{queue("etl", 1, rack)},
				Spawns: []placement.Spawn{
					with(idle("s-0", "etl", 400, 4096), func(s *placement.Spawn) { s.State, s.WholeSpawnTaken, s.Allocations = "busy", true, 1 }),
					busy("s-1", "etl", 800, 8192, 100, 512),
					idle("s-2", "etl", 200, 2048),
				},
				Jobs: []placement.Job{job("whole-1", "etl", 0, 0, 0), job("small", "etl", 1, 100, 512), job("whole-2", "etl", 2, 0, 0)},
			},
			want: placement.Result{
				Assignments: []placement.Assignment{
					assigned("whole-1", "s-2", 0, 0, true),
					assigned("small", "s-1", 100, 512, false),
				},
				Pending: map[string]placement.Reason{"whole-2": reason(placement.CodeNoCapacity, 3, noCapSelfHostedWhole)},
			},
		},
		{
			name: "rule 3: jobs with quotas are packed while CPU and memory both fit; a later smaller job backfills",
			in: placement.Input{
				Queues: []placement.Queue{queue("etl", 1, rack)},
				Spawns: []placement.Spawn{idle("s-1", "etl", 400, 2048)},
				Jobs: []placement.Job{
					job("j1", "etl", 1, 100, 1024), job("j2", "etl", 2, 200, 512), job("j3", "etl", 3, 100, 1024),
					job("j4", "etl", 4, 100, 512), job("j5", "etl", 5, 100, 1),
				},
			},
			want: placement.Result{
				Assignments: []placement.Assignment{
					assigned("j1", "s-1", 100, 1024, false),
					assigned("j2", "s-1", 200, 512, false),
					assigned("j4", "s-1", 100, 512, false),
				},
				Pending: map[string]placement.Reason{
					"j3": reason(placement.CodeNoCapacity, 3, "no spawn of queue 'etl' has 100% CPU and 1024 MB free, and its compute environments are self-hosted, so placement cannot add one"),
					"j5": reason(placement.CodeNoCapacity, 5, "no spawn of queue 'etl' has 100% CPU and 1 MB free, and its compute environments are self-hosted, so placement cannot add one"),
				},
			},
		},
		{
			name: "rule 4: a quota larger than every spawn takes the empty spawn it overcommits least; a quota some spawn could hold waits",
			in: placement.Input{
				Queues: []placement.Queue{queue("etl", 1, rack)},
				Spawns: []placement.Spawn{busy("s-1", "etl", 400, 4096, 100, 512), idle("s-2", "etl", 200, 2048), idle("s-3", "etl", 300, 1024)},
				Jobs: []placement.Job{
					job("big-1", "etl", 0, 800, 2048), job("fits-s1", "etl", 1, 400, 1024),
					job("big-2", "etl", 2, 800, 2048), job("big-3", "etl", 3, 800, 2048),
				},
			},
			want: placement.Result{
				Assignments: []placement.Assignment{
					// impact on s-3: max(800/300, 2048/1024) = 2.67; on s-2: max(800/200, 2048/2048) = 4.
					assigned("big-1", "s-3", 800, 2048, true),
					assigned("big-2", "s-2", 800, 2048, true),
				},
				Pending: map[string]placement.Reason{
					"fits-s1": reason(placement.CodeNoCapacity, 2, "no spawn of queue 'etl' has 400% CPU and 1024 MB free, and its compute environments are self-hosted, so placement cannot add one"),
					"big-3":   reason(placement.CodeNoCapacity, 4, "no spawn of queue 'etl' has 800% CPU and 2048 MB free, and its compute environments are self-hosted, so placement cannot add one"),
				},
			},
		},
		{
			name: "rule 4: on a cloud queue an oversized job gets the largest instance type, held whole",
			in: placement.Input{
				Queues: []placement.Queue{queue("etl", 1, cloud("small", 200, 2048, 0.1), cloud("large", 400, 8192, 0.3))},
				Jobs:   []placement.Job{job("huge", "etl", 0, 800, 4096), job("after", "etl", 1, 100, 512)},
			},
			want: placement.Result{
				SpawnRequests: []placement.SpawnRequest{requested("q-etl", "env-large", "huge"), requested("q-etl", "env-small", "after")},
				Pending: map[string]placement.Reason{
					"huge":  reason(placement.CodeWaitingForSpawn, 1, "waiting for a new spawn of compute environment 'large' in queue 'etl', requested for this job"),
					"after": reason(placement.CodeWaitingForSpawn, 2, "waiting for a new spawn of compute environment 'small' in queue 'etl', requested for this job"),
				},
			},
		},
		{
			name: "rule 4: while an instance type could hold the job it does not overcommit an empty spawn, even at max spawns",
			in: placement.Input{
				Queues: []placement.Queue{with(queue("etl", 1, rack, cloud("large", 800, 8192, 0.4)), func(q *placement.Queue) { q.MaxSpawns = 1 })},
				Spawns: []placement.Spawn{idle("s-1", "etl", 200, 2048)},
				Jobs:   []placement.Job{job("j1", "etl", 0, 400, 1024)},
			},
			want: placement.Result{
				Pending: map[string]placement.Reason{
					"j1": reason(placement.CodeSpawnLimitReached, 1, "queue 'etl' is at its max spawns (1), and none of its spawns has 400% CPU and 1024 MB free"),
				},
			},
		},
		{
			name: "rule 5: max concurrency counts running jobs and this round's assignments",
			in: placement.Input{
				Queues: []placement.Queue{with(queue("etl", 1, rack), func(q *placement.Queue) { q.MaxConcurrency, q.Allocated = 4, 3 })},
				Spawns: []placement.Spawn{idle("s-1", "etl", 800, 8192)},
				Jobs:   []placement.Job{job("j1", "etl", 0, 100, 512), job("j2", "etl", 1, 100, 512), job("j3", "etl", 2, 100, 512)},
			},
			want: placement.Result{
				Assignments: []placement.Assignment{assigned("j1", "s-1", 100, 512, false)},
				Pending: map[string]placement.Reason{
					"j2": reason(placement.CodeQueueConcurrencyLimit, 2, "queue 'etl' runs at most 4 jobs at once; 4 are running or about to start"),
					"j3": reason(placement.CodeQueueConcurrencyLimit, 3, "queue 'etl' runs at most 4 jobs at once; 4 are running or about to start"),
				},
			},
		},
		{
			name: "rule 5: a queue already at its limit places nothing",
			in: placement.Input{
				Queues: []placement.Queue{with(queue("etl", 1, rack), func(q *placement.Queue) { q.MaxConcurrency, q.Allocated = 1, 1 })},
				Spawns: []placement.Spawn{idle("s-1", "etl", 800, 8192)},
				Jobs:   []placement.Job{job("j1", "etl", 0, 100, 512)},
			},
			want: placement.Result{
				Pending: map[string]placement.Reason{
					"j1": reason(placement.CodeQueueConcurrencyLimit, 1, "queue 'etl' runs at most 1 job at once; 1 is running or about to start"),
				},
			},
		},
		{
			name: "rule 5: jobs waiting for a spawn count too, so a limited queue asks for no more spawns than it may use",
			in: placement.Input{
				Queues: []placement.Queue{with(queue("etl", 1, cloud("small", 200, 2048, 0.1)), func(q *placement.Queue) { q.MaxConcurrency = 2 })},
				Jobs:   []placement.Job{job("w1", "etl", 0, 0, 0), job("w2", "etl", 1, 0, 0), job("w3", "etl", 2, 0, 0), job("w4", "etl", 3, 0, 0)},
			},
			want: placement.Result{
				SpawnRequests: []placement.SpawnRequest{requested("q-etl", "env-small", "w1"), requested("q-etl", "env-small", "w2")},
				Pending: map[string]placement.Reason{
					"w1": reason(placement.CodeWaitingForSpawn, 1, "waiting for a new spawn of compute environment 'small' in queue 'etl', requested for this job"),
					"w2": reason(placement.CodeWaitingForSpawn, 2, "waiting for a new spawn of compute environment 'small' in queue 'etl', requested for this job"),
					"w3": reason(placement.CodeQueueConcurrencyLimit, 3, "queue 'etl' runs at most 2 jobs at once; 2 are running or about to start"),
					"w4": reason(placement.CodeQueueConcurrencyLimit, 4, "queue 'etl' runs at most 2 jobs at once; 2 are running or about to start"),
				},
			},
		},
		{
			name: "rule 6: max spawns counts live spawns, unreachable ones, spawns being created and this round's requests",
			in: placement.Input{
				Queues: []placement.Queue{with(queue("etl", 1, cloud("a", 200, 2048, 0.1), cloud("b", 200, 2048, 0.1)),
					func(q *placement.Queue) { q.MaxSpawns = 4 })},
				Spawns: []placement.Spawn{
					with(busy("s-1", "etl", 200, 2048, 200, 2048), func(s *placement.Spawn) { s.ComputeEnvID = "env-a" }),
					with(idle("s-2", "etl", 200, 2048), func(s *placement.Spawn) { s.ComputeEnvID, s.State = "env-a", "unreachable" }),
					{ID: "s-3", QueueID: "q-etl", ComputeEnvID: "env-b", State: "requested", Requested: true},
				},
				Jobs: []placement.Job{job("j1", "etl", 0, 0, 0), job("j2", "etl", 1, 0, 0), job("j3", "etl", 2, 0, 0), job("j4", "etl", 3, 0, 0)},
			},
			want: placement.Result{
				// 3 spawns before the round: round robin starts at 3 % 2 = env b.
				SpawnRequests: []placement.SpawnRequest{requested("q-etl", "env-b", "j2")},
				Pending: map[string]placement.Reason{
					"j1": reason(placement.CodeWaitingForSpawn, 1, "waiting for spawn 's-3' of compute environment 'b' in queue 'etl', which is being created"),
					"j2": reason(placement.CodeWaitingForSpawn, 2, "waiting for a new spawn of compute environment 'b' in queue 'etl', requested for this job"),
					"j3": reason(placement.CodeSpawnLimitReached, 3, "queue 'etl' is at its max spawns (4), and none of its spawns is empty, which a job without quotas needs"),
					"j4": reason(placement.CodeSpawnLimitReached, 4, "queue 'etl' is at its max spawns (4), and none of its spawns is empty, which a job without quotas needs"),
				},
			},
		},
		{
			name: "rule 7: lowest impact wins, where impact is the larger of the CPU and memory shares of what is free",
			in: placement.Input{
				Queues: []placement.Queue{queue("etl", 1, rack)},
				// For 100% CPU / 400 MB: s-a max(100/200, 400/8000) = 0.5; s-b max(100/400, 400/1000) = 0.4.
				// A sum of the shares (0.55 vs 0.65), the most free memory or the spawn ID would all pick s-a.
				Spawns: []placement.Spawn{idle("s-a", "etl", 200, 8000), busy("s-b", "etl", 600, 2000, 200, 1000)},
				Jobs:   []placement.Job{job("j1", "etl", 0, 100, 400)},
			},
			want: placement.Result{
				Assignments: []placement.Assignment{assigned("j1", "s-b", 100, 400, false)},
				Pending:     map[string]placement.Reason{},
			},
		},
		{
			name: "rule 7: equal impact goes to the lower spawn ID",
			in: placement.Input{
				Queues: []placement.Queue{queue("etl", 1, rack)},
				Spawns: []placement.Spawn{idle("s-2", "etl", 400, 4096), idle("s-1", "etl", 400, 4096)},
				Jobs:   []placement.Job{job("j1", "etl", 0, 100, 1024)},
			},
			want: placement.Result{
				Assignments: []placement.Assignment{assigned("j1", "s-1", 100, 1024, false)},
				Pending:     map[string]placement.Reason{},
			},
		},
		{
			name: "rule 8: a requested spawn's projected capacity absorbs the queue's next jobs",
			in: placement.Input{
				Queues: []placement.Queue{queue("etl", 1, cloud("vm", 400, 4096, 0.2))},
				Jobs: []placement.Job{
					job("j1", "etl", 0, 100, 1024), job("j2", "etl", 1, 100, 1024), job("j3", "etl", 2, 100, 1024),
					job("j4", "etl", 3, 100, 1024), job("j5", "etl", 4, 100, 1024),
				},
			},
			want: placement.Result{
				SpawnRequests: []placement.SpawnRequest{requested("q-etl", "env-vm", "j1"), requested("q-etl", "env-vm", "j5")},
				Pending: map[string]placement.Reason{
					"j1": reason(placement.CodeWaitingForSpawn, 1, "waiting for a new spawn of compute environment 'vm' in queue 'etl', requested for this job"),
					"j2": reason(placement.CodeWaitingForSpawn, 2, "waiting for a new spawn of compute environment 'vm' in queue 'etl', requested for job 'j1'"),
					"j3": reason(placement.CodeWaitingForSpawn, 3, "waiting for a new spawn of compute environment 'vm' in queue 'etl', requested for job 'j1'"),
					"j4": reason(placement.CodeWaitingForSpawn, 4, "waiting for a new spawn of compute environment 'vm' in queue 'etl', requested for job 'j1'"),
					"j5": reason(placement.CodeWaitingForSpawn, 5, "waiting for a new spawn of compute environment 'vm' in queue 'etl', requested for this job"),
				},
			},
		},
		{
			name: "rule 8: the next round packs onto the spawn being created instead of asking again",
			in: placement.Input{
				Queues: []placement.Queue{queue("etl", 1, cloud("vm", 400, 4096, 0.2))},
				Spawns: []placement.Spawn{{ID: "s-new", QueueID: "q-etl", ComputeEnvID: "env-vm", State: "requested", Requested: true}},
				Jobs: []placement.Job{
					job("j1", "etl", 0, 100, 1024), job("j2", "etl", 1, 100, 1024), job("j3", "etl", 2, 100, 1024),
					job("j4", "etl", 3, 100, 1024), job("j5", "etl", 4, 100, 1024),
				},
			},
			want: placement.Result{
				SpawnRequests: []placement.SpawnRequest{requested("q-etl", "env-vm", "j5")},
				Pending: map[string]placement.Reason{
					"j1": reason(placement.CodeWaitingForSpawn, 1, "waiting for spawn 's-new' of compute environment 'vm' in queue 'etl', which is being created"),
					"j2": reason(placement.CodeWaitingForSpawn, 2, "waiting for spawn 's-new' of compute environment 'vm' in queue 'etl', which is being created"),
					"j3": reason(placement.CodeWaitingForSpawn, 3, "waiting for spawn 's-new' of compute environment 'vm' in queue 'etl', which is being created"),
					"j4": reason(placement.CodeWaitingForSpawn, 4, "waiting for spawn 's-new' of compute environment 'vm' in queue 'etl', which is being created"),
					"j5": reason(placement.CodeWaitingForSpawn, 5, "waiting for a new spawn of compute environment 'vm' in queue 'etl', requested for this job"),
				},
			},
		},
		{
			name: "rule 8: best fit is the smallest instance type by CPU then memory, then the cheapest, then queue order",
			in: placement.Input{
				Queues: []placement.Queue{queue("etl", 1,
					cloud("big", 800, 16384, 0.4), cloud("tiny", 200, 2048, 0.05), cloud("mid-a", 400, 8192, 0.1),
					cloud("mid-b", 400, 4096, 0.25), cloud("mid-c", 400, 4096, 0.2), cloud("mid-d", 400, 4096, 0.2))},
				Jobs: []placement.Job{job("j1", "etl", 0, 300, 3000)},
			},
			want: placement.Result{
				SpawnRequests: []placement.SpawnRequest{requested("q-etl", "env-mid-c", "j1")},
				Pending: map[string]placement.Reason{
					"j1": reason(placement.CodeWaitingForSpawn, 1, "waiting for a new spawn of compute environment 'mid-c' in queue 'etl', requested for this job"),
				},
			},
		},
		{
			name: "rule 8: jobs without quotas rotate over the cloud environments starting at the queue's spawn count",
			in: placement.Input{
				Queues: []placement.Queue{queue("etl", 1, rack, cloud("a", 200, 2048, 0.1), cloud("b", 200, 2048, 0.1), cloud("c", 200, 2048, 0.1))},
				Spawns: []placement.Spawn{with(idle("s-1", "etl", 800, 8192), func(s *placement.Spawn) { s.State, s.WholeSpawnTaken, s.Allocations = "busy", true, 1 })},
				Jobs:   []placement.Job{job("w1", "etl", 0, 0, 0), job("w2", "etl", 1, 0, 0), job("w3", "etl", 2, 0, 0)},
			},
			want: placement.Result{
				// One spawn already: start at 1 % 3 = b; the self-hosted rack is never requested.
				SpawnRequests: []placement.SpawnRequest{
					requested("q-etl", "env-b", "w1"), requested("q-etl", "env-c", "w2"), requested("q-etl", "env-a", "w3"),
				},
				Pending: map[string]placement.Reason{
					"w1": reason(placement.CodeWaitingForSpawn, 1, "waiting for a new spawn of compute environment 'b' in queue 'etl', requested for this job"),
					"w2": reason(placement.CodeWaitingForSpawn, 2, "waiting for a new spawn of compute environment 'c' in queue 'etl', requested for this job"),
					"w3": reason(placement.CodeWaitingForSpawn, 3, "waiting for a new spawn of compute environment 'a' in queue 'etl', requested for this job"),
				},
			},
		},
		{
			name: "rule 9: spawns that are not idle or busy take no work",
			in: placement.Input{
				Queues: []placement.Queue{queue("etl", 1, rack)},
				Spawns: []placement.Spawn{
					with(idle("s-1", "etl", 800, 8192), func(s *placement.Spawn) { s.State = "unreachable" }),
					with(idle("s-2", "etl", 800, 8192), func(s *placement.Spawn) { s.State = "initialized" }),
					with(idle("s-3", "etl", 800, 8192), func(s *placement.Spawn) { s.State = "terminating" }),
					with(idle("s-4", "etl", 800, 8192), func(s *placement.Spawn) { s.State = "terminated" }),
				},
				Jobs: []placement.Job{job("j1", "etl", 0, 100, 512)},
			},
			want: placement.Result{
				Pending: map[string]placement.Reason{
					"j1": reason(placement.CodeNoSpawnInQueue, 1, "queue 'etl' has no idle or busy compute spawn, and its compute environments are self-hosted, so placement cannot start one: run the agent on one of your machines"),
				},
			},
		},
		{
			name: "rule 9: an idle spawn still marked requested takes no work; jobs wait for it",
			in: placement.Input{
				Queues: []placement.Queue{queue("etl", 1, rack)},
				Spawns: []placement.Spawn{with(idle("s-1", "etl", 800, 8192), func(s *placement.Spawn) { s.Requested = true })},
				Jobs:   []placement.Job{job("j1", "etl", 0, 100, 512), job("j2", "etl", 1, 0, 0)},
			},
			want: placement.Result{
				Pending: map[string]placement.Reason{
					"j1": reason(placement.CodeWaitingForSpawn, 1, "waiting for spawn 's-1' of compute environment 'rack' in queue 'etl', which is being created"),
					"j2": reason(placement.CodeNoCapacity, 2, noCapSelfHostedWhole),
				},
			},
		},
		{
			name: "queue_disabled: a disabled queue and a queue the round did not load",
			in: placement.Input{
				Queues: []placement.Queue{with(queue("etl", 1, rack), func(q *placement.Queue) { q.Enabled = false })},
				Spawns: []placement.Spawn{idle("s-1", "etl", 800, 8192)},
				Jobs:   []placement.Job{job("e1", "etl", 0, 100, 512), job("g1", "gone", 0, 100, 512), job("g2", "gone", 1, 0, 0)},
			},
			want: placement.Result{
				Pending: map[string]placement.Reason{
					"e1": reason(placement.CodeQueueDisabled, 1, "queue 'etl' is disabled: enable it to run its jobs"),
					"g1": reason(placement.CodeQueueDisabled, 1, "queue 'q-gone' is not among the project's job queues; it may have been deleted"),
					"g2": reason(placement.CodeQueueDisabled, 2, "queue 'q-gone' is not among the project's job queues; it may have been deleted"),
				},
			},
		},
		{
			name: "no_spawn_in_queue: a queue without compute environments",
			in: placement.Input{
				Queues: []placement.Queue{queue("etl", 1)},
				Jobs:   []placement.Job{job("j1", "etl", 0, 0, 0)},
			},
			want: placement.Result{
				Pending: map[string]placement.Reason{
					"j1": reason(placement.CodeNoSpawnInQueue, 1, "queue 'etl' has no idle or busy compute spawn and no compute environment to create one: add a compute environment to the queue"),
				},
			},
		},
		{
			name: "no_spawn_in_queue: max spawns taken by spawns that cannot take work",
			in: placement.Input{
				Queues: []placement.Queue{with(queue("etl", 1, cloud("a", 200, 2048, 0.1)), func(q *placement.Queue) { q.MaxSpawns = 2 })},
				Spawns: []placement.Spawn{
					with(idle("s-1", "etl", 200, 2048), func(s *placement.Spawn) { s.State = "unreachable" }),
					with(idle("s-2", "etl", 200, 2048), func(s *placement.Spawn) { s.State = "terminating" }),
				},
				Jobs: []placement.Job{job("j1", "etl", 0, 0, 0)},
			},
			want: placement.Result{
				Pending: map[string]placement.Reason{
					"j1": reason(placement.CodeNoSpawnInQueue, 1, "queue 'etl' has no idle or busy compute spawn and may not create one: it is at its max spawns (2) with spawns that cannot take work (unreachable, initializing or terminating)"),
				},
			},
		},
		{
			name: "no_spawn_in_queue: no instance type holds the job, and the only spawn that would is unreachable",
			in: placement.Input{
				Queues: []placement.Queue{queue("etl", 1, cloud("a", 200, 2048, 0.1))},
				Spawns: []placement.Spawn{with(idle("s-1", "etl", 800, 8192), func(s *placement.Spawn) { s.State = "unreachable" })},
				Jobs:   []placement.Job{job("j1", "etl", 0, 800, 4096)},
			},
			want: placement.Result{
				Pending: map[string]placement.Reason{
					"j1": reason(placement.CodeNoSpawnInQueue, 1, "queue 'etl' has no idle or busy compute spawn, and none of its cloud compute environments offers 800% CPU and 4096 MB"),
				},
			},
		},
		{
			name: "no_capacity: a spawn holds the job once it frees up, and no instance type could",
			in: placement.Input{
				Queues: []placement.Queue{queue("etl", 1, rack, cloud("a", 200, 2048, 0.1))},
				Spawns: []placement.Spawn{busy("s-1", "etl", 800, 8192, 400, 4096)},
				Jobs:   []placement.Job{job("j1", "etl", 0, 800, 1024)},
			},
			want: placement.Result{
				Pending: map[string]placement.Reason{
					"j1": reason(placement.CodeNoCapacity, 1, "no spawn of queue 'etl' has 800% CPU and 1024 MB free, and none of its cloud compute environments offers that much, so a new spawn would not help"),
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want.Pending == nil {
				tt.want.Pending = map[string]placement.Reason{}
			}
			assert.Equal(t, tt.want, placement.Place(tt.in))
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
			detail := "waiting for a new spawn of compute environment 'vm' in queue 'etl', requested for this job"
			if i%4 == 0 {
				want.SpawnRequests = append(want.SpawnRequests, requested("q-etl", "env-vm", id))
			} else {
				detail = fmt.Sprintf("waiting for a new spawn of compute environment 'vm' in queue 'etl', requested for job 'j%03d'", i-i%4)
			}
			want.Pending[id] = reason(placement.CodeWaitingForSpawn, i+1, detail)
		}
		got := placement.Place(in)
		assert.Equal(t, want, got)
		assert.Len(t, got.SpawnRequests, 125)
	})
	t.Run("500 jobs without quotas ask for one spawn each, up to max spawns", func(t *testing.T) {
		in := placement.Input{Queues: []placement.Queue{with(queue("etl", 1, cloud("a", 200, 2048, 0.1), cloud("b", 200, 2048, 0.1)),
			func(q *placement.Queue) { q.MaxSpawns = 20 })}}
		want := placement.Result{Pending: map[string]placement.Reason{}}
		for i := range 500 {
			id := fmt.Sprintf("w%03d", i)
			in.Jobs = append(in.Jobs, job(id, "etl", i, 0, 0))
			if i < 20 {
				env := []string{"a", "b"}[i%2]
				want.SpawnRequests = append(want.SpawnRequests, requested("q-etl", "env-"+env, id))
				want.Pending[id] = reason(placement.CodeWaitingForSpawn, i+1,
					fmt.Sprintf("waiting for a new spawn of compute environment '%s' in queue 'etl', requested for this job", env))
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
