package service

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
