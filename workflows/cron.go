package workflows

import (
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"daestro/activities"
	"daestro/internal/contract"
	"daestro/internal/domain"
)

// CronTriggerWorkflowResult is what one trigger did.
type CronTriggerWorkflowResult struct {
	// JobID is the job the trigger submitted; "" when none. A trigger that
	// gave up after submitting it has marked it error (Error says why).
	JobID string
	// JobState is the job's final state when the trigger waited for it
	// (overlap skip or buffer_one); "" when it did not wait.
	JobState domain.JobState
	// Error is the system note of a trigger that submitted no job, as
	// recorded on the cron job.
	Error string
}

// scheduledStartTime is set by Temporal on every workflow a schedule starts:
// the trigger's nominal time (a manual trigger's is when it was asked for).
var scheduledStartTime = temporal.NewSearchAttributeKeyTime("TemporalScheduledStartTime")

// Timeouts of a trigger. A submission that cannot reach Postgres for
// cronSubmitTimeout gives up: a job submitted much later than its trigger
// would surprise more than a recorded failure.
const (
	cronSubmitTimeout  = 10 * time.Minute
	cronRefreshTimeout = time.Minute
)

// cronAbandonMaxInterval is the longest pause between attempts to record a
// trigger that gave up.
const cronAbandonMaxInterval = 5 * time.Minute

// cronRefreshMinWait keeps a refresh workflow from spinning should the
// calendars it gets back be due at once.
const cronRefreshMinWait = time.Minute

// cronRefreshLoopsPerRun bounds a refresh workflow run's history; it
// continues as new after this many rebuilds.
const cronRefreshLoopsPerRun = 100

// CronTriggerWorkflow is one trigger of a cron job, started by its schedule
// (`cron/<id>`): submit the job through the store (named after the trigger's
// time, the cron job's overrides applied), then start the job's
// JobWorkflow (`job/<id>`) as a child that outlives it. Unless the overlap
// policy is allow_all it waits for the job, so that the schedule's skip or
// buffer-one measures overlap against the running job. A trigger that
// cannot submit a job records why on the cron job and completes: its
// submission is never retried past cronSubmitTimeout. Giving up also marks
// error a job an attempt did commit (see abandonCronTrigger), so no job is
// left submitted with no workflow.
func CronTriggerWorkflow(ctx workflow.Context, in contract.CronTriggerInput) (CronTriggerWorkflowResult, error) {
	at := workflow.Now(ctx)
	if t, ok := workflow.GetTypedSearchAttributes(ctx).GetTime(scheduledStartTime); ok && !t.IsZero() {
		at = t
	}
	at = at.UTC().Truncate(time.Second)
	log := workflow.GetLogger(ctx)

	var sub activities.SubmitCronJobResult
	submitCtx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: cronSubmitTimeout,
		StartToCloseTimeout:    30 * time.Second,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
	})
	err := workflow.ExecuteLocalActivity(submitCtx, a.SubmitCronJob, activities.SubmitCronJobInput{
		CronJobID: in.CronJobID, ProjectID: in.ProjectID, ScheduledAt: at,
	}).Get(ctx, &sub)
	if err != nil {
		// The last attempt may have committed a job before it failed: the
		// trigger's abandon marks it error rather than leave it submitted.
		note := activities.CronTriggerNote(at, "daestro could not submit the job within "+cronSubmitTimeout.String()+" ("+err.Error()+")")
		jobID := abandonCronTrigger(ctx, in, at, note)
		return CronTriggerWorkflowResult{JobID: jobID, Error: note}, nil
	}
	switch {
	case sub.Gone:
		log.Info("cron job was deleted before its trigger ran", "cron_job_id", in.CronJobID)
		return CronTriggerWorkflowResult{}, nil
	case sub.Error != "":
		return CronTriggerWorkflowResult{Error: sub.Error}, nil
	}
	if sub.RefreshDue {
		// Best effort: the refresh workflow rebuilds the calendars too.
		if err := workflow.ExecuteActivity(refreshOptions(ctx), a.RefreshCronSchedule, activities.RefreshCronScheduleInput{
			CronJobID: in.CronJobID, ProjectID: in.ProjectID, EnsureRefresher: true,
		}).Get(ctx, nil); err != nil {
			log.Warn("rebuilding the cron job's calendars failed", "cron_job_id", in.CronJobID, "error", err)
		}
	}

	childCtx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID: contract.JobWorkflowID(sub.JobID),
		TaskQueue:  workflow.GetInfo(ctx).TaskQueueName,
		// The job lives on when the trigger ends (or is terminated).
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
		// A job is started once: a retried trigger finds its workflow.
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		TypedSearchAttributes: contract.JobSearchAttributes(in.ProjectID, sub.QueueName, domain.JobSubmitted),
	})
	child := workflow.ExecuteChildWorkflow(childCtx, JobWorkflow, contract.JobWorkflowInput{JobID: sub.JobID, RunID: sub.RunID, ProjectID: in.ProjectID})
	if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		if temporal.IsWorkflowExecutionAlreadyStartedError(err) {
			log.Info("the trigger's job was started by an earlier attempt", "job_id", sub.JobID)
			return CronTriggerWorkflowResult{JobID: sub.JobID}, nil
		}
		// Without its workflow the job would wait as submitted forever:
		// the abandon marks it error.
		note := activities.CronTriggerNote(at, "job "+sub.JobName+" was submitted but its workflow could not be started ("+err.Error()+")")
		abandonCronTrigger(ctx, in, at, note)
		return CronTriggerWorkflowResult{JobID: sub.JobID, Error: note}, nil
	}
	if sub.Overlap == domain.CronOverlapAllowAll {
		return CronTriggerWorkflowResult{JobID: sub.JobID}, nil
	}
	var res contract.JobWorkflowResult
	if err := child.Get(ctx, &res); err != nil {
		// The job's own workflow records what happened to it.
		log.Warn("the trigger's job workflow failed", "job_id", sub.JobID, "error", err)
		return CronTriggerWorkflowResult{JobID: sub.JobID}, nil
	}
	return CronTriggerWorkflowResult{JobID: sub.JobID, JobState: res.State}, nil
}

