package placement_test

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/placement"
)

// states weights idle and busy up so that most random spawns take work.
var states = []string{"idle", "busy", "idle", "busy", "requested", "initialized", "unreachable",
	"terminating", "termination_failed", "terminated", "failed"}

// decodeInput turns arbitrary bytes into a valid Input (unique IDs, small
// non-negative numbers), reading 0 once the bytes run out. Small ranges make
// ties, full spawns, limits and unknown queues common.
func decodeInput(data []byte) placement.Input {
	next := func(n int) int {
		if len(data) == 0 {
			return 0
		}
		v := int(data[0])
		data = data[1:]
		return v % n
	}
	var in placement.Input
	nq := 1 + next(4)
	for qi := range nq {
		q := placement.Queue{
			ID:             fmt.Sprintf("q%d", qi),
			Name:           fmt.Sprintf("queue-%d", qi),
			Priority:       1 + next(3),
			MaxConcurrency: []int{0, 0, 0, 1, 2, 4, 8}[next(7)],
			MaxSpawns:      next(5),
			Enabled:        next(8) != 0,
			Allocated:      next(4),
		}
		for ei := range next(4) {
			q.ComputeEnvs = append(q.ComputeEnvs, placement.ComputeEnv{
				ID:          fmt.Sprintf("q%d-e%d", qi, ei),
				SelfHosted:  next(3) == 0,
				CPUPct:      (1 + next(8)) * 100,
				MemoryMB:    (1 + next(8)) * 1024,
				HourlyPrice: float64(next(4)) / 10,
			})
		}
		in.Queues = append(in.Queues, q)
	}
	for si := range next(16) {
		q := in.Queues[next(nq)]
		s := placement.Spawn{
			ID:            fmt.Sprintf("s%02d", si),
			QueueID:       q.ID,
			State:         states[next(len(states))],
			TotalCPUPct:   (1 + next(8)) * 100,
			TotalMemoryMB: (1 + next(8)) * 1024,
		}
		if len(q.ComputeEnvs) > 0 {
			s.ComputeEnvID = q.ComputeEnvs[next(len(q.ComputeEnvs))].ID
		}
		s.Requested = s.State == "requested" || next(8) == 0
		switch next(4) {
		case 0: // empty
		case 1:
			s.WholeSpawnTaken, s.Allocations = true, 1
		default:
			s.Allocations = 1 + next(3)
			s.AllocatedCPUPct = next(10) * 50
			s.AllocatedMemoryMB = next(10) * 512
		}
		if s.Requested && next(2) == 0 {
			s.TotalCPUPct, s.TotalMemoryMB = 0, 0
		}
		in.Spawns = append(in.Spawns, s)
	}
	for ji := range next(48) {
		qid := "q-unknown"
		if qi := next(4*nq + 1); qi < 4*nq {
			qid = in.Queues[qi/4].ID
		}
		j := placement.Job{ID: fmt.Sprintf("j%03d", ji), QueueID: qid, RunnableAt: t0.Add(time.Duration(next(6)) * time.Minute)}
		if next(4) != 0 {
			j.CPUQuotaPct = (1 + next(12)) * 50
			j.MemoryMB = (1 + next(12)) * 512
		}
		in.Jobs = append(in.Jobs, j)
	}
	return in
}

