package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"daestro/internal/config"
	"daestro/worker"
)

func runWorker(ctx context.Context, stderr io.Writer) error {
	cfg, log, st, err := openRole(ctx, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	tel, err := newTelemetry(ctx, "worker")
	if err != nil {
		return err
	}
	defer tel.close()
	if err := tel.metrics.Serve(ctx, cfg.MetricsAddr, log); err != nil {
		return err
	}
	tc, err := dialTemporal(ctx, cfg, log, tel)
	if err != nil {
		return err
	}
	defer tc.Close()
	if err := worker.EnsureSystemSchedules(ctx, tc, cfg.ControlTaskQueue); err != nil {
		return err
	}
	if n, err := st.CloudComputeEnvCount(ctx); err == nil && n > 0 {
		if w := unpinnedAgentImage(cfg.AgentImage); w != "" {
			log.Warn(w, "agent_image", cfg.AgentImage, "cloud_compute_envs", n)
		}
	}
	log.Info("control worker polling", "task_queue", cfg.ControlTaskQueue, "temporal", cfg.TemporalAddress)
	return worker.Run(ctx, tc, cfg.ControlTaskQueue, controlActivities(cfg, st, tel.metrics))
}

// unpinnedAgentImage is the warning for an agent image that names no fixed
// version (no tag, :latest, no digest): each new cloud machine pulls what
// the tag means that day, so machines of one queue may run different agents.
// Empty when the image is pinned.
func unpinnedAgentImage(image string) string {
	if strings.Contains(image, "@") {
		return ""
	}
	name := image[strings.LastIndex(image, "/")+1:]
	if _, tag, ok := strings.Cut(name, ":"); ok && tag != "latest" {
		return ""
	}
	return fmt.Sprintf("cloud compute environments exist and %s=%s names no fixed version: every new machine pulls what it means that day; pin a version tag or a digest",
		config.EnvAgentImage, image)
}
