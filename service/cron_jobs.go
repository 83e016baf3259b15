package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/serviceerror"

	"daestro/internal/domain"
)

// CronJobWritten is a created or updated cron job and what the user should
// know about it: what the rules changed, or what will keep it from
// submitting jobs.
type CronJobWritten struct {
	domain.CronJob
	// Warnings are sentences for the user; empty when there is nothing to say.
	Warnings []string `json:"warnings"`
}

func (s *Service) cronSchedules() CronSchedules {
	return CronSchedules{Temporal: s.Temporal, TaskQueue: s.ControlQueue}
}

// CreateCronJob writes the cron job and creates its schedule in one
// transaction, which commits only once the schedule exists; when the commit
// fails, the schedule is deleted again. The refresh workflow some schedules
// need starts after the commit (it reads the row).
func (s *Service) CreateCronJob(ctx context.Context, projectID string, spec domain.CronJobSpec) (CronJobWritten, error) {
	if err := checkFiresAgain(spec); err != nil {
		return CronJobWritten{}, err
	}
	var attempted *domain.CronJob
	cj, err := s.Store.CreateCronJob(ctx, projectID, spec, func(cj domain.CronJob) (domain.CronScheduleState, error) {
		if s.Temporal == nil {
			return domain.CronScheduleState{}, temporalUnavailable("create the cron job's schedule")
		}
		attempted = &cj
		return s.writeCronSchedule(ctx, "create", cj, s.cronSchedules().Create)
	})
	if err != nil {
		if attempted != nil {
			s.undoCronSchedule(ctx, "delete the schedule of a cron job that was not saved", *attempted, func(ctx context.Context, cj domain.CronJob) error {
				return s.cronSchedules().Delete(ctx, cj.ID)
			})
		}
		return CronJobWritten{}, err
	}
	return s.written(ctx, spec, cj), nil
}

// UpdateCronJob writes the change and rewrites the schedule whole in one
// transaction; when the transaction does not commit, the schedule is
// rewritten from the cron job as it was. The refresh workflow is signalled
// after the commit, so it reads the new calendars' state.
func (s *Service) UpdateCronJob(ctx context.Context, projectID, projectCode, id string, patch domain.CronJobPatch) (CronJobWritten, error) {
	var before *domain.CronJob
	cj, spec, err := s.Store.UpdateCronJob(ctx, projectID, projectCode, id, patch,
		func(old, updated domain.CronJob) (domain.CronScheduleState, error) {
			if s.Temporal == nil {
				return domain.CronScheduleState{}, temporalUnavailable("update the cron job's schedule")
			}
			if old.Expression != updated.Expression || old.TimeZone != updated.TimeZone {
				sched, err := domain.ParseCronExpression(updated.Expression)
				if err != nil {
					return domain.CronScheduleState{}, err
				}
				if err := checkFiresAgain(domain.CronJobSpec{Expression: updated.Expression, Schedule: sched, TimeZone: updated.TimeZone}); err != nil {
					return domain.CronScheduleState{}, err
				}
			}
			before = &old
			return s.writeCronSchedule(ctx, "update", updated, s.cronSchedules().Update)
		})
	if err != nil {
		if before != nil {
			s.undoCronSchedule(ctx, "rewrite the schedule of a cron job whose update was not saved", *before,
				func(ctx context.Context, cj domain.CronJob) error {
					_, err := s.cronSchedules().Update(ctx, cj)
					return err
				})
		}
		return CronJobWritten{}, err
	}
	return s.written(ctx, spec, cj), nil
}

// DeleteCronJob deletes the row and the schedule in one transaction; when
// the transaction does not commit, the schedule is recreated. The jobs it
// submitted stay.
func (s *Service) DeleteCronJob(ctx context.Context, projectID, id string) (domain.CronJob, error) {
	var attempted *domain.CronJob
	cj, err := s.Store.DeleteCronJob(ctx, projectID, id, func(cj domain.CronJob) error {
		if s.Temporal == nil {
			return temporalUnavailable("delete the cron job's schedule")
		}
		attempted = &cj
		callCtx, cancel := context.WithTimeout(ctx, temporalCallTimeout)
		defer cancel()
		return CronScheduleError(ctx, "delete", cj, s.cronSchedules().Delete(callCtx, cj.ID))
	})
	if err != nil && attempted != nil {
		s.undoCronSchedule(ctx, "recreate the schedule of a cron job whose delete was not saved", *attempted,
			func(ctx context.Context, cj domain.CronJob) error {
				_, err := s.cronSchedules().Update(ctx, cj)
				return err
			})
	}
	return cj, err
}

// RefreshCronSchedule rebuilds a cron job's calendars when they are due (or
// always, when force) and makes sure its refresh workflow runs.
func (s *Service) RefreshCronSchedule(ctx context.Context, cj domain.CronJob, force bool) (domain.CronJob, error) {
	callCtx, cancel := context.WithTimeout(ctx, temporalCallTimeout)
	defer cancel()
	out, err := s.cronSchedules().Refresh(callCtx, s.Store, cj.ProjectID, cj.ID, force, true)
	if err != nil {
		return cj, CronScheduleError(ctx, "update", cj, err)
	}
	return out, nil
}

