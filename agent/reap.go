package agent

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Dangling run containers of this spawn — no run of this agent attached to
// them, and the server says their run is over — are removed once older
// than DefaultReapAfter (Config.ReapAfter): long enough for a retried
// activity to re-attach to its container after an agent restart.
const (
	reapEvery        = 5 * time.Minute
	DefaultReapAfter = 15 * time.Minute
)

// reapLoop removes dangling run containers until ctx ends. The executor
// never reaps a run it is executing, so no run of this agent is lost.
func (a *Agent) reapLoop(ctx context.Context, log *slog.Logger, spawnID string) {
	t := time.NewTicker(reapEvery)
	defer t.Stop()
	for {
		after := a.cfg.ReapAfter
		if after <= 0 {
			after = DefaultReapAfter
		}
		removed, err := a.exec.ReapDangling(ctx, map[string]string{LabelSpawnID: spawnID}, a.runIsLive, after)
		if err != nil && ctx.Err() == nil {
			log.Warn("reaping dangling containers failed", "error", err)
		}
		if len(removed) > 0 {
			log.Info("removed dangling run containers", "containers", removed)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// runIsLive keeps a container unless the server says its run is over (or
// is not this spawn's): a container is never reaped on a guess, and a
// server that cannot answer keeps everything until the next round.
func (a *Agent) runIsLive(runID string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := a.server.runSpec(ctx, runID)
	return !errors.Is(err, ErrRejected)
}
