package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/types/known/timestamppb"

	"daestro/internal/contract"
	"daestro/internal/domain"
)

// cronStatusTimeout bounds what a read of a cron job waits for Temporal: it
// answers without the schedule's status rather than hang.
const cronStatusTimeout = 3 * time.Second

// CronJobDetail is the cron job with what its schedule reports: triggers
// that Temporal skipped or buffered while an earlier trigger waited for its
// job never reach daestro, so only the schedule can tell why it went quiet.
// Without an answer from Temporal it is the row alone.
func (s *Service) CronJobDetail(ctx context.Context, projectID, id string) (domain.CronJobDetail, error) {
	d, err := s.Store.CronJobDetail(ctx, projectID, id)
	if err != nil {
		return d, err
	}
	d.Warnings = []string{}
	if st, err := s.cronScheduleStatus(ctx, d.ID); err != nil {
		log(ctx).Warn("describe the cron job's schedule", "cron_job_id", d.ID, "error", err)
	} else {
		d.ScheduleStatus = &st
		d.Warnings = st.Warnings(d.Overlap, d.LastJob, CronCatchupWindow)
	}
	return d, nil
}

// cronScheduleStatus reads the counters of a cron job's schedule. The raw
// call, because the SDK's description leaves out the buffer's.
func (s *Service) cronScheduleStatus(ctx context.Context, cronJobID string) (domain.CronScheduleStatus, error) {
	if s.Temporal == nil {
		return domain.CronScheduleStatus{}, errors.New("temporal is not configured")
	}
	ctx, cancel := context.WithTimeout(ctx, cronStatusTimeout)
	defer cancel()
	resp, err := s.Temporal.WorkflowService().DescribeSchedule(ctx, &workflowservice.DescribeScheduleRequest{
		Namespace: s.Namespace, ScheduleId: contract.CronScheduleID(cronJobID),
	})
	if err != nil {
		return domain.CronScheduleStatus{}, err
	}
	info := resp.GetInfo()
	return domain.CronScheduleStatus{
		WaitingTriggers: len(info.GetRunningWorkflows()), OverlapSkipped: info.GetOverlapSkipped(),
		Buffered: info.GetBufferSize(), BufferDropped: info.GetBufferDropped(), MissedCatchupWindow: info.GetMissedCatchupWindow(),
	}, nil
}

// UpcomingCronTriggers lists the next count triggers as Temporal computes
// them from the schedule (ListScheduleMatchingTimes), paused or not. The
// window asked for ends just after our own evaluator's count-th fire time;
// when that window reaches past the time the calendars are exact until,
// they are rebuilt first (each build is exact for at least a year and 100
// fire times). A schedule Temporal lost is written again from the row.
func (s *Service) UpcomingCronTriggers(ctx context.Context, projectID, id string, count int) (domain.CronUpcoming, error) {
	cj, err := s.Store.CronJob(ctx, projectID, id)
	if err != nil {
		return domain.CronUpcoming{}, err
	}
	if s.Temporal == nil {
		return domain.CronUpcoming{}, temporalUnavailable("list the cron job's upcoming triggers")
	}
	now := time.Now().Truncate(time.Second)
	// The console's preview of an unsaved expression is this same evaluation.
	ours, _, err := domain.PreviewCronTriggers(cj.Expression, cj.TimeZone, now, count)
	if err != nil {
		return domain.CronUpcoming{}, fmt.Errorf("cron job %s has a stored expression or zone that does not load: %w", cj.ID, err)
	}
	loc, err := time.LoadLocation(ours.TimeZone)
	if err != nil {
		return domain.CronUpcoming{}, fmt.Errorf("cron job %s has a stored zone that does not load: %w", cj.ID, err)
	}
	end := now.Add(time.Minute)
	if n := len(ours.Items); n > 0 {
		end = ours.Items[n-1].AtUTC.Add(time.Second)
	}
	ra := cj.Schedule.RefreshAfter
	if (!ra.IsZero() && end.After(ra)) || cj.Schedule.RefreshDue(now) {
		if cj, err = s.RefreshCronSchedule(ctx, cj, true); err != nil {
			return domain.CronUpcoming{}, err
		}
	}
	times, err := s.scheduleMatchingTimes(ctx, cj.ID, now, end)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		// Temporal lost the schedule (a reset namespace): write it again from the row.
		log(ctx).Warn("cron job's schedule is missing: recreating it", "cron_job_id", cj.ID)
		if cj, err = s.RefreshCronSchedule(ctx, cj, true); err != nil {
			return domain.CronUpcoming{}, err
		}
		times, err = s.scheduleMatchingTimes(ctx, cj.ID, now, end)
	}
	if err != nil {
		return domain.CronUpcoming{}, CronScheduleError(ctx, "read", cj, err)
	}
	out := domain.CronUpcoming{TimeZone: cj.TimeZone, Enabled: cj.Enabled, Items: []domain.CronFireTime{}}
	for _, t := range times {
		if len(out.Items) == count {
			break
		}
		out.Items = append(out.Items, domain.CronFireTime{At: t.In(loc), AtUTC: t.UTC()})
	}
	return out, nil
}

// scheduleMatchingTimes asks Temporal when the cron job's schedule fires in [from, to].
func (s *Service) scheduleMatchingTimes(ctx context.Context, cronJobID string, from, to time.Time) ([]time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, temporalCallTimeout)
	defer cancel()
	resp, err := s.Temporal.WorkflowService().ListScheduleMatchingTimes(ctx, &workflowservice.ListScheduleMatchingTimesRequest{
		Namespace:  s.Namespace,
		ScheduleId: contract.CronScheduleID(cronJobID),
		StartTime:  timestamppb.New(from),
		EndTime:    timestamppb.New(to),
	})
	if err != nil {
		return nil, err
	}
	out := make([]time.Time, 0, len(resp.GetStartTime()))
	for _, t := range resp.GetStartTime() {
		out = append(out, t.AsTime())
	}
	return out, nil
}
