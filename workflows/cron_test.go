package workflows_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"daestro/activities"
	"daestro/internal/contract"
	"daestro/internal/domain"
	"daestro/workflows"
)

// cronEnv is a CronTriggerWorkflow test environment: the submission's
// answer is given, the job's workflow is a stub that runs for jobRuns of
// workflow time, and what the trigger records is kept.
type cronEnv struct {
	*testsuite.TestWorkflowEnvironment
	mu        sync.Mutex
	submitted []activities.SubmitCronJobInput
	failures  []string
	// abandon answers AbandonCronTrigger; nil finds no job.
	abandon   func(activities.AbandonCronTriggerInput) (activities.AbandonCronTriggerResult, error)
	refreshes int
	jobs      []contract.JobWorkflowInput
	jobEnded  time.Time
	jobRuns   time.Duration
}

var cronTriggerAt = time.Date(2026, 11, 29, 18, 45, 0, 0, time.UTC)

func newCronEnv(t *testing.T, submit func(activities.SubmitCronJobInput) (activities.SubmitCronJobResult, error)) *cronEnv {
	var ts testsuite.WorkflowTestSuite
	e := &cronEnv{TestWorkflowEnvironment: ts.NewTestWorkflowEnvironment(), jobRuns: time.Hour}
	e.SetStartTime(cronTriggerAt.Add(300 * time.Millisecond))
	var a *activities.Activities
	e.RegisterActivity(a)
	e.RegisterWorkflowWithOptions(func(ctx workflow.Context, in contract.JobWorkflowInput) (contract.JobWorkflowResult, error) {
		e.mu.Lock()
		e.jobs = append(e.jobs, in)
		e.mu.Unlock()
		if err := workflow.Sleep(ctx, e.jobRuns); err != nil {
			return contract.JobWorkflowResult{}, err
		}
		e.mu.Lock()
		e.jobEnded = workflow.Now(ctx)
		e.mu.Unlock()
		return contract.JobWorkflowResult{State: domain.JobCompleted, SystemNote: "exited with code 0"}, nil
	}, workflow.RegisterOptions{Name: "JobWorkflow"})
	e.OnActivity(a.SubmitCronJob, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.SubmitCronJobInput) (activities.SubmitCronJobResult, error) {
		e.mu.Lock()
		e.submitted = append(e.submitted, in)
		e.mu.Unlock()
		return submit(in)
	})
	e.OnActivity(a.AbandonCronTrigger, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.AbandonCronTriggerInput) (activities.AbandonCronTriggerResult, error) {
		e.mu.Lock()
		defer e.mu.Unlock()
		assert.Equal(t, cronTriggerAt, in.ScheduledAt)
		var res activities.AbandonCronTriggerResult
		if e.abandon != nil {
			var err error
			if res, err = e.abandon(in); err != nil {
				return res, err
			}
		}
		e.failures = append(e.failures, in.Note)
		return res, nil
	})
	e.OnActivity(a.RefreshCronSchedule, mock.Anything, mock.Anything).Return(func(context.Context, activities.RefreshCronScheduleInput) (activities.RefreshCronScheduleResult, error) {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.refreshes++
		return activities.RefreshCronScheduleResult{}, nil
	})
	return e
}

func (e *cronEnv) execute(t *testing.T) workflows.CronTriggerWorkflowResult {
	t.Helper()
	e.ExecuteWorkflow(workflows.CronTriggerWorkflow, contract.CronTriggerInput{CronJobID: "cron-1", ProjectID: "p-1"})
	require.True(t, e.IsWorkflowCompleted())
	require.NoError(t, e.GetWorkflowError(), "a trigger never fails its workflow: it records what went wrong")
	var res workflows.CronTriggerWorkflowResult
	require.NoError(t, e.GetWorkflowResult(&res))
	return res
}

