package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"daestro/internal/contract"
	"daestro/internal/cronsched"
	"daestro/internal/domain"
	"daestro/internal/store"
)

// CronCatchupWindow is how late a trigger may still run after Temporal was
// unavailable at its time: long enough for a restart, short enough that an
// outage never replays a backlog (Temporal's default is a year).
const CronCatchupWindow = time.Minute

// CronOverlapPolicy maps a cron job's overlap policy to Temporal's.
func CronOverlapPolicy(overlap string) enumspb.ScheduleOverlapPolicy {
	switch overlap {
	case domain.CronOverlapSkip:
		return enumspb.SCHEDULE_OVERLAP_POLICY_SKIP
	case domain.CronOverlapBufferOne:
		return enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE
	default:
		return enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL
	}
}

// CronSchedules creates, rewrites and deletes the Temporal schedules of cron
// jobs. The API server uses it when a cron job changes, the activities when
// its calendars need rebuilding; each schedule is always written whole from
// the cron job's row, so a rewrite never depends on what Temporal held.
type CronSchedules struct {
	// Temporal is the client schedules are managed with.
	Temporal client.Client
	// TaskQueue is where the trigger and refresh workflows run (the control queue).
	TaskQueue string
}

// Translate builds the calendars of c's expression in its zone, exact from now.
func (cs CronSchedules) Translate(c domain.CronJob, now time.Time) (cronsched.Translation, domain.CronScheduleState, error) {
	sched, err := domain.ParseCronExpression(c.Expression)
	if err != nil {
		return cronsched.Translation{}, domain.CronScheduleState{}, err
	}
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		return cronsched.Translation{}, domain.CronScheduleState{}, err
	}
	if sched.Next(now.In(loc)).IsZero() {
		// A cron job whose last year has passed keeps a schedule that never fires.
		return cronsched.Translation{Spec: client.ScheduleSpec{TimeZoneName: c.TimeZone}}, domain.CronScheduleState{TranslatedAt: now}, nil
	}
	tr, err := cronsched.Translate(sched, c.TimeZone, now)
	var derr *domain.Error
	switch {
	case errors.As(err, &derr):
		return tr, domain.CronScheduleState{}, err
	case err != nil:
		return tr, domain.CronScheduleState{}, domain.Errorf(domain.EINVALID, "expression: cannot be scheduled in time zone %s: %v", c.TimeZone, err)
	}
	tr.Spec.TimeZoneName = c.TimeZone
	tr.Spec.Jitter = 0
	return tr, domain.CronScheduleState{TranslatedAt: now, RefreshAfter: tr.RefreshAfter}, nil
}

// action is what every trigger of c starts.
func (cs CronSchedules) action(c domain.CronJob) *client.ScheduleWorkflowAction {
	return &client.ScheduleWorkflowAction{
		ID:        contract.CronScheduleID(c.ID),
		Workflow:  contract.CronTriggerWorkflowName,
		Args:      []any{contract.CronTriggerInput{CronJobID: c.ID, ProjectID: c.ProjectID}},
		TaskQueue: cs.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			temporal.NewSearchAttributeKeyKeyword(contract.SearchAttrProjectID).ValueSet(c.ProjectID)),
	}
}

// cronNote is the schedule's note, shown by Temporal's UI and CLI.
func cronNote(c domain.CronJob) string {
	if !c.Enabled {
		return fmt.Sprintf("cron job '%s' is disabled in daestro", c.Name)
	}
	return fmt.Sprintf("cron job '%s' of daestro; edit it through the daestro API, not here", c.Name)
}

// Create creates c's schedule, paused when c is disabled. When its calendars
// hold only for a while (st.RefreshAfter), the caller also calls
// EnsureRefresher, once the cron job's row is committed.
func (cs CronSchedules) Create(ctx context.Context, c domain.CronJob) (domain.CronScheduleState, error) {
	tr, st, err := cs.Translate(c, time.Now())
	if err != nil {
		return st, err
	}
	_, err = cs.Temporal.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:            contract.CronScheduleID(c.ID),
		Spec:          tr.Spec,
		Action:        cs.action(c),
		Overlap:       CronOverlapPolicy(c.Overlap),
		CatchupWindow: CronCatchupWindow,
		Paused:        !c.Enabled,
		Note:          cronNote(c),
	})
	if err != nil {
		return st, fmt.Errorf("create schedule %s: %w", contract.CronScheduleID(c.ID), err)
	}
	return st, nil
}

