package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	"daestro/internal/contract"
	"daestro/internal/domain"
	"daestro/internal/store"
)

// ErrTypeSpawnNotFound is the type of the non-retryable error a spawn
// activity returns when the spawn's row is gone (its project was deleted):
// retrying cannot bring it back, and the workflow has nothing left to manage.
const ErrTypeSpawnNotFound = "SpawnNotFound"

// RecordSpawnStateInput is one state change of a spawn, as SpawnWorkflow decided it.
type RecordSpawnStateInput struct {
	// SpawnID is the spawn.
	SpawnID string
	// State is the state entered.
	State string
	// Reason is recorded with the event, for people.
	Reason string
	// Key identifies the decision (workflow run and transition number), so a
	// retried attempt writes nothing twice.
	Key string
	// RequireSilence, when > 0, applies the change only if the agent has not
	// pinged for that long (the unreachable transition): a ping that lands
	// while the workflow decides wins.
	RequireSilence time.Duration
	// RequireNoAllocations applies the change only if no run is allocated
	// to the spawn (the idle timeout): a placement racing it wins.
	RequireNoAllocations bool
	// Note, when set, becomes the spawn's system note.
	Note string
}

// RecordSpawnStateResult says whether the change was made.
type RecordSpawnStateResult struct {
	// Applied is false only when RequireSilence did not hold.
	Applied bool
}

// RecordSpawnState writes a spawn's new state, state_changed_at and an event
// with the reason, in one transaction. It is idempotent by Key.
func (a *Activities) RecordSpawnState(ctx context.Context, in RecordSpawnStateInput) (RecordSpawnStateResult, error) {
	applied, err := a.Store.RecordSpawnTransition(ctx, store.SpawnTransition{
		SpawnID: in.SpawnID, State: in.State, Reason: in.Reason, Key: in.Key, RequireSilence: in.RequireSilence,
		RequireNoAllocations: in.RequireNoAllocations, Note: in.Note,
	})
	if err != nil {
		return RecordSpawnStateResult{}, spawnError(in.SpawnID, "record state "+in.State, err)
	}
	return RecordSpawnStateResult{Applied: applied}, nil
}

// SpawnLivenessInput names the spawn whose pings to read.
type SpawnLivenessInput struct {
	// SpawnID is the spawn.
	SpawnID string
}

// SpawnLivenessResult is when the agent last pinged.
type SpawnLivenessResult struct {
	// LastPingAt is nil when the agent never pinged.
	LastPingAt *time.Time
	// SinceLastPing is how long ago that was, measured by the database that
	// recorded the ping, so worker clocks do not matter.
	SinceLastPing time.Duration
	// Allocations is how many runs are allocated to the spawn now: the
	// workflow adopts it, so a lost allocation signal heals at the next
	// liveness check.
	Allocations int
	// MaxIdleSeconds is the spawn's queue's max idle time now, so an edit of
	// the queue reaches its running cloud spawns.
	MaxIdleSeconds int
}

// SpawnLiveness reads the spawn's last ping. Pings land in Postgres, not in
// workflow history; the workflow reads them when its liveness timer fires.
func (a *Activities) SpawnLiveness(ctx context.Context, in SpawnLivenessInput) (SpawnLivenessResult, error) {
	last, since, err := a.Store.SpawnLiveness(ctx, in.SpawnID)
	if err != nil {
		return SpawnLivenessResult{}, spawnError(in.SpawnID, "read last ping", err)
	}
	n, maxIdle, err := a.Store.SpawnAllocations(ctx, in.SpawnID)
	if err != nil {
		return SpawnLivenessResult{}, spawnError(in.SpawnID, "count allocations", err)
	}
	return SpawnLivenessResult{LastPingAt: last, SinceLastPing: since, Allocations: n, MaxIdleSeconds: maxIdle}, nil
}

// spawnError makes a vanished spawn non-retryable and wraps everything else
// (a database blip) so that Temporal retries it.
func spawnError(spawnID, what string, err error) error {
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("compute spawn %s: %s: the spawn no longer exists", spawnID, what), ErrTypeSpawnNotFound, err)
	}
	return fmt.Errorf("compute spawn %s: %s: %w", spawnID, what, err)
}

// InterruptSpawnRunsInput names a spawn that went away and why.
type InterruptSpawnRunsInput struct {
	SpawnID, Note string
}

// InterruptSpawnRuns tells every run started on the spawn that it went
// away: each ends interrupted, releases its allocation at once, and its
// retry strategy decides (by default one more attempt, on whatever spawn
// the queue gives it). A job whose workflow is gone is skipped.
func (a *Activities) InterruptSpawnRuns(ctx context.Context, in InterruptSpawnRunsInput) (int, error) {
	runs, err := a.Store.OpenRunsOnSpawn(ctx, in.SpawnID)
	if err != nil {
		return 0, spawnError(in.SpawnID, "list its runs", err)
	}
	n := 0
	for _, r := range runs {
		err := a.Temporal.SignalWorkflow(ctx, contract.JobWorkflowID(r.JobID), "", contract.SignalJobInterrupted,
			contract.JobInterruptedSignal{RunID: r.RunID, SpawnID: in.SpawnID, Note: in.Note})
		var notFound *serviceerror.NotFound
		switch {
		case errors.As(err, &notFound):
			continue
		case err != nil:
			return n, fmt.Errorf("signal job %s: %w", r.JobID, err)
		}
		n++
	}
	return n, nil
}