func submittedJob(overlap string) func(activities.SubmitCronJobInput) (activities.SubmitCronJobResult, error) {
	return func(activities.SubmitCronJobInput) (activities.SubmitCronJobResult, error) {
		return activities.SubmitCronJobResult{JobID: "job-1", RunID: "run-1", JobName: "nightly-20261129T184500Z",
			QueueName: "etl", Overlap: overlap}, nil
	}
}

// allow_all: the trigger starts the job's workflow and ends without waiting for it.
func TestCronTriggerStartsTheJobAndDoesNotWaitUnderAllowAll(t *testing.T) {
	e := newCronEnv(t, submittedJob(domain.CronOverlapAllowAll))
	var started time.Time
	e.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, _ converter.EncodedValues) {
		started = e.Now()
		assert.Equal(t, "job/job-1", info.WorkflowExecution.ID)
	})
	e.SetDetachedChildWait(false)
	res := e.execute(t)
	assert.Equal(t, workflows.CronTriggerWorkflowResult{JobID: "job-1"}, res)
	assert.Less(t, e.Now().Sub(cronTriggerAt), time.Hour, "the trigger did not wait for its job")
	assert.True(t, e.jobEnded.IsZero(), "the job outlives its trigger")
	require.Len(t, e.submitted, 1)
	assert.Equal(t, activities.SubmitCronJobInput{CronJobID: "cron-1", ProjectID: "p-1", ScheduledAt: cronTriggerAt},
		e.submitted[0], "the job is named after the trigger's time, to the second, in UTC")
	require.Len(t, e.jobs, 1)
	assert.Equal(t, contract.JobWorkflowInput{JobID: "job-1", RunID: "run-1", ProjectID: "p-1"}, e.jobs[0], "IDs only")
	assert.False(t, started.IsZero())
	assert.Empty(t, e.failures)
	assert.Zero(t, e.refreshes, "calendars that are not due are left alone")
}

// skip and buffer_one: the trigger waits for the job, so that Temporal's
// overlap policy measures against the running job.
func TestCronTriggerWaitsForTheJobUnlessAllowAll(t *testing.T) {
	for _, overlap := range []string{domain.CronOverlapSkip, domain.CronOverlapBufferOne} {
		t.Run(overlap, func(t *testing.T) {
			e := newCronEnv(t, submittedJob(overlap))
			e.jobRuns = 3 * time.Hour
			res := e.execute(t)
			assert.Equal(t, workflows.CronTriggerWorkflowResult{JobID: "job-1", JobState: domain.JobCompleted}, res)
			require.False(t, e.jobEnded.IsZero())
			assert.False(t, e.Now().Before(e.jobEnded), "the trigger ended after its job")
			assert.GreaterOrEqual(t, e.Now().Sub(cronTriggerAt), 3*time.Hour)
		})
	}
}

// A submission the rules refuse was recorded by the activity: the trigger
// completes at once, starts nothing, and is not retried.
func TestCronTriggerThatCannotSubmitCompletes(t *testing.T) {
	note := "the trigger at 2026-11-29T18:45:00Z submitted no job: job queue 'etl' is disabled: add a compute environment and enable it"
	e := newCronEnv(t, func(activities.SubmitCronJobInput) (activities.SubmitCronJobResult, error) {
		return activities.SubmitCronJobResult{Error: note, Overlap: domain.CronOverlapSkip}, nil
	})
	res := e.execute(t)
	assert.Equal(t, workflows.CronTriggerWorkflowResult{Error: note}, res)
	assert.Len(t, e.submitted, 1, "not retried")
	assert.Empty(t, e.jobs, "no job workflow")
	assert.Empty(t, e.failures, "the activity already recorded it")
}

