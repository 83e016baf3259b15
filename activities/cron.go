package activities

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"daestro/internal/domain"
	"daestro/service"
)

func (a *Activities) cronSchedules() service.CronSchedules {
	return service.CronSchedules{Temporal: a.Temporal, TaskQueue: a.ControlTaskQueue}
}

// SubmitCronJobInput is one trigger of a cron job.
type SubmitCronJobInput struct {
	// CronJobID and ProjectID name the cron job.
	CronJobID, ProjectID string
	// ScheduledAt is the trigger's nominal time; it names the job.
	ScheduledAt time.Time
}

// SubmitCronJobResult is what a trigger submitted. No secrets: the job's
// overrides stay in Postgres.
type SubmitCronJobResult struct {
	// Gone is true when the cron job was deleted: nothing was submitted.
	Gone bool
	// Error is the system note of a trigger that could not submit a job; it
	// is already recorded on the cron job.
	Error string
	// JobID and RunID are the job submitted (state submitted, no workflow
	// yet: the trigger workflow starts it); JobName and QueueName describe it.
	JobID, RunID, JobName, QueueName string
	// Existing is true when an earlier attempt of this trigger (or another
	// trigger in the same second) had submitted the job.
	Existing bool
	// Overlap is the cron job's overlap policy: the trigger waits for the
	// job unless it is allow_all.
	Overlap string
	// RefreshDue is true when the schedule's calendars should be rebuilt.
	RefreshDue bool
}

// SubmitCronJob submits the job of one trigger, as a submission through the
// API would (the same checks, the cron job's overrides), named
// "<cron name>-<UTC time>" and marked as the cron job's, and records it on
// the cron job in the same transaction. A submission the rules refuse
// (disabled queue, deleted definition version, a placeholder without a
// value) is recorded as the cron job's last error and returned in Error:
// retrying cannot help. It is idempotent: a retry finds the job its first
// attempt submitted.
func (a *Activities) SubmitCronJob(ctx context.Context, in SubmitCronJobInput) (SubmitCronJobResult, error) {
	c, err := a.Store.CronJob(ctx, in.ProjectID, in.CronJobID)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return SubmitCronJobResult{Gone: true}, nil
	}
	if err != nil {
		return SubmitCronJobResult{}, err
	}
	out := SubmitCronJobResult{Overlap: c.Overlap, QueueName: c.JobQueue.Name, RefreshDue: c.Schedule.RefreshDue(time.Now())}
	name := domain.CronJobName(c.Name, in.ScheduledAt)
	j, found, err := a.Store.CronTriggerJob(ctx, c.ProjectID, c.ID, name)
	if err != nil {
		return out, err
	}
	if !found {
		version := 0
		if c.JobDefinition.Pinned {
			version = c.JobDefinition.Version
		}
		// The job and the cron job's record of it commit together: a job
		// this trigger submitted is one a retry (or AbandonCronTrigger) finds.
		j, err = a.Store.SubmitCronTriggerJob(ctx, c.ProjectID, c.ID, in.ScheduledAt, domain.SubmitJob{
			DefinitionName: c.JobDefinition.Name, DefinitionVersion: version, QueueName: c.JobQueue.Name, Name: name,
			Command: c.ContainerCmd, Parameters: c.ContainerCmdParameter, Env: c.ContainerEnv,
			Via: fmt.Sprintf("cron job '%s'", c.Name),
		})
		if domain.ErrorCode(err) == domain.ECONFLICT {
			// Another trigger in the same second may have taken the name.
			var again error
			if j, found, again = a.Store.CronTriggerJob(ctx, c.ProjectID, c.ID, name); again != nil {
				return out, again
			}
			if found {
				err = nil
			}
		}
		switch {
		case err == nil:
		case domain.ErrorCode(err) == domain.ENOTFOUND:
			return SubmitCronJobResult{Gone: true}, nil // the cron job was deleted meanwhile
		case domain.ErrorCode(err) == domain.EINTERNAL:
			return out, err // Postgres did not answer: retried
		default:
			return a.cronTriggerFailed(ctx, out, c, in.ScheduledAt, domain.ErrorMessage(err))
		}
	}
	out.JobID, out.RunID, out.JobName, out.Existing = j.ID, j.CurrentRunID, j.Name, found
	return out, nil
}

