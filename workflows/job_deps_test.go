package workflows_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"daestro/activities"
	"daestro/internal/contract"
	"daestro/internal/domain"
)

func dep(id string, typ string, state domain.JobState) *domain.DependencyState {
	return &domain.DependencyState{JobDependency: domain.JobDependency{JobID: id, Type: typ}, State: state}
}

// A job that depends on others waits pending, saying for which, until they
// let it run; a dependency's signal wakes it at once, and it looks again on
// its own timer when no signal comes. When it ends it wakes its own dependents.
func TestJobWaitsForItsDependencies(t *testing.T) {
	e := newJobEnv(t, domain.JobRunFacts{QueueName: "etl", Dependencies: 2})
	looks, t0 := 0, e.Now()
	e.deps = func(context.Context, activities.JobDependenciesInput) (domain.DependencyVerdict, error) {
		looks++
		switch {
		case looks == 1:
			return domain.DependencyVerdict{Wait: dep("a", "success", domain.JobRunning)}, nil
		case e.Now().Before(t0.Add(10 * time.Minute)):
			return domain.DependencyVerdict{Wait: dep("b", "completion", domain.JobRunnable)}, nil
		}
		return domain.DependencyVerdict{}, nil
	}
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(contract.SignalDependencyDone, nil) }, time.Minute)
	e.assignAfter(11 * time.Minute)
	res := e.execute(t)
	assert.Equal(t, domain.JobCompleted, res.State)
	assert.Equal(t, []domain.JobState{"pending", "pending", "runnable", "starting", "running", "completed"}, e.states,
		"pending written again when the job it waits for changes (the store adds no event for the same state)")
	assert.Equal(t, &domain.PendingReason{Reason: "dependency", Detail: "b"}, e.fields[domain.JobPending].Pending,
		"the pending reason follows the job it waits for now (the store says it with that job's state when read)")
	assert.GreaterOrEqual(t, looks, 3, "the signal made it look at once, the timer later")
	assert.Equal(t, 1, e.notified, "its own dependents are woken when it ends")
}

// A success dependency that ends otherwise cancels the dependent with a
// note saying which; cancel works while it waits.
func TestJobWhoseDependencyFailedIsCancelled(t *testing.T) {
	for _, tt := range []struct {
		state domain.JobState
		note  string
	}{
		{domain.JobFailed, "dependency a failed"},
		{domain.JobCancelled, "dependency a was cancelled"},
	} {
		e := newJobEnv(t, domain.JobRunFacts{QueueName: "etl", Dependencies: 1})
		e.deps = func(context.Context, activities.JobDependenciesInput) (domain.DependencyVerdict, error) {
			return domain.DependencyVerdict{Failed: dep("a", "success", tt.state)}, nil
		}
		res := e.execute(t)
		assert.Equal(t, domain.JobCancelled, res.State)
		assert.Equal(t, tt.note, res.SystemNote)
		assert.Equal(t, []domain.JobState{"cancelled"}, e.states)
		assert.Equal(t, 1, e.notified, "the cancel goes on to its own dependents")
	}

	e := newJobEnv(t, domain.JobRunFacts{QueueName: "etl", Dependencies: 1})
	e.deps = func(context.Context, activities.JobDependenciesInput) (domain.DependencyVerdict, error) {
		return domain.DependencyVerdict{Wait: dep("a", "success", domain.JobRunning)}, nil
	}
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(contract.SignalJobCancel, nil) }, 30*time.Minute)
	res := e.execute(t)
	assert.Equal(t, domain.JobCancelled, res.State)
	assert.Equal(t, "cancelled while waiting for its dependencies", res.SystemNote)
}
