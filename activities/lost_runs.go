package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"daestro/agent/executor"
	"daestro/internal/agentapi"
	"daestro/internal/cloud"
	"daestro/internal/domain"
	"daestro/internal/store"
)

// RecoverLostRunInput names a run whose container started but whose agent
// was lost for good (no agent took the run back in time).
type RecoverLostRunInput struct {
	ProjectID, SpawnID, RunID, JobID, ContainerID string
	// Image is the image that runs (StartJob's digest); TimeoutSeconds and
	// MemoryMB are the job's, for a container still running (its timeout
	// still holds) and for the out-of-memory note.
	Image          string
	TimeoutSeconds int
	MemoryMB       int
}

// RecoverLostRunResult is what the control plane could learn of the run.
type RecoverLostRunResult struct {
	// Known: the container was found on its engine and followed to its end;
	// Result is that end, its last logs are stored and the container is gone.
	Known  bool
	Result agentapi.RunJobResult
	// Why says why the outcome is not known, when it is not.
	Why string
}

// RecoverLostRun follows a lost agent's run to its real end where the
// control plane reaches the spawn's Docker engine itself (a
// cloud.EngineOwner: localdocker): it resumes the logs after the last line
// stored, waits for the container (still enforcing the job's timeout),
// reads its exit and removes it — what the agent would have done. Elsewhere
// the engine is reachable only through the agent, and the answer is
// "unknown" with the reason.
func (a *Activities) RecoverLostRun(ctx context.Context, in RecoverLostRunInput) (RecoverLostRunResult, error) {
	spawn, err := a.Store.ComputeSpawn(ctx, in.ProjectID, in.SpawnID)
	if err != nil {
		return RecoverLostRunResult{}, spawnError(in.SpawnID, "read the spawn", err)
	}
	if spawn.Kind != domain.SpawnKindCloud {
		return RecoverLostRunResult{Why: "a self-hosted machine's Docker engine is reachable only through its agent"}, nil
	}
	sp, err := a.Store.CloudSpawnMachine(ctx, in.SpawnID)
	switch {
	case domain.ErrorCode(err) == domain.EINVALID:
		return RecoverLostRunResult{Why: domain.ErrorMessage(err)}, nil
	case err != nil:
		return RecoverLostRunResult{}, spawnError(in.SpawnID, "read the spawn", err)
	case a.Clouds == nil:
		return RecoverLostRunResult{Why: cloud.DisplayName(sp.Provider) + " is not configured on this daestro worker"}, nil
	}
	p, err := a.Clouds.Open(sp.Provider, sp.Credentials, sp.Region)
	if err != nil {
		return RecoverLostRunResult{Why: err.Error()}, nil
	}
	owner, ok := p.(cloud.EngineOwner)
	if !ok {
		return RecoverLostRunResult{Why: "a " + cloud.DisplayName(sp.Provider) + " machine's Docker engine is reachable only through its agent"}, nil
	}
	acked, err := a.Store.RunLogsAcked(ctx, in.RunID)
	if err != nil {
		return RecoverLostRunResult{}, err
	}
	runCtx, cancel := executor.RunContext(ctx, func(cause error) bool {
		var requested *temporal.CanceledError
		return errors.As(cause, &requested)
	})
	defer cancel(nil)
	if in.Image == "" {
		in.Image = "unknown"
	}
	exec := executor.New(owner.Engine(), executor.Options{})
	spec := executor.Spec{RunID: in.RunID, JobID: in.JobID, Image: in.Image, MemoryMB: in.MemoryMB,
		Timeout: time.Duration(in.TimeoutSeconds) * time.Second}
	res, err := exec.Run(runCtx, spec, storeSink{store: a.Store, spawnID: in.SpawnID},
		executor.Cursor{ContainerID: in.ContainerID, LastAckedSeq: acked}, func(c executor.Cursor) { activity.RecordHeartbeat(ctx, c) })
	if errors.Is(err, executor.ErrContainerGone) {
		return RecoverLostRunResult{Why: "its container is gone from the engine"}, nil
	}
	if err != nil {
		return RecoverLostRunResult{}, err
	}
	return RecoverLostRunResult{Known: true, Result: res}, nil
}

// storeSink writes a run's output straight to the store, as the agent's
// uploads would (same checks: the run must be the spawn's and open).
type storeSink struct {
	store   *store.Store
	spawnID string
}

func (s storeSink) ShipLogs(ctx context.Context, runID string, lines []executor.LogLine) error {
	for len(lines) > 0 {
		n := min(len(lines), agentapi.MaxLogLines)
		batch := make([]agentapi.LogLine, n)
		for i, l := range lines[:n] {
			batch[i] = l.Wire()
		}
		acked, err := s.store.AppendRunLogs(ctx, s.spawnID, runID, batch)
		if domain.ErrorCode(err) == domain.ECONFLICT || domain.ErrorCode(err) == domain.ENOTFOUND {
			return fmt.Errorf("%w: %w", executor.ErrSinkRejected, err)
		}
		if err != nil {
			return err
		}
		if last := batch[n-1].Seq; acked < last {
			return fmt.Errorf("store log lines %d-%d of run %s: lines 1-%d only are stored, so earlier lines are missing", batch[0].Seq, last, runID, acked)
		}
		lines = lines[n:]
	}
	return nil
}

func (s storeSink) ShipMetrics(ctx context.Context, runID string, samples []executor.Metric) error {
	batch := make([]agentapi.MetricSample, len(samples))
	for i, m := range samples {
		batch[i] = m.Wire()
	}
	_, err := s.store.AppendRunMetrics(ctx, s.spawnID, runID, batch)
	return err
}
