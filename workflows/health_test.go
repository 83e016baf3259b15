package workflows_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"daestro/activities"
	"daestro/workflows"
)

func TestHealthCheckWorkflowReturnsWhatTheActivitySaw(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	var a *activities.Activities
	env.RegisterActivity(a)
	env.OnActivity(a.HealthCheck, mock.Anything, activities.HealthCheckInput{Note: "n1"}).
		Return(activities.HealthCheckResult{Note: "n1", SchemaVersion: 7}, nil)

	env.ExecuteWorkflow(workflows.HealthCheckWorkflow, workflows.HealthCheckWorkflowInput{Note: "n1"})

	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res workflows.HealthCheckWorkflowResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, workflows.HealthCheckWorkflowResult{Note: "n1", SchemaVersion: 7}, res)
}

func TestHealthCheckWorkflowGivesUpAfterThreeAttempts(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	var a *activities.Activities
	env.RegisterActivity(a)
	calls := 0
	env.OnActivity(a.HealthCheck, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.HealthCheckInput) (activities.HealthCheckResult, error) {
			calls++
			return activities.HealthCheckResult{}, errors.New("database down")
		})

	env.ExecuteWorkflow(workflows.HealthCheckWorkflow, workflows.HealthCheckWorkflowInput{})

	require.True(t, env.IsWorkflowCompleted())
	require.Error(t, env.GetWorkflowError())
	assert.Equal(t, 3, calls, "a failing health check is retried a bounded number of times")
}
