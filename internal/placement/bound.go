package placement

import "daestro/internal/domain"

// DefaultJobsFloor is how many runnable jobs of each queue a round considers
// at least, whatever room the queue's spawns have: enough to request spawns
// for a burst and to say why the queue's head waits.
const DefaultJobsFloor = 100

// Bounds says, for each queue of in (in.Jobs is ignored), how many of its
// runnable jobs, in the queue's order, a round needs to consider: floor plus
// an upper bound of the jobs the queue's spawns could still take (see
// slots), capped by what its max concurrency still allows. A job past the
// bound would not be placed this round anyway unless placement requests new
// spawns for it; those rounds grow by at least floor jobs, and the spawns
// they request raise the next round's bound, so scale-up stays geometric.
// Jobs past the bound stay runnable, and the next round looks again. The
// price: backfill (a smaller job taking the room a bigger one ahead of it
// cannot use) reaches only as deep as the bound.
func Bounds(in Input, floor int) map[string]int {
	room := make(map[string]int, len(in.Queues))
	for _, s := range in.Spawns {
		room[s.QueueID] += slots(s, in.Queues)
	}
	out := make(map[string]int, len(in.Queues))
	for _, q := range in.Queues {
		r := room[q.ID]
		if q.MaxConcurrency > 0 {
			r = min(r, max(q.MaxConcurrency-q.Allocated, 0))
		}
		out[q.ID] = floor + r
	}
	return out
}

// slots is the most jobs s could still take: none when it is final, held
// whole or cannot take work; else one per MinCPUQuotaPct of free CPU (every
// job with a quota reserves at least that), and at least one while it is
// empty (a job without quota, or an oversized one, takes it whole). A spawn
// being created counts with the capacity its environment promises, as in
// Place.
func slots(s Spawn, queues []Queue) int {
	requested := s.Requested || s.State == domain.SpawnRequested
	if domain.SpawnStateIsFinal(s.State) || s.WholeSpawnTaken ||
		!requested && s.State != domain.SpawnIdle && s.State != domain.SpawnBusy {
		return 0
	}
	total := s.TotalCPUPct
	if requested && total == 0 && s.TotalMemoryMB == 0 {
		total = projectedCPU(s, queues)
	}
	n := max(total-s.AllocatedCPUPct, 0) / domain.MinCPUQuotaPct
	if s.Allocations == 0 && s.AllocatedCPUPct == 0 && s.AllocatedMemoryMB == 0 {
		n = max(n, 1)
	}
	return n
}

// projectedCPU is the CPU a spawn being created will offer: its cloud
// environment's, found among its queue's environments.
func projectedCPU(s Spawn, queues []Queue) int {
	for _, q := range queues {
		if q.ID != s.QueueID {
			continue
		}
		for _, e := range q.ComputeEnvs {
			if e.ID == s.ComputeEnvID && !e.SelfHosted {
				return e.CPUPct
			}
		}
	}
	return 0
}