// Update rewrites c's schedule whole from c with calendars built now: spec,
// action, overlap policy and paused state. A schedule that is missing
// (Temporal lost it) is created again.
func (cs CronSchedules) Update(ctx context.Context, c domain.CronJob) (domain.CronScheduleState, error) {
	tr, st, err := cs.Translate(c, time.Now())
	if err != nil {
		return st, err
	}
	spec := tr.Spec
	err = cs.Temporal.ScheduleClient().GetHandle(ctx, contract.CronScheduleID(c.ID)).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			return &client.ScheduleUpdate{Schedule: &client.Schedule{
				Action: cs.action(c),
				Spec:   &spec,
				Policy: &client.SchedulePolicies{Overlap: CronOverlapPolicy(c.Overlap), CatchupWindow: CronCatchupWindow},
				State:  &client.ScheduleState{Paused: !c.Enabled, Note: cronNote(c)},
			}}, nil
		},
	})
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return cs.Create(ctx, c)
	}
	if err != nil {
		return st, fmt.Errorf("update schedule %s: %w", contract.CronScheduleID(c.ID), err)
	}
	return st, nil
}

// Delete deletes a cron job's schedule and stops its refresh workflow; what
// is already gone is fine.
func (cs CronSchedules) Delete(ctx context.Context, cronJobID string) error {
	err := cs.Temporal.ScheduleClient().GetHandle(ctx, contract.CronScheduleID(cronJobID)).Delete(ctx)
	var notFound *serviceerror.NotFound
	if err != nil && !errors.As(err, &notFound) {
		return fmt.Errorf("delete schedule %s: %w", contract.CronScheduleID(cronJobID), err)
	}
	err = cs.Temporal.TerminateWorkflow(ctx, contract.CronRefreshWorkflowID(cronJobID), "", "its cron job was deleted")
	if err != nil && !errors.As(err, &notFound) {
		return fmt.Errorf("stop %s: %w", contract.CronRefreshWorkflowID(cronJobID), err)
	}
	return nil
}

// EnsureRefresher starts c's refresh workflow when its calendars hold only
// until st.RefreshAfter, or tells the running one to look again.
func (cs CronSchedules) EnsureRefresher(ctx context.Context, c domain.CronJob, st domain.CronScheduleState) error {
	if st.RefreshAfter.IsZero() {
		return nil
	}
	_, err := cs.Temporal.SignalWithStartWorkflow(ctx, contract.CronRefreshWorkflowID(c.ID), contract.SignalCronRescheduled, nil,
		contract.CronRefreshStartOptions(c.ID, cs.TaskQueue),
		contract.CronRefreshWorkflowName, contract.CronRefreshInput{CronJobID: c.ID, ProjectID: c.ProjectID})
	if err != nil {
		return fmt.Errorf("start %s: %w", contract.CronRefreshWorkflowID(c.ID), err)
	}
	return nil
}

func (a *Activities) cronSchedules() CronSchedules {
	return CronSchedules{Temporal: a.Temporal, TaskQueue: a.ControlTaskQueue}
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

// Refresh rebuilds the calendars of a cron job's schedule when they are due,
// or always when force, holding the cron job's row meanwhile so that no
// update interleaves. ensureRefresher also (re)starts its refresh workflow
// when they hold only for a while. It returns the cron job with the state
// of its calendars.
func (cs CronSchedules) Refresh(ctx context.Context, st *store.Store, projectID, cronJobID string, force, ensureRefresher bool) (domain.CronJob, error) {
	c, err := st.RefreshCronSchedule(ctx, projectID, cronJobID, func(c domain.CronJob) (domain.CronScheduleState, bool, error) {
		if !force && !c.Schedule.RefreshDue(time.Now()) {
			return c.Schedule, false, nil
		}
		s, err := cs.Update(ctx, c)
		return s, err == nil, err
	})
	if err != nil {
		return c, err
	}
	if ensureRefresher {
		err = cs.EnsureRefresher(ctx, c, c.Schedule)
	}
	return c, err
}
