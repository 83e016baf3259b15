package placement

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"daestro/internal/domain"
)

// Place decides one dispatcher round for one project: which runnable jobs go
// on which spawns, which queues get a new spawn, and why every other job
// waits. It is a pure function of in: no I/O, no clock, no randomness, and
// the same snapshot in any slice order gives the same Result. The package
// documentation walks through the rules.
func Place(in Input) Result {
	r := newRound(in)
	for i := range r.jobs {
		r.place(&r.jobs[i])
	}
	return r.res
}

// round is the working state of one Place call.
type round struct {
	// jobs are the runnable jobs in the order they are considered.
	jobs []jobEntry
	// res accumulates the answer.
	res Result
}

// jobEntry is a job with what sorting found out about it.
type jobEntry struct {
	Job
	// qs is the job's queue; never nil, possibly of an unknown queue.
	qs *queueState
	// position is the job's 1-based place in its queue's runnable order.
	position int
}

// size is an amount of CPU (100 = one core) and memory (MB).
type size struct {
	cpu, mem int
}

// covers reports whether s has at least n of both resources.
func (s size) covers(n size) bool { return s.cpu >= n.cpu && s.mem >= n.mem }

// queueState is one queue's limits and bins as the round progresses.
type queueState struct {
	// id is the queue ID the jobs named.
	id string
	// queue is the loaded queue; nil when no queue of that ID was in the
	// input, and then its jobs are treated as a disabled queue's.
	queue *Queue
	// cloudEnvs are the environments placement may request spawns from, in
	// the queue's order.
	cloudEnvs []*ComputeEnv
	// resting counts the cloud environments placement may not request a
	// spawn of now (ComputeEnv.NoNewSpawns).
	resting int
	// envs finds any of the queue's environments by ID.
	envs map[string]*ComputeEnv
	// live are the spawns that take work now, by spawn ID.
	live []*bin
	// projected are the spawns being created, by spawn ID, then the ones
	// requested this round in request order.
	projected []*bin
	// capacities are the totals of every non-final spawn (projected for
	// those being created) and every cloud environment: a quota that none
	// covers can never be packed, which is what lets a job take an empty
	// spawn whole (rule 4).
	capacities []size
	// spawns counts live spawns against MaxSpawns: every non-final spawn,
	// those being created, and this round's requests.
	spawns int
	// demand counts jobs against MaxConcurrency: Allocated, this round's
	// assignments and the jobs now waiting for a spawn, so that a queue
	// never asks for machines its limit would leave idle.
	demand int
}

// name is what users call the queue in a Reason detail.
func (qs *queueState) name() string {
	if qs.queue != nil && qs.queue.Name != "" {
		return qs.queue.Name
	}
	return qs.id
}

// envName is what users call an environment of the queue.
func (qs *queueState) envName(id string) string {
	if e := qs.envs[id]; e != nil && e.Name != "" {
		return e.Name
	}
	return id
}

// atSpawnLimit reports whether the queue may not have one more spawn.
func (qs *queueState) atSpawnLimit() bool {
	return qs.queue.MaxSpawns > 0 && qs.spawns >= qs.queue.MaxSpawns
}

// canGrow reports whether placement may request a spawn for the queue.
func (qs *queueState) canGrow() bool {
	return len(qs.cloudEnvs) > 0 && !qs.atSpawnLimit()
}

// roundRobin picks the environment for a job without quota. Starting at the
// queue's spawn count (which includes spawns being created and this round's
// requests) rotates through the environments both within a round and across
// rounds without placement having to remember anything: each request raises
// the count by one. Terminations lower it, so the rotation is fair over time
// rather than strictly cyclic.
func (qs *queueState) roundRobin() *ComputeEnv {
	return qs.cloudEnvs[qs.spawns%len(qs.cloudEnvs)]
}