// checkInvariants lists every way res breaks the placement rules for in.
func checkInvariants(in placement.Input, res placement.Result) []string {
	var bad []string
	fail := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }

	queues := map[string]placement.Queue{}
	for _, q := range in.Queues {
		queues[q.ID] = q
	}
	spawns := map[string]placement.Spawn{}
	live := map[string]int{}
	for _, s := range in.Spawns {
		spawns[s.ID] = s
		if s.State != "terminated" && s.State != "failed" {
			live[s.QueueID]++
		}
	}
	jobs := map[string]placement.Job{}
	byQueue := map[string][]placement.Job{}
	for _, j := range in.Jobs {
		jobs[j.ID] = j
		byQueue[j.QueueID] = append(byQueue[j.QueueID], j)
	}
	position := map[string]int{}
	for _, js := range byQueue {
		slices.SortFunc(js, func(a, b placement.Job) int {
			return cmp.Or(a.RunnableAt.Compare(b.RunnableAt), cmp.Compare(a.ID, b.ID))
		})
		for i, j := range js {
			position[j.ID] = i + 1
		}
	}
	hasQuota := func(j placement.Job) bool { return j.CPUQuotaPct > 0 || j.MemoryMB > 0 }

	// Each job exactly once.
	seen := map[string]int{}
	for _, a := range res.Assignments {
		seen[a.JobID]++
	}
	for id := range res.Pending {
		seen[id]++
	}
	for id, n := range seen {
		if _, ok := jobs[id]; !ok {
			fail("job %s is in the result but not in the input", id)
		}
		if n != 1 {
			fail("job %s appears %d times", id, n)
		}
	}
	for id := range jobs {
		if seen[id] == 0 {
			fail("job %s is neither assigned nor pending", id)
		}
	}

	// Assignments: right spawn, right amounts, capacity, whole spawns alone.
	type use struct{ cpu, mem, n, whole int }
	used := map[string]*use{}
	perQueue := map[string]int{}
	for _, a := range res.Assignments {
		j, s := jobs[a.JobID], spawns[a.SpawnID]
		if s.ID == "" {
			fail("job %s assigned to unknown spawn %s", a.JobID, a.SpawnID)
			continue
		}
		if s.State != "idle" && s.State != "busy" || s.Requested {
			fail("job %s assigned to spawn %s in state %s (requested %v)", a.JobID, s.ID, s.State, s.Requested)
		}
		if s.QueueID != j.QueueID {
			fail("job %s of %s assigned to spawn %s of %s", j.ID, j.QueueID, s.ID, s.QueueID)
		}
		if q, ok := queues[j.QueueID]; !ok || !q.Enabled {
			fail("job %s of disabled or unknown queue %s assigned", j.ID, j.QueueID)
		}
		if a.CPUPct != j.CPUQuotaPct || a.MemoryMB != j.MemoryMB {
			fail("job %s allocation %d/%d, quota %d/%d", j.ID, a.CPUPct, a.MemoryMB, j.CPUQuotaPct, j.MemoryMB)
		}
		if !hasQuota(j) && !a.WholeSpawn {
			fail("job %s without quotas does not hold its spawn whole", j.ID)
		}
		u := used[s.ID]
		if u == nil {
			u = &use{}
			used[s.ID] = u
		}
		u.n++
		if a.WholeSpawn {
			u.whole++
		} else {
			u.cpu += a.CPUPct
			u.mem += a.MemoryMB
		}
		perQueue[j.QueueID]++
	}
	for id, u := range used {
		s := spawns[id]
		if u.whole > 0 && (u.n > 1 || s.Allocations > 0 || s.AllocatedCPUPct > 0 || s.AllocatedMemoryMB > 0 || s.WholeSpawnTaken) {
			fail("spawn %s held whole is shared: %d new allocations, %d before", id, u.n, s.Allocations)
		}
		if u.whole == 0 && s.WholeSpawnTaken {
			fail("spawn %s already held whole took %d jobs", id, u.n)
		}
		if u.cpu > max(s.TotalCPUPct-s.AllocatedCPUPct, 0) || u.mem > max(s.TotalMemoryMB-s.AllocatedMemoryMB, 0) {
			fail("spawn %s over capacity: +%d/%d on %d/%d of %d/%d", id, u.cpu, u.mem,
				s.AllocatedCPUPct, s.AllocatedMemoryMB, s.TotalCPUPct, s.TotalMemoryMB)
		}
	}

	// Pending: positions, codes, disabled queues, no room left behind.
	codes := []placement.Code{placement.CodeQueueDisabled, placement.CodeQueueConcurrencyLimit, placement.CodeNoSpawnInQueue,
		placement.CodeNoCapacity, placement.CodeWaitingForSpawn, placement.CodeSpawnLimitReached}
	waiting := map[string]int{}
	for id, r := range res.Pending {
		j := jobs[id]
		if r.Position != position[id] {
			fail("job %s position %d, want %d", id, r.Position, position[id])
		}
		if !slices.Contains(codes, r.Code) || r.Detail == "" {
			fail("job %s has reason %+v", id, r)
		}
		if q, ok := queues[j.QueueID]; (!ok || !q.Enabled) != (r.Code == placement.CodeQueueDisabled) {
			fail("job %s of queue %s (known %v, enabled %v) pending with %s", id, j.QueueID, ok, q.Enabled, r.Code)
		}
		if r.Code == placement.CodeWaitingForSpawn {
			waiting[j.QueueID]++
		}
		if r.Code == placement.CodeNoCapacity || r.Code == placement.CodeSpawnLimitReached || r.Code == placement.CodeNoSpawnInQueue {
			for _, s := range in.Spawns {
				if s.QueueID != j.QueueID || s.State != "idle" && s.State != "busy" || s.Requested {
					continue
				}
				u := used[s.ID]
				if u == nil {
					u = &use{}
				}
				empty := u.n == 0 && s.Allocations == 0 && s.AllocatedCPUPct == 0 && s.AllocatedMemoryMB == 0 && !s.WholeSpawnTaken
				roomy := u.whole == 0 && !s.WholeSpawnTaken &&
					s.TotalCPUPct-s.AllocatedCPUPct-u.cpu >= j.CPUQuotaPct && s.TotalMemoryMB-s.AllocatedMemoryMB-u.mem >= j.MemoryMB
				if !hasQuota(j) && empty || hasQuota(j) && roomy {
					fail("job %s pending with %s while spawn %s has room", id, r.Code, s.ID)
				}
			}
		}
	}

	// Spawn requests: a cloud env of an enabled queue, for a distinct waiting job.
	requests := map[string]int{}
	forJob := map[string]bool{}
	for _, sr := range res.SpawnRequests {
		q, ok := queues[sr.QueueID]
		if !ok || !q.Enabled {
			fail("spawn requested for disabled or unknown queue %s", sr.QueueID)
		}
		if i := slices.IndexFunc(q.ComputeEnvs, func(e placement.ComputeEnv) bool { return e.ID == sr.ComputeEnvID }); i < 0 || q.ComputeEnvs[i].SelfHosted {
			fail("spawn requested from %s, not a cloud environment of %s", sr.ComputeEnvID, sr.QueueID)
		}
		if j := jobs[sr.ForJobID]; j.QueueID != sr.QueueID || res.Pending[j.ID].Code != placement.CodeWaitingForSpawn || forJob[j.ID] {
			fail("spawn requested for job %s, which is not a distinct waiting job of %s", sr.ForJobID, sr.QueueID)
		}
		forJob[sr.ForJobID] = true
		requests[sr.QueueID]++
	}

	// Queue limits.
	for _, q := range in.Queues {
		if n := perQueue[q.ID] + waiting[q.ID]; q.MaxConcurrency > 0 && n > 0 && q.Allocated+n > q.MaxConcurrency {
			fail("queue %s over max concurrency %d: %d allocated + %d placed or waiting", q.ID, q.MaxConcurrency, q.Allocated, n)
		}
		if q.MaxSpawns > 0 && requests[q.ID] > 0 && live[q.ID]+requests[q.ID] > q.MaxSpawns {
			fail("queue %s over max spawns %d: %d live + %d requested", q.ID, q.MaxSpawns, live[q.ID], requests[q.ID])
		}
	}

	// Assignments come out in the order jobs are considered.
	prio := func(id string) int {
		if q, ok := queues[id]; ok {
			return q.Priority
		}
		return 1 << 30
	}
	if !slices.IsSortedFunc(res.Assignments, func(a, b placement.Assignment) int {
		ja, jb := jobs[a.JobID], jobs[b.JobID]
		return cmp.Or(cmp.Compare(prio(ja.QueueID), prio(jb.QueueID)), cmp.Compare(ja.QueueID, jb.QueueID),
			ja.RunnableAt.Compare(jb.RunnableAt), cmp.Compare(ja.ID, jb.ID))
	}) {
		fail("assignments are not in queue priority and runnable order")
	}
	return bad
}