// Postgres unreachable: the submission is retried for a while, then the
// trigger records why it submitted nothing and completes.
func TestCronTriggerGivesUpWhenTheDatabaseStaysDown(t *testing.T) {
	e := newCronEnv(t, func(activities.SubmitCronJobInput) (activities.SubmitCronJobResult, error) {
		return activities.SubmitCronJobResult{}, errors.New("dial tcp 127.0.0.1:5432: connection refused")
	})
	res := e.execute(t)
	// Attempts that timed out may still be finishing in the background.
	e.mu.Lock()
	submitted, jobs, failures := len(e.submitted), len(e.jobs), append([]string{}, e.failures...)
	e.mu.Unlock()
	assert.Greater(t, submitted, 3, "retried")
	assert.Zero(t, jobs)
	require.Len(t, failures, 1)
	assert.Equal(t, failures[0], res.Error)
	assert.True(t, strings.HasPrefix(res.Error, "the trigger at 2026-11-29T18:45:00Z submitted no job: daestro could not submit the job within 10m0s"), res.Error)
	assert.Less(t, e.Now().Sub(cronTriggerAt), time.Hour, "it gave up instead of retrying forever")
}

// A submission that committed its job but kept failing afterwards (the
// answer lost, then Postgres gone until the deadline): giving up marks that
// job error instead of leaving it submitted with no workflow, and the
// trigger keeps trying to do so until Postgres answers again.
func TestCronTriggerThatGivesUpMarksAnOrphanedJobError(t *testing.T) {
	e := newCronEnv(t, func(activities.SubmitCronJobInput) (activities.SubmitCronJobResult, error) {
		return activities.SubmitCronJobResult{}, errors.New("conn closed")
	})
	down := 0
	e.abandon = func(activities.AbandonCronTriggerInput) (activities.AbandonCronTriggerResult, error) {
		if down < 9 { // the test environment stops at 10 attempts; Temporal does not
			down++
			return activities.AbandonCronTriggerResult{}, errors.New("dial tcp 127.0.0.1:5432: connection refused")
		}
		return activities.AbandonCronTriggerResult{JobID: "job-1"}, nil
	}
	res := e.execute(t)
	assert.Equal(t, "job-1", res.JobID, "the job the last attempt committed")
	assert.True(t, strings.HasPrefix(res.Error, "the trigger at 2026-11-29T18:45:00Z submitted no job: daestro could not submit the job within 10m0s"), res.Error)
	e.mu.Lock()
	defer e.mu.Unlock()
	assert.Equal(t, []string{res.Error}, e.failures, "recorded once Postgres answered")
	assert.Equal(t, 9, down)
	assert.Greater(t, e.Now().Sub(cronTriggerAt), 15*time.Minute, "the abandon kept trying after the submission's deadline")
	assert.Empty(t, e.jobs, "no job workflow")
}

// A cron job deleted before its trigger ran: nothing happens.
func TestCronTriggerOfADeletedCronJob(t *testing.T) {
	e := newCronEnv(t, func(activities.SubmitCronJobInput) (activities.SubmitCronJobResult, error) {
		return activities.SubmitCronJobResult{Gone: true}, nil
	})
	assert.Equal(t, workflows.CronTriggerWorkflowResult{}, e.execute(t))
	assert.Empty(t, e.jobs)
	assert.Empty(t, e.failures)
}

// Calendars that are due are rebuilt by the trigger too.
func TestCronTriggerRebuildsDueCalendars(t *testing.T) {
	e := newCronEnv(t, func(activities.SubmitCronJobInput) (activities.SubmitCronJobResult, error) {
		return activities.SubmitCronJobResult{JobID: "job-1", RunID: "run-1", QueueName: "etl", Overlap: domain.CronOverlapAllowAll, RefreshDue: true}, nil
	})
	assert.Equal(t, workflows.CronTriggerWorkflowResult{JobID: "job-1"}, e.execute(t))
	assert.Equal(t, 1, e.refreshes)
	assert.Len(t, e.jobs, 1)
}