// abandonCronTrigger records note as the cron job's last error and marks
// error the job the trigger submitted without starting its workflow, if
// any; it returns that job's ID. Unlike the submission it retries until
// Postgres answers: a job it found may already exist, and giving up would
// leave that job submitted forever. (While Postgres is down no trigger
// could submit anything anyway.)
func abandonCronTrigger(ctx workflow.Context, in contract.CronTriggerInput, at time.Time, note string) string {
	abandonCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: cronAbandonMaxInterval},
	})
	var res activities.AbandonCronTriggerResult
	if err := workflow.ExecuteActivity(abandonCtx, a.AbandonCronTrigger, activities.AbandonCronTriggerInput{
		CronJobID: in.CronJobID, ProjectID: in.ProjectID, ScheduledAt: at, Note: note,
	}).Get(ctx, &res); err != nil {
		// Only a non-retryable error ends the retries; the trigger's log keeps the note.
		workflow.GetLogger(ctx).Error("recording a failed cron trigger failed", "cron_job_id", in.CronJobID, "note", note, "error", err)
	}
	return res.JobID
}

// refreshOptions are the options of RefreshCronSchedule, which talks to
// Postgres and Temporal: retried until both answer.
func refreshOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: cronRefreshTimeout,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 10 * time.Second, MaximumInterval: 10 * time.Minute},
	})
}

// CronRefreshWorkflow keeps the calendars of one cron job exact
// (`cron-refresh/<id>`). Almost every Quartz expression, 'L', 'LW', 'L-n'
// and 'nW' included, becomes calendars that are exact forever (see package
// cronsched). The exception is a schedule that uses the day of the week in a
// zone where a spring-forward skips midnight (America/Santiago,
// America/Havana): Temporal reads such a day as the day before, so those
// days are pinned as dates for a horizon of at least a year, and the
// calendars hold only until a time the translation names. This workflow
// sleeps until shortly before then, rebuilds them, and repeats. It exists
// only while the cron job needs it: it ends once the cron job is deleted or
// its calendars hold forever. The API starts it (or signals it to look
// again) after it commits such a schedule; triggers and the upcoming list
// also rebuild calendars that are due (and start it again), so a lost
// start never leaves a cron job without them.
func CronRefreshWorkflow(ctx workflow.Context, in contract.CronRefreshInput) error {
	rescheduled := workflow.GetSignalChannel(ctx, contract.SignalCronRescheduled)
	drain := func() {
		for rescheduled.ReceiveAsync(nil) {
		}
	}
	for range cronRefreshLoopsPerRun {
		drain()
		var res activities.RefreshCronScheduleResult
		if err := workflow.ExecuteActivity(refreshOptions(ctx), a.RefreshCronSchedule, activities.RefreshCronScheduleInput{
			CronJobID: in.CronJobID, ProjectID: in.ProjectID,
		}).Get(ctx, &res); err != nil {
			return err
		}
		if res.Gone || res.RefreshAt.IsZero() {
			return nil
		}
		wait := max(res.RefreshAt.Sub(workflow.Now(ctx)), cronRefreshMinWait)
		timerCtx, stopTimer := workflow.WithCancel(ctx)
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(workflow.NewTimer(timerCtx, wait), func(workflow.Future) {})
		sel.AddReceive(rescheduled, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
		sel.Select(ctx)
		stopTimer()
	}
	drain()
	return workflow.NewContinueAsNewError(ctx, CronRefreshWorkflow, in)
}