// shuffled returns in with its slices in another order; Place must not care.
func shuffled(in placement.Input, rng *rand.Rand) placement.Input {
	out := placement.Input{Queues: slices.Clone(in.Queues), Spawns: slices.Clone(in.Spawns), Jobs: slices.Clone(in.Jobs)}
	rng.Shuffle(len(out.Queues), func(i, j int) { out.Queues[i], out.Queues[j] = out.Queues[j], out.Queues[i] })
	rng.Shuffle(len(out.Spawns), func(i, j int) { out.Spawns[i], out.Spawns[j] = out.Spawns[j], out.Spawns[i] })
	rng.Shuffle(len(out.Jobs), func(i, j int) { out.Jobs[i], out.Jobs[j] = out.Jobs[j], out.Jobs[i] })
	return out
}

// deepCopy copies in, env lists included, to prove Place leaves it alone.
func deepCopy(in placement.Input) placement.Input {
	out := placement.Input{Queues: slices.Clone(in.Queues), Spawns: slices.Clone(in.Spawns), Jobs: slices.Clone(in.Jobs)}
	for i := range out.Queues {
		out.Queues[i].ComputeEnvs = slices.Clone(out.Queues[i].ComputeEnvs)
	}
	return out
}

func checkPlace(t *testing.T, in placement.Input, rng *rand.Rand) {
	t.Helper()
	before := deepCopy(in)
	res := placement.Place(in)
	require.Equal(t, before, in, "Place changed its input")
	if bad := checkInvariants(in, res); len(bad) > 0 {
		t.Fatalf("invariants broken for input %+v:\n%s", in, fmt.Sprint(bad))
	}
	for range 3 {
		require.Equal(t, res, placement.Place(shuffled(in, rng)), "result depends on input order")
	}
}

