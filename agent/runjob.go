package agent

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"daestro/agent/executor"
	"daestro/internal/agentapi"
)

// heartbeatEvery keeps a silent job's activity alive well inside the
// workflow's heartbeat timeout; WaitJob's carries the cursor a retry resumes from.
const heartbeatEvery = 10 * time.Second

// StartJob starts one job run's container: fetch the spec from the server
// (the only way secrets reach the agent), pull the image, create and start
// the container. It returns once the container runs, so the workflow records
// the run as running; WaitJob follows it from there. A retried attempt
// (agent restart) finds the container by the run's name and never starts a
// second one.
func (a *Activities) StartJob(ctx context.Context, in agentapi.RunJobInput) (agentapi.StartJobResult, error) {
	spec, err := a.spec(ctx, in.RunID)
	if err != nil {
		return agentapi.StartJobResult{}, err
	}
	stop := heartbeat(ctx, nil)
	defer stop()
	started, err := a.exec.Start(ctx, executorSpec(spec, a.capacity))
	if err != nil {
		return agentapi.StartJobResult{}, activityError(err)
	}
	return agentapi.StartJobResult{ContainerID: started.ContainerID, ImageDigest: started.ImageDigest, StartedAt: started.StartedAt}, nil
}

// WaitJob follows a started run's container to its exit, ships its logs and
// metrics, and reports how it ended. A retried attempt — after an agent
// restart — resumes from the heartbeat's cursor and re-attaches to the same
// container; cancellation arrives through the heartbeat and stops the
// container (SIGTERM, grace, SIGKILL), as does in.Stop from the start.
func (a *Activities) WaitJob(ctx context.Context, in agentapi.WaitJobInput) (agentapi.RunJobResult, error) {
	spec, err := a.spec(ctx, in.RunID)
	if err != nil {
		return agentapi.RunJobResult{}, err
	}
	if in.ContainerID == "" {
		// Only after a start the workflow gave up on (cancelled): stop
		// what it may have started, never start anything.
		id, err := a.exec.ContainerOf(ctx, in.RunID)
		if err != nil {
			return agentapi.RunJobResult{}, err
		}
		if id == "" {
			return agentapi.RunJobResult{ExitCode: -1, Cancelled: true, SystemNote: "cancelled before the container started"}, nil
		}
		in.ContainerID = id
	}
	from := executor.Cursor{ContainerID: in.ContainerID}
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &from)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	cur := from
	progress := func(c executor.Cursor) {
		mu.Lock()
		cur = c
		mu.Unlock()
		activity.RecordHeartbeat(ctx, c)
		if in.Stop {
			// The job was cancelled while it started: the executor stops
			// the container it has just found, and still collects it.
			cancel()
		}
	}
	stop := heartbeat(ctx, func() any {
		mu.Lock()
		defer mu.Unlock()
		return cur
	})
	defer stop()
	res, err := a.exec.Run(runCtx, executorSpec(spec, a.capacity), a.newSink(), from, progress)
	if err != nil {
		return agentapi.RunJobResult{}, activityError(err)
	}
	return res, nil
}

// spec fetches the run's spec; a refusal (the run is not this spawn's, or
// finished) is final.
func (a *Activities) spec(ctx context.Context, runID string) (agentapi.RunSpec, error) {
	spec, err := a.server.runSpec(ctx, runID)
	if errors.Is(err, ErrRejected) {
		return spec, temporal.NewNonRetryableApplicationError(err.Error(), agentapi.ErrTypeInvalidJobSpec, err)
	}
	return spec, err
}

// heartbeat records details() (nothing when nil) every heartbeatEvery until stopped, keeping a
// silent job's activity alive well inside the workflow's heartbeat timeout.
func heartbeat(ctx context.Context, details func() any) (stop func()) {
	hbCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-hbCtx.Done():
				return
			case <-t.C:
				if details == nil {
					activity.RecordHeartbeat(ctx)
				} else {
					activity.RecordHeartbeat(ctx, details())
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

// activityError marks the executor's permanent failures non-retryable.
func activityError(err error) error {
	switch {
	case errors.Is(err, executor.ErrInvalidSpec):
		return temporal.NewNonRetryableApplicationError(err.Error(), agentapi.ErrTypeInvalidJobSpec, err)
	case errors.Is(err, executor.ErrRegistryAuth), errors.Is(err, executor.ErrImageNotFound):
		return temporal.NewNonRetryableApplicationError(err.Error(), agentapi.ErrTypeImage, err)
	case errors.Is(err, executor.ErrContainerGone):
		return temporal.NewNonRetryableApplicationError(err.Error(), agentapi.ErrTypeContainerGone, err)
	}
	return err
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
	if s.SpawnID != "" {
		// The spawn's machine owner (localdocker, an operator) finds the
		// containers of a spawn by this label.
		out.Labels = map[string]string{LabelSpawnID: s.SpawnID}
	}
	if s.Registry != nil {
		out.Registry = &executor.RegistryAuth{ServerAddress: s.Registry.ServerAddress, Username: s.Registry.Username, Password: s.Registry.Password}
	}
	return out
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
