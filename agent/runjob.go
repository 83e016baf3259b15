package agent

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"daestro/agent/executor"
	"daestro/internal/agentapi"
)

// heartbeatEvery keeps a silent job's activity alive well inside the
// workflow's heartbeat timeout, and carries the cursor a retry resumes from.
const heartbeatEvery = 10 * time.Second

// RunJob runs one job run as a container: fetch the spec from the server
// (the only way secrets reach the agent), run it with the executor, ship its
// logs and metrics, and report how it ended. A retried attempt — after an
// agent restart — resumes from the heartbeat's cursor and re-attaches to the
// same container; cancellation arrives through the heartbeat and stops the
// container (SIGTERM, grace, SIGKILL).
func (a *Activities) RunJob(ctx context.Context, in agentapi.RunJobInput) (agentapi.RunJobResult, error) {
	spec, err := a.server.runSpec(ctx, in.RunID)
	if errors.Is(err, ErrRejected) {
		return agentapi.RunJobResult{}, temporal.NewNonRetryableApplicationError(err.Error(), agentapi.ErrTypeInvalidJobSpec, err)
	}
	if err != nil {
		return agentapi.RunJobResult{}, err
	}
	var from executor.Cursor
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &from)
	}

	var mu sync.Mutex
	cur, reported := from, from.ContainerID != ""
	progress := func(c executor.Cursor) {
		mu.Lock()
		cur = c
		first := !reported && c.ContainerID != ""
		reported = reported || first
		mu.Unlock()
		if first {
			// Best effort: the outcome is recorded by the workflow either way.
			if err := a.server.runStarted(ctx, in.RunID, c.ContainerID); err != nil {
				activity.GetLogger(ctx).Warn("could not report the run as started", "error", err)
			}
		}
		activity.RecordHeartbeat(ctx, c)
	}
	hbCtx, stopHB := context.WithCancel(ctx)
	defer stopHB()
	go func() {
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-hbCtx.Done():
				return
			case <-t.C:
				mu.Lock()
				c := cur
				mu.Unlock()
				activity.RecordHeartbeat(ctx, c)
			}
		}
	}()

	res, err := a.exec.Run(ctx, executorSpec(spec, a.capacity), a.newSink(), from, progress)
	switch {
	case errors.Is(err, executor.ErrInvalidSpec):
		return agentapi.RunJobResult{}, temporal.NewNonRetryableApplicationError(err.Error(), agentapi.ErrTypeInvalidJobSpec, err)
	case errors.Is(err, executor.ErrRegistryAuth), errors.Is(err, executor.ErrImageNotFound):
		return agentapi.RunJobResult{}, temporal.NewNonRetryableApplicationError(err.Error(), agentapi.ErrTypeImage, err)
	case errors.Is(err, executor.ErrContainerGone):
		return agentapi.RunJobResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "ContainerGone", err)
	case err != nil:
		return agentapi.RunJobResult{}, err
	}
	return agentapi.RunJobResult{
		ContainerID: res.ContainerID, ImageDigest: res.ImageDigest, ExitCode: res.ExitCode,
		OOMKilled: res.OOMKilled, TimedOut: res.TimedOut, Cancelled: res.Cancelled,
		SystemNote: res.SystemNote, StartedAt: res.StartedAt, FinishedAt: res.FinishedAt,
	}, nil
}

// LabelSpawnID is put on every job container: the spawn whose agent started it.
const LabelSpawnID = "daestro.spawn-id"

// executorSpec turns the server's run spec into the executor's. A quota
// above what the spawn offers is the product's oversize job: placement gave
// it the whole (empty) spawn, so it runs capped to all of it.
func executorSpec(s agentapi.RunSpec, offer Capacity) executor.Spec {
	if s.CPUQuotaPct > 0 && offer.CPUPct > 0 {
		s.CPUQuotaPct = min(s.CPUQuotaPct, offer.CPUPct)
	}
	if s.MemoryMB > 0 && offer.MemoryMB > 0 {
		s.MemoryMB = min(s.MemoryMB, offer.MemoryMB)
	}
	out := executor.Spec{
		RunID: s.RunID, JobID: s.JobID, Image: s.Image, Cmd: s.Command, Script: s.Script, Env: s.Env,
		CPUQuotaPct: s.CPUQuotaPct, MemoryMB: s.MemoryMB, Privileged: s.Privileged,
		Timeout: time.Duration(s.TimeoutSeconds) * time.Second,
	}
	if spawnID := envValue(s.Env, "DAESTRO_COMPUTE_SPAWN_ID"); spawnID != "" {
		// The spawn's machine owner (localdocker, an operator) finds the
		// containers of a spawn by this label.
		out.Labels = map[string]string{LabelSpawnID: spawnID}
	}
	if s.Registry != nil {
		out.Registry = &executor.RegistryAuth{ServerAddress: s.Registry.ServerAddress, Username: s.Registry.Username, Password: s.Registry.Password}
	}
	return out
}

// envValue returns the value of key in a KEY=value list, the last one winning.
func envValue(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

// Activities run on the spawn's own task queue.
type Activities struct {
	docker *Docker
	// capacity is what the spawn offers: an oversize job's quota is capped to it.
	capacity Capacity
	exec     *executor.Executor
	server   *serverClient
	// newSink ships a run's logs and metrics to the server.
	newSink func() executor.Sink
}