// bestFit picks the environment for a job with quota: the smallest instance
// type that covers it (by CPU, then memory), then the cheapest, then the
// first in the queue's order. ok is false when none covers it.
func (qs *queueState) bestFit(need size) (best *ComputeEnv, ok bool) {
	for _, e := range qs.cloudEnvs {
		if !(size{e.CPUPct, e.MemoryMB}).covers(need) {
			continue
		}
		if best == nil || cmp.Or(cmp.Compare(e.CPUPct, best.CPUPct), cmp.Compare(e.MemoryMB, best.MemoryMB),
			cmp.Compare(e.HourlyPrice, best.HourlyPrice)) < 0 {
			best = e
		}
	}
	return best, best != nil
}

// largest picks the environment for a job no instance type covers: the
// biggest (by CPU, then memory), which overcommits least, then the cheapest,
// then the first in the queue's order.
func (qs *queueState) largest() *ComputeEnv {
	var best *ComputeEnv
	for _, e := range qs.cloudEnvs {
		if best == nil || cmp.Or(cmp.Compare(best.CPUPct, e.CPUPct), cmp.Compare(best.MemoryMB, e.MemoryMB),
			cmp.Compare(e.HourlyPrice, best.HourlyPrice)) < 0 {
			best = e
		}
	}
	return best
}

// oversize reports whether need exceeds the total of every spawn and cloud
// environment of the queue, so that waiting would never help.
func (qs *queueState) oversize(need size) bool {
	for _, c := range qs.capacities {
		if c.covers(need) {
			return false
		}
	}
	return true
}

// bin is a spawn that takes work, or a projected one being created.
type bin struct {
	// spawnID is the spawn's ID; empty for a spawn requested this round.
	spawnID string
	// envID is the environment the spawn is (being) made from.
	envID string
	// request indexes Result.SpawnRequests for a spawn requested this round;
	// -1 otherwise.
	request int
	// total is what the spawn offers, projected from its environment while
	// it is being created.
	total size
	// used is what allocations hold, this round's included.
	used size
	// allocs counts allocations, this round's included.
	allocs int
	// whole is set once a job holds the spawn alone.
	whole bool
}

// free is what is left; an overcommitted spawn has nothing left, not less.
func (b *bin) free() size {
	return size{max(b.total.cpu-b.used.cpu, 0), max(b.total.mem-b.used.mem, 0)}
}

// empty reports whether a job may take the spawn whole. Allocated amounts
// are checked too so that a snapshot whose counters disagree errs on the
// side of not sharing.
func (b *bin) empty() bool {
	return b.allocs == 0 && b.used == (size{}) && !b.whole
}

// leastImpact returns the bin where need has the lowest impact, among bins
// with room for it or, with wholeOnly, among empty bins regardless of room.
// Ties go to the earlier bin: spawns are sorted by ID.
func leastImpact(bins []*bin, need size, wholeOnly bool) *bin {
	var best *bin
	var bestImpact ratio
	for _, b := range bins {
		free := b.free()
		if wholeOnly && !b.empty() || !wholeOnly && (b.whole || !free.covers(need)) {
			continue
		}
		im := impact(need.cpu, need.mem, free.cpu, free.mem)
		if best == nil || im.less(bestImpact) {
			best, bestImpact = b, im
		}
	}
	return best
}

// firstEmpty returns the first empty bin. A job without quota takes all of
// any empty spawn, so every empty spawn has the same impact and the tie
// rule (spawn ID) decides.
func firstEmpty(bins []*bin) *bin {
	for _, b := range bins {
		if b.empty() {
			return b
		}
	}
	return nil
}

