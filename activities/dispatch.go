package activities

import (
	"context"

	"daestro/internal/domain"
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
	// Requested are the cloud spawns created this round; the dispatcher
	// starts their SpawnWorkflows.
	Requested []string
}

// PlanRound runs one placement round: one transaction that loads the
// project's runnable jobs and spawns, runs the placement function and
// persists the allocations and every waiting job's reason.
func (a *Activities) PlanRound(ctx context.Context, in PlanRoundInput) (PlanRoundResult, error) {
	out, err := a.Store.PlanRound(ctx, in.ProjectID, place)
	if err != nil {
		return PlanRoundResult{}, err
	}
	res := PlanRoundResult{Waiting: out.Waiting, Requested: out.Requested}
	for _, as := range out.Assigned {
		res.Assigned = append(res.Assigned, Assignment{JobID: as.JobID, RunID: as.RunID, SpawnID: as.SpawnID})
	}
	for id, n := range out.SpawnCounts {
		res.SpawnAllocations = append(res.SpawnAllocations, SpawnCount{SpawnID: id, Count: n})
	}
	return res, nil
}

// place adapts the database's snapshot to the pure placement function and
// its answer back: assignments, pending reasons and the cloud spawns to
// request (written by the store in the same transaction).
func place(snap store.PlanSnapshot) store.PlanDecision {
	var in placement.Input
	runOf := map[string]string{}
	for _, q := range snap.Queues {
		pq := placement.Queue{ID: q.ID, Name: q.Name, Priority: q.Priority, MaxConcurrency: q.MaxConcurrency,
			MaxSpawns: q.MaxSpawns, Enabled: q.Enabled, Allocated: q.Allocated}
		for _, e := range q.ComputeEnvs {
			pq.ComputeEnvs = append(pq.ComputeEnvs, placement.ComputeEnv{ID: e.ID, Name: e.Name, SelfHosted: e.Kind == domain.ComputeEnvSelfHosted,
				CPUPct: e.CPUPct, MemoryMB: e.MemoryMB, HourlyPrice: e.HourlyPrice, NoNewSpawns: e.NoNewSpawns})
		}
		in.Queues = append(in.Queues, pq)
	}
	for _, s := range snap.Spawns {
		in.Spawns = append(in.Spawns, placement.Spawn{ID: s.ID, QueueID: s.QueueID, ComputeEnvID: s.ComputeEnvID, State: s.State,
			TotalCPUPct: s.TotalCPUPct, TotalMemoryMB: s.TotalMemoryMB, AllocatedCPUPct: s.AllocatedCPUPct,
			AllocatedMemoryMB: s.AllocatedMemoryMB, WholeSpawnTaken: s.WholeTaken, Allocations: s.Allocations,
			Requested: s.State == domain.SpawnRequested || s.State == domain.SpawnInitialized})
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
	for _, rq := range r.SpawnRequests {
		d.Requests = append(d.Requests, store.PlanSpawnRequest{QueueID: rq.QueueID, ComputeEnvID: rq.ComputeEnvID, ForJobID: rq.ForJobID})
	}
	for jobID, p := range r.Pending {
		d.Pending[jobID] = store.PlanPending{Code: string(p.Code), Detail: p.Detail, Position: p.Position}
	}
	return d
}
