package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"daestro/agent/executor"
	"daestro/internal/agentapi"
)

// heartbeatEvery keeps a silent job's activity alive well inside the
// workflow's heartbeat timeout (6 s; the SDK throttles what it sends to
// 0.8 × that); WaitJob's carries the cursor a retry resumes from.
const heartbeatEvery = 2 * time.Second

// specRetryMax caps the wait between two tries of a spec fetch.
const specRetryMax = 15 * time.Second

// StartJob starts one job run's container: fetch the spec from the server
// (the only way secrets reach the agent), pull the image, create and start
// the container. It returns once the container runs, so the workflow records
// the run as running; WaitJob follows it from there. A retried attempt
// (agent restart) finds the container by the run's name and never starts a
// second one.
func (a *Activities) StartJob(ctx context.Context, in agentapi.RunJobInput) (agentapi.StartJobResult, error) {
	stop := heartbeat(ctx, nil)
	defer stop()
	spec, err := a.spec(ctx, in.RunID)
	if err != nil {
		return agentapi.StartJobResult{}, err
	}
	started, err := a.exec.Start(ctx, executorSpec(spec, a.capacity, a.host))
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
	from := executor.Cursor{ContainerID: in.ContainerID}
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &from)
	}
	var mu sync.Mutex
	cur := from
	stop := heartbeat(ctx, func() any {
		mu.Lock()
		defer mu.Unlock()
		return cur
	})
	defer stop()
	spec, err := a.spec(ctx, in.RunID)
	if err != nil {
		return agentapi.RunJobResult{}, err
	}
	if from.ContainerID == "" {
		// Only after a start the workflow gave up on (cancelled): stop
		// what it may have started, never start anything.
		id, err := a.exec.ContainerOf(ctx, in.RunID)
		if err != nil {
			return agentapi.RunJobResult{}, err
		}
		if id == "" {
			return agentapi.RunJobResult{ExitCode: -1, Cancelled: true, SystemNote: "cancelled before the container started"}, nil
		}
		from.ContainerID = id
	}
	runCtx, cancel := executor.RunContext(ctx, cancelRequested)
	defer cancel(nil)
	// A newer attempt is the one Temporal waits for: an older one of the
	// same run still following the container here (its heartbeats were
	// lost while the server was away) detaches and leaves it to this one.
	release := a.takeOver(ctx, in.RunID, cancel)
	defer release()
	progress := func(c executor.Cursor) {
		mu.Lock()
		cur = c
		mu.Unlock()
		activity.RecordHeartbeat(ctx, c)
		if in.Stop {
			// The job was cancelled while it started: the executor stops
			// the container it has just found, and still collects it.
			cancel(context.Canceled)
		}
	}
	es := executorSpec(spec, a.capacity, a.host)
	res, err := a.exec.Run(runCtx, es, a.newSink(), from, progress)
	if errors.Is(err, executor.ErrContainerGone) {
		// An older attempt may have collected and removed it, with nobody
		// left to take its answer: the result it kept is the run's.
		if kept, ok := a.keptResult(in.RunID); ok {
			return kept, nil
		}
	}
	if err != nil {
		return agentapi.RunJobResult{}, activityError(err)
	}
	a.keepResult(in.RunID, res)
	if res.OOMKilled && es.MemoryMB == 0 && a.host.MemoryMB > 0 {
		// No limit of its own: what it ran out of is the machine's.
		res.SystemNote = fmt.Sprintf("killed: out of memory at %d MB (all of the machine's memory: the job has no memory quota)", a.host.MemoryMB)
	}
	return res, nil
}

// takeOver registers this attempt as the one following run runID and
// detaches an older one still doing so, waiting for it to let go; release
// unregisters it.
func (a *Activities) takeOver(ctx context.Context, runID string, cancel context.CancelCauseFunc) (release func()) {
	mine := &waitAttempt{cancel: cancel, done: make(chan struct{})}
	a.mu.Lock()
	if a.attempts == nil {
		a.attempts = map[string]*waitAttempt{}
	}
	older := a.attempts[runID]
	a.attempts[runID] = mine
	a.mu.Unlock()
	if older != nil {
		older.cancel(fmt.Errorf("%w: a newer attempt took the run over", executor.ErrDetach))
		select {
		case <-older.done:
		case <-ctx.Done():
		}
	}
	return func() {
		a.mu.Lock()
		if a.attempts[runID] == mine {
			delete(a.attempts, runID)
		}
		a.mu.Unlock()
		close(mine.done)
	}
}