// newRound indexes the input and sorts the jobs into the order they are
// considered.
func newRound(in Input) *round {
	queues := make(map[string]*queueState, len(in.Queues))
	for i := range in.Queues {
		q := &in.Queues[i]
		if queues[q.ID] != nil {
			continue
		}
		qs := &queueState{id: q.ID, queue: q, envs: make(map[string]*ComputeEnv, len(q.ComputeEnvs)), demand: q.Allocated}
		for k := range q.ComputeEnvs {
			e := &q.ComputeEnvs[k]
			qs.envs[e.ID] = e
			switch {
			case !e.SelfHosted && e.NoNewSpawns:
				qs.resting++
			case !e.SelfHosted:
				qs.cloudEnvs = append(qs.cloudEnvs, e)
				qs.capacities = append(qs.capacities, size{e.CPUPct, e.MemoryMB})
			}
		}
		queues[q.ID] = qs
	}

	spawns := slices.Clone(in.Spawns)
	slices.SortFunc(spawns, func(a, b Spawn) int { return cmp.Compare(a.ID, b.ID) })
	for _, s := range spawns {
		qs := queues[s.QueueID]
		if qs == nil || domain.SpawnStateIsFinal(s.State) {
			continue
		}
		qs.spawns++
		if s.State == domain.SpawnTerminationFailed {
			// Its machine may still exist and bill: it counts against
			// MaxSpawns, but it takes no work and offers no capacity.
			continue
		}
		requested := s.Requested || s.State == domain.SpawnRequested
		total := size{s.TotalCPUPct, s.TotalMemoryMB}
		if e := qs.envs[s.ComputeEnvID]; requested && total == (size{}) && e != nil && !e.SelfHosted {
			total = size{e.CPUPct, e.MemoryMB}
		}
		qs.capacities = append(qs.capacities, total)
		b := &bin{
			spawnID: s.ID,
			envID:   s.ComputeEnvID,
			request: -1,
			total:   total,
			used:    size{s.AllocatedCPUPct, s.AllocatedMemoryMB},
			allocs:  s.Allocations,
			whole:   s.WholeSpawnTaken,
		}
		switch {
		case requested:
			qs.projected = append(qs.projected, b)
		case s.State == domain.SpawnIdle || s.State == domain.SpawnBusy:
			qs.live = append(qs.live, b)
		}
	}

	r := &round{jobs: make([]jobEntry, len(in.Jobs)), res: Result{Pending: make(map[string]Reason)}}
	for i, j := range in.Jobs {
		qs := queues[j.QueueID]
		if qs == nil {
			qs = &queueState{id: j.QueueID}
			queues[j.QueueID] = qs
		}
		r.jobs[i] = jobEntry{Job: j, qs: qs}
	}
	slices.SortFunc(r.jobs, func(a, b jobEntry) int {
		return cmp.Or(
			cmp.Compare(priority(a.qs), priority(b.qs)),
			cmp.Compare(a.QueueID, b.QueueID),
			a.RunnableAt.Compare(b.RunnableAt),
			cmp.Compare(a.ID, b.ID),
		)
	})
	seen := make(map[*queueState]int, len(queues))
	for i := range r.jobs {
		seen[r.jobs[i].qs]++
		r.jobs[i].position = seen[r.jobs[i].qs]
	}
	return r
}

// priority orders queues; an unknown queue's jobs come last.
func priority(qs *queueState) int {
	if qs.queue == nil {
		return math.MaxInt
	}
	return qs.queue.Priority
}

// place decides one job, in the order of DESIGN.md's placement rules.
func (r *round) place(j *jobEntry) {
	qs, q := j.qs, j.qs.queue
	switch {
	case q == nil:
		r.pend(j, CodeQueueDisabled, fmt.Sprintf("queue '%s' is not among the project's job queues; it may have been deleted", qs.name()))
	case !q.Enabled:
		r.pend(j, CodeQueueDisabled, fmt.Sprintf("queue '%s' is disabled: enable it to run its jobs", qs.name()))
	case q.MaxConcurrency > 0 && qs.demand >= q.MaxConcurrency:
		r.pend(j, CodeQueueConcurrencyLimit, fmt.Sprintf("queue '%s' runs at most %s at once; %s running or about to start",
			qs.name(), jobs(q.MaxConcurrency), isAre(qs.demand)))
	case j.hasQuota():
		r.placeQuota(j)
	default:
		r.placeWhole(j)
	}
}