// written is the answer to a committed create or update: the cron job, its
// warnings, and a warning when its refresh workflow could not be started.
func (s *Service) written(ctx context.Context, spec domain.CronJobSpec, cj domain.CronJob) CronJobWritten {
	w := s.cronJobWarnings(ctx, spec, cj)
	w = append(w, s.startCronRefresher(ctx, cj)...)
	return CronJobWritten{CronJob: cj, Warnings: w}
}

// writeCronSchedule creates or rewrites cj's schedule with write, turning
// Temporal's errors into the API's. It runs inside the cron job's
// transaction, so it makes the one Temporal call that must succeed for the
// change to commit, and no other.
func (s *Service) writeCronSchedule(ctx context.Context, verb string, cj domain.CronJob,
	write func(context.Context, domain.CronJob) (domain.CronScheduleState, error)) (domain.CronScheduleState, error) {
	callCtx, cancel := context.WithTimeout(ctx, temporalCallTimeout)
	defer cancel()
	st, err := write(callCtx, cj)
	return st, CronScheduleError(ctx, verb, cj, err)
}

// startCronRefresher starts (or signals) the refresh workflow of a cron job
// whose calendars hold only for a while, once its row is committed: a
// refresh workflow started earlier could read no row and end. A failure
// here does not undo the committed change: the calendars are exact for at
// least a year, and triggers and the upcoming list rebuild them when due and
// start the workflow again. It is logged and answered as a warning.
func (s *Service) startCronRefresher(ctx context.Context, cj domain.CronJob) []string {
	callCtx, cancel := detached(ctx)
	defer cancel()
	if err := s.cronSchedules().EnsureRefresher(callCtx, cj, cj.Schedule); err != nil {
		log(ctx).Error("start the cron job's refresh workflow", "cron_job_id", cj.ID, "error", err)
		return []string{fmt.Sprintf("schedule: saved, but the workflow that keeps its calendars exact past %s could not be started "+
			"(Temporal did not answer); triggers and GET .../upcoming start it again, or send this change again",
			cj.Schedule.RefreshAfter.UTC().Format(time.RFC3339))}
	}
	return nil
}

// CronScheduleError maps an error of a schedule call: a rule of ours keeps
// its code, Temporal's refusal is the request's fault, anything else means
// Temporal is unavailable (and nothing was changed: the transaction rolls back).
func CronScheduleError(ctx context.Context, verb string, cj domain.CronJob, err error) error {
	var (
		derr    *domain.Error
		invalid *serviceerror.InvalidArgument
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &derr):
		return err
	case errors.As(err, &invalid):
		return domain.Errorf(domain.EINVALID, "Temporal refused the cron job's schedule: %s", invalid.Message)
	}
	log(ctx).Error(verb+" cron schedule", "cron_job_id", cj.ID, "error", err)
	return domain.Errorf(domain.EUNAVAILABLE, "cannot %s the cron job's schedule: Temporal did not answer; nothing was changed, try again (GET /readyz shows what is down)", verb)
}

// undoCronSchedule puts Temporal back in step with Postgres after a
// transaction that changed a schedule did not commit.
func (s *Service) undoCronSchedule(ctx context.Context, what string, cj domain.CronJob, undo func(context.Context, domain.CronJob) error) {
	callCtx, cancel := detached(ctx)
	defer cancel()
	if err := undo(callCtx, cj); err != nil {
		log(ctx).Error(what, "cron_job_id", cj.ID, "error", err)
	}
}

// checkFiresAgain refuses an expression that will never fire again.
func checkFiresAgain(spec domain.CronJobSpec) error {
	loc, err := time.LoadLocation(spec.TimeZone)
	if err != nil {
		return err
	}
	if spec.Schedule.Next(time.Now().In(loc)).IsZero() {
		return domain.Errorf(domain.EINVALID, "expression: %q never fires again (in time zone %s): check its year field", spec.Expression, spec.TimeZone)
	}
	return nil
}

// cronJobWarnings are the spec's own warnings plus what will keep the cron
// job from submitting jobs now.
func (s *Service) cronJobWarnings(ctx context.Context, spec domain.CronJobSpec, cj domain.CronJob) []string {
	w := spec.Warnings()
	q, err := s.Store.JobQueue(ctx, cj.ProjectID, cj.JobQueue.ID)
	if err != nil {
		log(ctx).Warn("read the cron job's queue for warnings", "cron_job_id", cj.ID, "error", err)
		return w
	}
	if !q.Enabled {
		w = append(w, fmt.Sprintf("job_queue: job queue '%s' is disabled: until it is enabled, every trigger submits no job and records why as last_error", q.Name))
	}
	return w
}