// keptResultsFor is how long a finished run's result is kept for an attempt
// that finds its container already collected.
const keptResultsFor = time.Hour

// keepResult remembers how run runID ended.
func (a *Activities) keepResult(runID string, res agentapi.RunJobResult) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.results == nil {
		a.results = map[string]keptResult{}
	}
	now := time.Now()
	for id, k := range a.results {
		if now.Sub(k.at) > keptResultsFor {
			delete(a.results, id)
		}
	}
	a.results[runID] = keptResult{res: res, at: now}
}

// keptResult is how run runID ended, if this agent collected it lately.
func (a *Activities) keptResult(runID string) (agentapi.RunJobResult, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	k, ok := a.results[runID]
	return k.res, ok && time.Since(k.at) <= keptResultsFor
}

// cancelRequested tells a cancel the workflow asked for (the user
// cancelled the job) from an attempt ending without one (executor.RunContext).
func cancelRequested(cause error) bool {
	var requested *temporal.CanceledError
	return errors.As(cause, &requested)
}

// spec fetches the run's spec. Only a definite refusal (the run is not this
// spawn's, or it finished) ends the attempt; while the server is
// unreachable or answers 5xx the fetch is retried with backoff, for as long
// as the attempt lives (the caller heartbeats meanwhile), so an API outage
// never fails a job.
func (a *Activities) spec(ctx context.Context, runID string) (agentapi.RunSpec, error) {
	wait := time.Second
	for {
		spec, err := a.server.runSpec(ctx, runID)
		switch {
		case err == nil:
			return spec, nil
		case errors.Is(err, ErrRejected):
			return spec, temporal.NewNonRetryableApplicationError(err.Error(), agentapi.ErrTypeInvalidJobSpec, err)
		}
		activity.GetLogger(ctx).Warn("fetching the run's spec failed, retrying", "run_id", runID, "in", wait, "error", err)
		select {
		case <-ctx.Done():
			return spec, fmt.Errorf("fetch the spec of run %s: %w (last: %v)", runID, ctx.Err(), err)
		case <-time.After(wait):
		}
		wait = min(2*wait, specRetryMax)
	}
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
// it the whole (empty) spawn, so it runs capped to all of it. A job without
// a quota on a spawn that offers less than its machine (the compute
// environment's usable CPU and memory, the agent's overrides) is held to
// the offer by the same cgroup limits.
func executorSpec(s agentapi.RunSpec, offer, host Capacity) executor.Spec {
	switch {
	case s.CPUQuotaPct > 0 && offer.CPUPct > 0:
		s.CPUQuotaPct = min(s.CPUQuotaPct, offer.CPUPct)
	case s.CPUQuotaPct == 0 && offer.CPUPct > 0 && offer.CPUPct < host.CPUPct:
		s.CPUQuotaPct = offer.CPUPct
	}
	switch {
	case s.MemoryMB > 0 && offer.MemoryMB > 0:
		s.MemoryMB = min(s.MemoryMB, offer.MemoryMB)
	case s.MemoryMB == 0 && offer.MemoryMB > 0 && offer.MemoryMB < host.MemoryMB:
		s.MemoryMB = offer.MemoryMB
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
	// capacity is what the spawn offers: an oversize job's quota is capped
	// to it; host is the machine's, which a job without quotas may use
	// when the offer is all of it.
	capacity, host Capacity
	exec           *executor.Executor
	server         *serverClient
	// newSink ships a run's logs and metrics to the server.
	newSink func() executor.Sink

	// mu guards attempts (the WaitJob attempt following each run) and
	// results (how runs this agent collected ended, for a later attempt).
	mu       sync.Mutex
	attempts map[string]*waitAttempt
	results  map[string]keptResult
}

// waitAttempt is a WaitJob attempt following a run's container.
type waitAttempt struct {
	cancel context.CancelCauseFunc
	done   chan struct{}
}

// keptResult is a finished run's result and when it was collected.
type keptResult struct {
	res agentapi.RunJobResult
	at  time.Time
}