// placeWhole places a job without quota: it needs an empty spawn to itself.
func (r *round) placeWhole(j *jobEntry) {
	qs := j.qs
	if b := firstEmpty(qs.live); b != nil {
		r.assign(j, b, true)
		return
	}
	if b := firstEmpty(qs.projected); b != nil {
		r.wait(j, b, true)
		return
	}
	if qs.canGrow() {
		r.wait(j, r.request(j, qs.roundRobin()), true)
		return
	}
	r.fail(j)
}

// placeQuota places a job with quota: packed where it fits, on a spawn being
// created, on a new best-fit spawn, and only when it fits nowhere ever,
// alone on an empty spawn.
func (r *round) placeQuota(j *jobEntry) {
	qs := j.qs
	need := size{j.CPUQuotaPct, j.MemoryMB}
	if b := leastImpact(qs.live, need, false); b != nil {
		r.assign(j, b, false)
		return
	}
	if b := leastImpact(qs.projected, need, false); b != nil {
		r.wait(j, b, false)
		return
	}
	if qs.canGrow() {
		if e, ok := qs.bestFit(need); ok {
			r.wait(j, r.request(j, e), false)
			return
		}
	}
	if qs.oversize(need) {
		if b := leastImpact(qs.live, need, true); b != nil {
			r.assign(j, b, true)
			return
		}
		if b := leastImpact(qs.projected, need, true); b != nil {
			r.wait(j, b, true)
			return
		}
		if qs.canGrow() {
			r.wait(j, r.request(j, qs.largest()), true)
			return
		}
	}
	r.fail(j)
}

// take books the job on b.
func (r *round) take(j *jobEntry, b *bin, whole bool) {
	b.used.cpu += j.CPUQuotaPct
	b.used.mem += j.MemoryMB
	b.allocs++
	b.whole = b.whole || whole
	j.qs.demand++
}

// assign places the job on a spawn that takes work now.
func (r *round) assign(j *jobEntry, b *bin, whole bool) {
	r.take(j, b, whole)
	r.res.Assignments = append(r.res.Assignments, Assignment{
		JobID: j.ID, SpawnID: b.spawnID, CPUPct: j.CPUQuotaPct, MemoryMB: j.MemoryMB, WholeSpawn: whole,
	})
}

// wait books the job on a spawn being created; it stays pending until the
// spawn is up and a later round assigns it.
func (r *round) wait(j *jobEntry, b *bin, whole bool) {
	r.take(j, b, whole)
	qs := j.qs
	var detail string
	switch {
	case b.request < 0:
		detail = fmt.Sprintf("waiting for spawn '%s' of compute environment '%s' in queue '%s', which is being created",
			b.spawnID, qs.envName(b.envID), qs.name())
	case r.res.SpawnRequests[b.request].ForJobID == j.ID:
		detail = fmt.Sprintf("waiting for a new spawn of compute environment '%s' in queue '%s', requested for this job",
			qs.envName(b.envID), qs.name())
	default:
		detail = fmt.Sprintf("waiting for a new spawn of compute environment '%s' in queue '%s', requested for job '%s'",
			qs.envName(b.envID), qs.name(), r.res.SpawnRequests[b.request].ForJobID)
	}
	r.pend(j, CodeWaitingForSpawn, detail)
}

// request asks for a new spawn of e for the job and returns its projected bin.
func (r *round) request(j *jobEntry, e *ComputeEnv) *bin {
	qs := j.qs
	qs.spawns++
	r.res.SpawnRequests = append(r.res.SpawnRequests, SpawnRequest{QueueID: qs.id, ComputeEnvID: e.ID, ForJobID: j.ID})
	b := &bin{envID: e.ID, request: len(r.res.SpawnRequests) - 1, total: size{e.CPUPct, e.MemoryMB}}
	qs.projected = append(qs.projected, b)
	return b
}