// The trigger's time is the schedule's nominal time (the search attribute
// Temporal sets on what a schedule starts), not when the workflow happened
// to start. The test environment sets search attributes only on children,
// so the trigger runs as one here.
func TestCronTriggerNamesTheJobAfterTheScheduledTime(t *testing.T) {
	e := newCronEnv(t, submittedJob(domain.CronOverlapAllowAll))
	nominal := cronTriggerAt.Add(-2 * time.Minute)
	e.RegisterWorkflow(workflows.CronTriggerWorkflow)
	e.RegisterWorkflowWithOptions(scheduleStandIn, workflow.RegisterOptions{Name: "ScheduleStandIn"})
	e.ExecuteWorkflow("ScheduleStandIn", nominal)
	require.True(t, e.IsWorkflowCompleted())
	require.NoError(t, e.GetWorkflowError())
	require.Len(t, e.submitted, 1)
	assert.Equal(t, nominal, e.submitted[0].ScheduledAt)
}

// scheduleStandIn starts the trigger as a schedule would: with the nominal
// time as its TemporalScheduledStartTime search attribute.
func scheduleStandIn(ctx workflow.Context, nominal time.Time) error {
	ctx = workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            "cron/cron-1-" + nominal.Format(time.RFC3339),
		TypedSearchAttributes: temporal.NewSearchAttributes(temporal.NewSearchAttributeKeyTime("TemporalScheduledStartTime").ValueSet(nominal)),
	})
	return workflow.ExecuteChildWorkflow(ctx, workflows.CronTriggerWorkflow, contract.CronTriggerInput{CronJobID: "cron-1", ProjectID: "p-1"}).Get(ctx, nil)
}

// The refresh workflow sleeps until its calendars are due, rebuilds them,
// and ends once the cron job is gone.
func TestCronRefreshWorkflowSleepsUntilDueAndEndsWithItsCronJob(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	e := ts.NewTestWorkflowEnvironment()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e.SetStartTime(start)
	var a *activities.Activities
	e.RegisterActivity(a)
	var calls []time.Time
	e.OnActivity(a.RefreshCronSchedule, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RefreshCronScheduleInput) (activities.RefreshCronScheduleResult, error) {
		assert.False(t, in.EnsureRefresher, "the refresher does not restart itself")
		calls = append(calls, e.Now())
		switch len(calls) {
		case 1:
			return activities.RefreshCronScheduleResult{RefreshAt: start.Add(30 * 24 * time.Hour)}, nil
		case 2:
			return activities.RefreshCronScheduleResult{RefreshAt: start.Add(400 * 24 * time.Hour)}, nil
		default:
			return activities.RefreshCronScheduleResult{Gone: true}, nil
		}
	})
	e.ExecuteWorkflow(workflows.CronRefreshWorkflow, contract.CronRefreshInput{CronJobID: "cron-1", ProjectID: "p-1"})
	require.True(t, e.IsWorkflowCompleted())
	require.NoError(t, e.GetWorkflowError())
	require.Len(t, calls, 3)
	assert.WithinDuration(t, start, calls[0], time.Minute)
	assert.WithinDuration(t, start.Add(30*24*time.Hour), calls[1], time.Minute)
	assert.WithinDuration(t, start.Add(400*24*time.Hour), calls[2], time.Minute)
}

// Calendars exact forever need no refresh workflow: it ends at once.
func TestCronRefreshWorkflowEndsWhenCalendarsHoldForever(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	e := ts.NewTestWorkflowEnvironment()
	var a *activities.Activities
	e.RegisterActivity(a)
	e.OnActivity(a.RefreshCronSchedule, mock.Anything, mock.Anything).Return(activities.RefreshCronScheduleResult{}, nil).Once()
	e.ExecuteWorkflow(workflows.CronRefreshWorkflow, contract.CronRefreshInput{CronJobID: "cron-1", ProjectID: "p-1"})
	require.True(t, e.IsWorkflowCompleted())
	require.NoError(t, e.GetWorkflowError())
	e.AssertExpectations(t)
}
