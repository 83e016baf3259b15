package activities

import (
	"context"
	"time"

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
	// Requested are the cloud spawns still requested (this round's and any
	// earlier one's); the dispatcher starts their SpawnWorkflows.
	Requested []string
}

// PlanRound runs one placement round: one transaction that loads the
// project's runnable jobs and spawns, runs the placement function and
// persists the allocations, every waiting job's reason and the cloud spawns
// it asked for.
func (a *Activities) PlanRound(ctx context.Context, in PlanRoundInput) (PlanRoundResult, error) {
	start := time.Now()
	out, err := a.Store.PlanRound(ctx, in.ProjectID, placement.Place)
	a.Metrics.DispatcherRound(time.Since(start))
	if err != nil {
		return PlanRoundResult{}, err
	}
	return planRoundResult(out), nil
}

// planRoundResult is the store's outcome as the activity's result. The
// result is a Temporal payload, recorded in every dispatcher history and read
// back on replay, so it keeps its own shape (and a map becomes a list)
// whatever the store's type turns into.
func planRoundResult(out store.PlanOutcome) PlanRoundResult {
	res := PlanRoundResult{Waiting: out.Waiting, Requested: out.Requested}
	for _, as := range out.Assigned {
		res.Assigned = append(res.Assigned, Assignment{JobID: as.JobID, RunID: as.RunID, SpawnID: as.SpawnID})
	}
	for id, n := range out.SpawnCounts {
		res.SpawnAllocations = append(res.SpawnAllocations, SpawnCount{SpawnID: id, Count: n})
	}
	return res
}
