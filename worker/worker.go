// Package worker runs the control-plane Temporal worker: it registers every
// workflow and activity on the control task queue.
package worker

import (
	"context"
	"errors"
	"fmt"
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
	w.RegisterWorkflowWithOptions(workflows.ArrayJobWorkflow, workflow.RegisterOptions{Name: contract.ArrayJobWorkflowName})
	w.RegisterWorkflowWithOptions(workflows.DispatcherWorkflow, workflow.RegisterOptions{Name: contract.DispatcherWorkflowName})
	w.RegisterWorkflowWithOptions(workflows.CronTriggerWorkflow, workflow.RegisterOptions{Name: contract.CronTriggerWorkflowName})
	w.RegisterWorkflowWithOptions(workflows.CronRefreshWorkflow, workflow.RegisterOptions{Name: contract.CronRefreshWorkflowName})
	w.RegisterWorkflow(workflows.ReconcileWorkflow)
	w.RegisterWorkflowWithOptions(workflows.RetentionWorkflow, workflow.RegisterOptions{Name: contract.RetentionWorkflowName})
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

// systemSchedule is a schedule the control plane runs by itself.
type systemSchedule struct {
	// what names it in an error.
	what string
	// id is the schedule's ID, and the ID of the workflows it starts.
	id string
	// every is its interval.
	every time.Duration
	// workflow (a function or a registered name) and input are what it starts.
	workflow, input any
}

// systemSchedules are reconciliation (every workflows.ReconcileEvery) and
// retention (every contract.RetentionEvery). Missed runs are not caught
// up: the next one does the same work.
var systemSchedules = []systemSchedule{
	{"reconciliation", workflows.ReconcileScheduleID, workflows.ReconcileEvery, workflows.ReconcileWorkflow, workflows.ReconcileWorkflowInput{}},
	{"retention", contract.RetentionScheduleID, contract.RetentionEvery, contract.RetentionWorkflowName, contract.RetentionWorkflowInput{}},
}

// EnsureSystemSchedules creates every schedule the control plane runs by
// itself, on taskQueue, or brings those that exist up to this version's:
// each worker start may call it.
func EnsureSystemSchedules(ctx context.Context, c client.Client, taskQueue string) error {
	for _, sch := range systemSchedules {
		action := &client.ScheduleWorkflowAction{ID: sch.id, Workflow: sch.workflow, Args: []any{sch.input}, TaskQueue: taskQueue}
		if err := ensureSchedule(ctx, c, sch.id, sch.every, action); err != nil {
			return fmt.Errorf("create the %s schedule: %w", sch.what, err)
		}
	}
	return nil
}

// ensureSchedule creates schedule id running action every interval, one
// run at a time (an overlapping one is skipped), or, when it exists, brings
// its interval and action up to this version's.
func ensureSchedule(ctx context.Context, c client.Client, id string, every time.Duration, action *client.ScheduleWorkflowAction) error {
	spec := client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: every}}}
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID: id, Spec: spec, Action: action,
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, CatchupWindow: time.Minute,
	})
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return err
	}
	return c.ScheduleClient().GetHandle(ctx, id).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			in.Description.Schedule.Spec = &spec
			in.Description.Schedule.Action = action
			return &client.ScheduleUpdate{Schedule: &in.Description.Schedule}, nil
		},
	})
}
