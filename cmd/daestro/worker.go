package main

import (
	"context"
	"fmt"
	"io"

	"daestro/internal/contract"
	"daestro/worker"
)

func runWorker(ctx context.Context, stderr io.Writer) error {
	cfg, log, st, err := openRole(ctx, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	tc, err := dialTemporal(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer tc.Close()
	if err := worker.EnsureReconcileSchedule(ctx, tc, contract.ControlTaskQueue); err != nil {
		return fmt.Errorf("create the reconciliation schedule: %w", err)
	}
	log.Info("control worker polling", "task_queue", contract.ControlTaskQueue, "temporal", cfg.TemporalAddress)
	return worker.Run(ctx, tc, controlActivities(cfg, st))
}
