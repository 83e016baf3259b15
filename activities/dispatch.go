package activities

import (
	"context"

	"daestro/internal/placement"
	"daestro/internal/store"
)

// PlanRoundInput names the project to place.
type PlanRoundInput struct{ ProjectID string }

// Assignment puts a job's run on a spawn.
type Assignment struct{ JobID, RunID, SpawnID string }

// SpawnCount is a spawn's number of allocated runs after the round.
type SpawnCount struct {
	SpawnID string
	Count   int
}

// PlanRoundResult is what the dispatcher signals after a round.
type PlanRoundResult struct {
	// Assigned are the runs to signal (this round's and any not yet signalled).
	Assigned []Assignment
	// SpawnAllocations are the spawns whose allocations changed.
	SpawnAllocations []SpawnCount
	// Waiting counts runnable jobs still without a spawn.
	Waiting int
}

// PlanRound runs one placement round: one transaction that loads the
// project's runnable jobs and spawns, runs the placement function and
// persists the allocations and every waiting job's reason.
func (a *Activities) PlanRound(ctx context.Context, in PlanRoundInput) (PlanRoundResult, error) {
	out, err := a.Store.PlanRound(ctx, in.ProjectID, place)
	if err != nil {
		return PlanRoundResult{}, err
	}
	res := PlanRoundResult{Waiting: out.Waiting}
	for _, as := range out.Assigned {
		res.Assigned = append(res.Assigned, Assignment{JobID: as.JobID, RunID: as.RunID, SpawnID: as.SpawnID})
	}
	for id, n := range out.SpawnCounts {
		res.SpawnAllocations = append(res.SpawnAllocations, SpawnCount{SpawnID: id, Count: n})
	}
	return res, nil
}

// place adapts the database's snapshot to the pure placement function.
// Self-hosted environments cannot be spawned on demand; cloud spawns arrive
// with the cloud issue, so spawn requests are not acted on yet and the jobs
// they were for keep their "waiting" reason.
func place(snap store.PlanSnapshot) store.PlanDecision {
	var in placement.Input
	runOf := map[string]string{}
	for _, q := range snap.Queues {
		pq := placement.Queue{ID: q.ID, Name: q.Name, Priority: q.Priority, MaxConcurrency: q.MaxConcurrency,
			MaxSpawns: q.MaxSpawns, Enabled: q.Enabled, Allocated: q.Allocated}
		for i, id := range q.ComputeEnvIDs {
			pq.ComputeEnvs = append(pq.ComputeEnvs, placement.ComputeEnv{ID: id, SelfHosted: q.ComputeEnvKinds[i] == "selfhosted"})
		}
		in.Queues = append(in.Queues, pq)
	}
	for _, s := range snap.Spawns {
		in.Spawns = append(in.Spawns, placement.Spawn{ID: s.ID, QueueID: s.QueueID, ComputeEnvID: s.ComputeEnvID, State: s.State,
			TotalCPUPct: s.TotalCPUPct, TotalMemoryMB: s.TotalMemoryMB, AllocatedCPUPct: s.AllocatedCPUPct,
			AllocatedMemoryMB: s.AllocatedMemoryMB, WholeSpawnTaken: s.WholeTaken, Allocations: s.Allocations,
			Requested: s.State == "requested" || s.State == "initialized"})
	}
	for _, j := range snap.Jobs {
		in.Jobs = append(in.Jobs, placement.Job{ID: j.JobID, QueueID: j.QueueID, RunnableAt: j.RunnableAt, CPUQuotaPct: j.CPUQuotaPct, MemoryMB: j.MemoryMB})
		runOf[j.JobID] = j.RunID
	}
	r := placement.Place(in)
	d := store.PlanDecision{Pending: map[string]store.PlanPending{}}
	for _, as := range r.Assignments {
		d.Assign = append(d.Assign, store.PlanAssignment{JobID: as.JobID, RunID: runOf[as.JobID], SpawnID: as.SpawnID,
			CPUPct: as.CPUPct, MemoryMB: as.MemoryMB, WholeSpawn: as.WholeSpawn})
	}
	for jobID, p := range r.Pending {
		d.Pending[jobID] = store.PlanPending{Code: string(p.Code), Detail: p.Detail, Position: p.Position}
	}
	return d
}