func TestPlaceInvariants(t *testing.T) {
	// seen proves the random inputs reach every outcome, so the invariants
	// are checked against more than empty results.
	seen := map[string]int{}
	for seed := range uint64(400) {
		rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
		data := make([]byte, rng.IntN(400))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		in := decodeInput(data)
		t.Run(fmt.Sprint(seed), func(t *testing.T) { checkPlace(t, in, rng) })
		res := placement.Place(in)
		for _, r := range res.Pending {
			seen[string(r.Code)]++
		}
		for _, a := range res.Assignments {
			switch {
			case !a.WholeSpawn:
				seen["packed"]++
			case a.CPUPct == 0 && a.MemoryMB == 0:
				seen["whole"]++
			default:
				seen["oversize"]++
			}
		}
		seen["spawn requests"] += len(res.SpawnRequests)
	}
	for _, outcome := range []string{"queue_disabled", "queue_concurrency_limit", "no_spawn_in_queue", "no_capacity",
		"waiting_for_spawn", "spawn_limit_reached", "packed", "whole", "oversize", "spawn requests"} {
		assert.Positive(t, seen[outcome], "no random input led to %s", outcome)
	}
	t.Log(seen)
}

// TestInvariantCheckerCatchesBreakage keeps the checker honest: a result
// that breaks the rules must be reported.
func TestInvariantCheckerCatchesBreakage(t *testing.T) {
	in := placement.Input{
		Queues: []placement.Queue{with(queue("etl", 1, rack), func(q *placement.Queue) { q.MaxConcurrency = 1 })},
		Spawns: []placement.Spawn{idle("s-1", "etl", 100, 512)},
		Jobs:   []placement.Job{job("j1", "etl", 0, 100, 512), job("j2", "etl", 1, 100, 512)},
	}
	broken := placement.Result{
		Assignments: []placement.Assignment{assigned("j2", "s-1", 100, 512, false), assigned("j1", "s-1", 100, 512, false)},
		Pending:     map[string]placement.Reason{},
	}
	bad := checkInvariants(in, broken)
	assert.Contains(t, bad, "spawn s-1 over capacity: +200/1024 on 0/0 of 100/512")
	assert.Contains(t, bad, "queue q-etl over max concurrency 1: 0 allocated + 2 placed or waiting")
	assert.Contains(t, bad, "assignments are not in queue priority and runnable order")
	assert.Empty(t, checkInvariants(in, placement.Place(in)))
}

func FuzzPlace(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{3, 1, 0, 0, 1, 0, 2, 1, 1, 1, 0, 0, 0, 5, 0, 0, 3, 3, 0, 0, 0, 40})
	f.Add([]byte("placement: one job at a time, by queue priority, then runnable order"))
	f.Add([]byte{1, 2, 4, 3, 7, 1, 3, 1, 7, 7, 2, 8, 0, 4, 4, 2, 2, 2, 9, 9, 9, 9, 47, 1, 1, 1, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		h := fnv.New64a()
		h.Write(data)
		checkPlace(t, decodeInput(data), rand.New(rand.NewPCG(h.Sum64(), 1)))
	})
}