// fail records why a job of an enabled queue below its concurrency limit
// found no place: no usable spawn at all, no room and no more spawns
// allowed, or no room and no spawn that could be added would help.
func (r *round) fail(j *jobEntry) {
	qs := j.qs
	q := qs.queue
	usable := len(qs.live) + len(qs.projected)
	switch {
	case usable == 0 && len(q.ComputeEnvs) == 0:
		r.pend(j, CodeNoSpawnInQueue, fmt.Sprintf("queue '%s' has no idle or busy compute spawn and no compute environment to create one: add a compute environment to the queue",
			qs.name()))
	case usable == 0 && len(qs.cloudEnvs) == 0 && qs.resting > 0:
		r.pend(j, CodeNoSpawnInQueue, fmt.Sprintf("queue '%s' has no idle or busy compute spawn, and its cloud compute environments are disabled or resting for a few minutes after a spawn of theirs failed (that spawn's system_note says why): a spawn is requested again once one can be",
			qs.name()))
	case usable == 0 && len(qs.cloudEnvs) == 0:
		r.pend(j, CodeNoSpawnInQueue, fmt.Sprintf("queue '%s' has no idle or busy compute spawn, and its compute environments are self-hosted, so placement cannot start one: run the agent on one of your machines",
			qs.name()))
	case usable == 0 && qs.atSpawnLimit():
		r.pend(j, CodeNoSpawnInQueue, fmt.Sprintf("queue '%s' has no idle or busy compute spawn and may not create one: it is at its max spawns (%d) with spawns that cannot take work (unreachable, initializing, terminating, or whose termination failed: their machines may still bill)",
			qs.name(), q.MaxSpawns))
	case usable == 0:
		r.pend(j, CodeNoSpawnInQueue, fmt.Sprintf("queue '%s' has no idle or busy compute spawn, and none of its cloud compute environments offers %d%% CPU and %d MB",
			qs.name(), j.CPUQuotaPct, j.MemoryMB))
	case len(qs.cloudEnvs) > 0 && qs.atSpawnLimit():
		r.pend(j, CodeSpawnLimitReached, fmt.Sprintf("queue '%s' is at its max spawns (%d), and none of its spawns %s",
			qs.name(), q.MaxSpawns, room(j)))
	case len(qs.cloudEnvs) == 0 && qs.resting > 0:
		r.pend(j, CodeNoCapacity, fmt.Sprintf("no spawn of queue '%s' %s, and its cloud compute environments are disabled or resting for a few minutes after a spawn of theirs failed (that spawn's system_note says why)",
			qs.name(), room(j)))
	case len(qs.cloudEnvs) == 0:
		r.pend(j, CodeNoCapacity, fmt.Sprintf("no spawn of queue '%s' %s, and its compute environments are self-hosted, so placement cannot add one",
			qs.name(), room(j)))
	default:
		r.pend(j, CodeNoCapacity, fmt.Sprintf("no spawn of queue '%s' %s, and none of its cloud compute environments offers that much, so a new spawn would not help",
			qs.name(), room(j)))
	}
}

// room says what every spawn lacks for the job.
func room(j *jobEntry) string {
	if !j.hasQuota() {
		return "is empty, which a job without quotas needs"
	}
	return fmt.Sprintf("has %d%% CPU and %d MB free", j.CPUQuotaPct, j.MemoryMB)
}

// isAre says "1 is" or "4 are".
func isAre(n int) string {
	if n == 1 {
		return "1 is"
	}
	return fmt.Sprintf("%d are", n)
}

// jobs says "1 job" or "4 jobs".
func jobs(n int) string {
	if n == 1 {
		return "1 job"
	}
	return fmt.Sprintf("%d jobs", n)
}

// pend records why the job waits.
func (r *round) pend(j *jobEntry, code Code, detail string) {
	r.res.Pending[j.ID] = Reason{Code: code, Detail: detail, Position: j.position}
}
