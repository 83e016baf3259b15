// Package worker runs the control-plane Temporal worker: it registers every
// workflow and activity on the control task queue.
package worker

import (
	"context"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"daestro/activities"
	"daestro/internal/temporalx"
	"daestro/workflows"
)

// Register adds every control-plane workflow and activity to w.
func Register(w sdkworker.Registry, acts *activities.Activities) {
	w.RegisterWorkflow(workflows.HealthCheckWorkflow)
	w.RegisterWorkflow(workflows.SpawnWorkflow)
	w.RegisterWorkflow(workflows.JobWorkflow)
	w.RegisterWorkflow(workflows.DispatcherWorkflow)
	w.RegisterActivity(acts)
}

// New builds a worker polling taskQueue (temporalx.ControlTaskQueue in production; tests use their own).
func New(c client.Client, taskQueue string, acts *activities.Activities) sdkworker.Worker {
	if acts.Temporal == nil {
		acts.Temporal = c
	}
	if acts.ControlTaskQueue == "" {
		acts.ControlTaskQueue = taskQueue
	}
	w := sdkworker.New(c, taskQueue, sdkworker.Options{})
	Register(w, acts)
	return w
}

// Run polls the control task queue until ctx ends.
func Run(ctx context.Context, c client.Client, acts *activities.Activities) error {
	w := New(c, temporalx.ControlTaskQueue, acts)
	if err := w.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	w.Stop()
	return nil
}