// cronTriggerFailed records why a trigger submitted no job and answers with it.
func (a *Activities) cronTriggerFailed(ctx context.Context, out SubmitCronJobResult, c domain.CronJob, at time.Time, why string) (SubmitCronJobResult, error) {
	out.Error = CronTriggerNote(at, why)
	if err := a.Store.RecordCronTriggerFailure(ctx, c.ProjectID, c.ID, at, out.Error); err != nil && domain.ErrorCode(err) != domain.ENOTFOUND {
		return out, err
	}
	return out, nil
}

// CronTriggerNote is the system note of a trigger that submitted no job.
func CronTriggerNote(at time.Time, why string) string {
	return fmt.Sprintf("the trigger at %s submitted no job: %s", at.UTC().Format(time.RFC3339), why)
}

// AbandonCronTriggerInput is a trigger that gives up: its submission kept
// failing, or its job's workflow could not be started.
type AbandonCronTriggerInput struct {
	// CronJobID and ProjectID name the cron job; ScheduledAt is the trigger's time.
	CronJobID, ProjectID string
	ScheduledAt          time.Time
	// Note is the system note, as CronTriggerNote writes it.
	Note string
}

// AbandonCronTriggerResult says what AbandonCronTrigger found.
type AbandonCronTriggerResult struct {
	// JobID is the job the trigger had submitted and that was marked error
	// because no workflow will ever move it; "" when there was none.
	JobID string
}

// AbandonCronTrigger records note as the cron job's last error, with an
// event, and marks error a job the trigger submitted that still waits as
// submitted: without the workflow the trigger would have started, nothing
// else ever moves it. A cron job deleted meanwhile has nothing to record.
func (a *Activities) AbandonCronTrigger(ctx context.Context, in AbandonCronTriggerInput) (AbandonCronTriggerResult, error) {
	j, err := a.Store.AbandonCronTrigger(ctx, in.ProjectID, in.CronJobID, in.ScheduledAt, in.Note)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return AbandonCronTriggerResult{}, nil
	}
	if err != nil || j == nil {
		return AbandonCronTriggerResult{}, err
	}
	return AbandonCronTriggerResult{JobID: j.ID}, nil
}

// RefreshCronScheduleInput names the cron job whose calendars to check.
type RefreshCronScheduleInput struct {
	// CronJobID and ProjectID name the cron job.
	CronJobID, ProjectID string
	// EnsureRefresher also (re)starts the cron job's refresh workflow when
	// its calendars hold only for a while; the refresh workflow itself
	// leaves it false.
	EnsureRefresher bool
}

// RefreshCronScheduleResult says when the calendars next need rebuilding.
type RefreshCronScheduleResult struct {
	// Gone is true when the cron job was deleted.
	Gone bool
	// RefreshAt is when to call RefreshCronSchedule again; zero when the
	// calendars are exact forever.
	RefreshAt time.Time
}

// RefreshCronSchedule rebuilds a cron job's calendars when they are due
// (see domain.CronScheduleState.RefreshDue) and says when they are next due.
func (a *Activities) RefreshCronSchedule(ctx context.Context, in RefreshCronScheduleInput) (RefreshCronScheduleResult, error) {
	c, err := a.cronSchedules().Refresh(ctx, a.Store, in.ProjectID, in.CronJobID, false, in.EnsureRefresher)
	switch domain.ErrorCode(err) {
	case domain.ENOTFOUND:
		return RefreshCronScheduleResult{Gone: true}, nil
	case domain.EINVALID:
		// The expression can no longer be scheduled (its next time is past
		// what Temporal knows): retrying cannot change that.
		return RefreshCronScheduleResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "CronNotSchedulable", err)
	}
	if err != nil {
		return RefreshCronScheduleResult{}, err
	}
	return RefreshCronScheduleResult{RefreshAt: c.Schedule.RefreshAt()}, nil
}
