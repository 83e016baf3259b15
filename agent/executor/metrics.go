package executor

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/docker/docker/api/types/container"
)

// maxPendingMetrics bounds the samples kept while the Sink fails (an hour at
// the default interval); the oldest go first, as metrics are best effort.
const maxPendingMetrics = 720

// sampleMetrics samples the container every MetricsInterval until ctx ends and
// ships the samples; failures are logged and never fail the run. A last
// attempt for unshipped samples uses shipCtx, which outlives ctx.
func (r *run) sampleMetrics(ctx, shipCtx context.Context) {
	var pending []Metric
	warned := false
	ship := func(ctx context.Context) {
		if len(pending) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := r.sink.ShipMetrics(ctx, r.spec.RunID, pending); err != nil {
			if !warned {
				r.e.log.Warn("shipping metrics failed; keeping the samples for the next try", "run_id", r.spec.RunID, "error", err)
				warned = true
			}
			return
		}
		pending, warned = nil, false
	}
	defer func() {
		if shipCtx.Err() == nil {
			ship(shipCtx)
		}
	}()

	tick := time.NewTicker(r.e.opts.MetricsInterval)
	defer tick.Stop()
	prev, _ := r.stats(ctx) // the baseline the first interval's CPU is measured against
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		cur, err := r.stats(ctx)
		if err != nil || cur.Read.IsZero() { // a stopped container reports zeros
			continue
		}
		if prev != nil {
			pending = append(pending, Metric{Time: cur.Read, CPUPct: cpuPercent(prev.CPUStats, cur.CPUStats), MemoryBytes: memoryBytes(cur.MemoryStats)})
			if len(pending) > maxPendingMetrics {
				pending = append([]Metric(nil), pending[len(pending)-maxPendingMetrics:]...)
			}
		}
		prev = cur
		ship(ctx)
	}
}

// stats takes one sample at once (one-shot: without the engine's second
// sample a second later); the CPU delta is taken against the previous sample.
func (r *run) stats(ctx context.Context) (*container.StatsResponse, error) {
	rd, err := r.e.docker.ContainerStatsOneShot(ctx, r.id)
	if err != nil {
		return nil, err
	}
	defer rd.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(rd.Body).Decode(&s); err != nil {
		return nil, fmt.Errorf("decode container stats: %w", err)
	}
	return &s, nil
}

// cpuPercent is the docker CLI's formula: the container's share of the
// host's CPU time over the interval, times the CPUs online, so that 100 is
// one full core.
func cpuPercent(prev, cur container.CPUStats) float64 {
	cpuDelta := float64(cur.CPUUsage.TotalUsage) - float64(prev.CPUUsage.TotalUsage)
	systemDelta := float64(cur.SystemUsage) - float64(prev.SystemUsage)
	online := float64(cur.OnlineCPUs)
	if online == 0 {
		online = float64(len(cur.CPUUsage.PercpuUsage))
	}
	if cpuDelta <= 0 || systemDelta <= 0 {
		return 0
	}
	return cpuDelta / systemDelta * online * 100
}

// memoryBytes is the docker CLI's figure: usage without the inactive page
// cache, which the kernel reclaims before it would OOM-kill (the key is
// total_inactive_file under cgroup v1, inactive_file under v2).
func memoryBytes(m container.MemoryStats) int64 {
	if v, ok := m.Stats["total_inactive_file"]; ok && v < m.Usage {
		return int64(m.Usage - v)
	}
	if v := m.Stats["inactive_file"]; v < m.Usage {
		return int64(m.Usage - v)
	}
	return int64(m.Usage)
}
