package executor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
)

// HostCapacity reports what the engine's host offers: CPU as cores × 100
// (the scale of Spec.CPUQuotaPct) and memory in MB. It asks the engine, not
// the runtime: the agent runs in a container of its own, which may see fewer
// CPUs than the host the jobs run on.
func (e *Executor) HostCapacity(ctx context.Context) (cpuPct, memoryMB int, err error) {
	info, err := e.docker.Info(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("docker engine info: %w", err)
	}
	return info.NCPU * 100, int(info.MemTotal >> 20), nil
}

// ReapDangling removes run containers (those with LabelRunID, and every
// label of owner: an agent passes its spawn's, so agents sharing an engine
// never touch each other's containers) that are older than olderThan and
// whose run keep does not claim, running or not, and returns their run IDs.
// They are left behind by runs whose agent died and whose activity was
// never retried here, or whose logs could not be shipped. Runs inside Run
// on this Executor are always kept; the grace keeps a container that a
// just-retried activity is about to re-attach to.
func (e *Executor) ReapDangling(ctx context.Context, owner map[string]string, keep func(runID string) bool, olderThan time.Duration) ([]string, error) {
	f := filters.NewArgs(filters.Arg("label", LabelRunID))
	for k, v := range owner {
		f.Add("label", k+"="+v)
	}
	list, err := e.docker.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list run containers: %w", err)
	}
	var removed []string
	var errs []error
	for _, c := range list {
		runID := c.Labels[LabelRunID]
		if e.isActive(runID) || (keep != nil && keep(runID)) || time.Since(time.Unix(c.Created, 0)) < olderThan {
			continue
		}
		if err := e.remove(ctx, c.ID); err != nil {
			errs = append(errs, fmt.Errorf("run %s: %w", runID, err))
			continue
		}
		e.log.Info("removed dangling run container", "run_id", runID, "container", c.ID, "state", c.State)
		removed = append(removed, runID)
	}
	return removed, errors.Join(errs...)
}
