// Package worker runs the control-plane Temporal worker: it registers every
// workflow and activity on the control task queue.
package worker

import (
	"context"
	"errors"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"daestro/activities"
	"daestro/internal/contract"
	"daestro/workflows"
)

// Register adds every control-plane workflow and activity to w.
func Register(w sdkworker.Registry, acts *activities.Activities) {
	RegisterWorkflows(w)
	w.RegisterActivity(acts)
}

// RegisterWorkflows adds every control-plane workflow to w under the name
// running workflows know it by: the worker's registry, and the replayer of
// the recorded histories (workflows/replay_test.go), share this one list.
func RegisterWorkflows(w sdkworker.WorkflowRegistry) {
	w.RegisterWorkflow(workflows.HealthCheckWorkflow)
	// Under the contract's names: the API and the activities start them by name.
	w.RegisterWorkflowWithOptions(workflows.SpawnWorkflow, workflow.RegisterOptions{Name: contract.SpawnWorkflowName})
	w.RegisterWorkflowWithOptions(workflows.JobWorkflow, workflow.RegisterOptions{Name: contract.JobWorkflowName})
	w.RegisterWorkflowWithOptions(workflows.DispatcherWorkflow, workflow.RegisterOptions{Name: contract.DispatcherWorkflowName})
	w.RegisterWorkflowWithOptions(workflows.CronTriggerWorkflow, workflow.RegisterOptions{Name: contract.CronTriggerWorkflowName})
	w.RegisterWorkflowWithOptions(workflows.CronRefreshWorkflow, workflow.RegisterOptions{Name: contract.CronRefreshWorkflowName})
	w.RegisterWorkflow(workflows.ReconcileWorkflow)
}

// New builds a worker polling taskQueue (contract.ControlTaskQueue in production; tests use their own).
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

// Run polls the control task queue taskQueue until ctx ends.
func Run(ctx context.Context, c client.Client, taskQueue string, acts *activities.Activities) error {
	w := New(c, taskQueue, acts)
	if err := w.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	w.Stop()
	return nil
}

// EnsureReconcileSchedule creates the schedule that runs ReconcileWorkflow
// every workflows.ReconcileEvery on taskQueue, unless it exists already.
// Missed runs are not caught up: the next one does the same work.
func EnsureReconcileSchedule(ctx context.Context, c client.Client, taskQueue string) error {
	spec := client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: workflows.ReconcileEvery}}}
	action := &client.ScheduleWorkflowAction{
		ID:        workflows.ReconcileScheduleID,
		Workflow:  workflows.ReconcileWorkflow,
		Args:      []any{workflows.ReconcileWorkflowInput{}},
		TaskQueue: taskQueue,
	}
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID: workflows.ReconcileScheduleID, Spec: spec, Action: action,
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, CatchupWindow: time.Minute,
	})
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return err
	}
	// It exists: bring its interval and action up to this version's.
	return c.ScheduleClient().GetHandle(ctx, workflows.ReconcileScheduleID).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			in.Description.Schedule.Spec = &spec
			in.Description.Schedule.Action = action
			return &client.ScheduleUpdate{Schedule: &in.Description.Schedule}, nil
		},
	})
}
