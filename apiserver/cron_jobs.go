package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/types/known/timestamppb"

	"daestro/activities"
	"daestro/internal/config"
	"daestro/internal/contract"
	"daestro/internal/domain"
)

func (s *Server) cronJobRoutes(g *gin.RouterGroup) {
	g.POST("/cron-jobs", s.createCronJob)
	g.GET("/cron-jobs", s.listCronJobs)
	g.GET("/cron-jobs/:id", s.getCronJob)
	g.PATCH("/cron-jobs/:id", s.updateCronJob)
	g.DELETE("/cron-jobs/:id", s.deleteCronJob)
	g.GET("/cron-jobs/:id/upcoming", s.cronJobUpcoming)
}

// cronJobWritten answers a create or an update: the cron job, and what the
// rules changed or what will keep it from submitting jobs.
type cronJobWritten struct {
	domain.CronJob
	// Warnings are sentences for the user; empty when there is nothing to say.
	Warnings []string `json:"warnings"`
}

// cronSchedules manages the cron jobs' Temporal schedules on the control queue.
func (s *Server) cronSchedules() activities.CronSchedules {
	return activities.CronSchedules{Temporal: s.temporal, TaskQueue: s.controlQueue}
}

// cronStatusTimeout bounds what a GET of a cron job waits for Temporal: it
// answers without the schedule's status rather than hang.
const cronStatusTimeout = 3 * time.Second

// temporalNamespace is the namespace of the server's own client, which the
// raw workflow-service calls (and the agent gateway) must name.
func (s *Server) temporalNamespace() string {
	if s.namespace != "" {
		return s.namespace
	}
	return config.DefaultTemporalNamespace
}

// createCronJob writes the cron job and creates its schedule in one
// transaction, which commits only once the schedule exists. The refresh
// workflow some schedules need starts after the commit (it reads the row).
func (s *Server) createCronJob(c *gin.Context) {
	var in domain.CronJobInput
	if err := bindJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	p := project(c)
	spec, err := in.Normalize(p.Code)
	if err == nil {
		err = checkFiresAgain(spec)
	}
	if err != nil {
		writeError(c, err)
		return
	}
	ctx := c.Request.Context()
	var attempted *domain.CronJob
	cj, err := s.store.CreateCronJob(ctx, p.ID, spec, func(cj domain.CronJob) (domain.CronScheduleState, error) {
		if s.temporal == nil {
			return domain.CronScheduleState{}, temporalUnavailable("create the cron job's schedule")
		}
		attempted = &cj
		return s.writeCronSchedule(c, "create", cj, s.cronSchedules().Create)
	})
	if err != nil {
		if attempted != nil {
			s.undoCronSchedule(c, "delete the schedule of a cron job that was not saved", *attempted, func(ctx context.Context, cj domain.CronJob) error {
				return s.cronSchedules().Delete(ctx, cj.ID)
			})
		}
		writeError(c, err)
		return
	}
	w := s.cronJobWarnings(c, spec, cj)
	w = append(w, s.startCronRefresher(c, cj)...)
	writeData(c, http.StatusCreated, cronJobWritten{CronJob: cj, Warnings: w})
}

// writeCronSchedule creates or rewrites cj's schedule with write, turning
// Temporal's errors into the API's. It runs inside the cron job's
// transaction, so it makes the one Temporal call that must succeed for the
// change to commit, and no other.
func (s *Server) writeCronSchedule(c *gin.Context, verb string, cj domain.CronJob,
	write func(context.Context, domain.CronJob) (domain.CronScheduleState, error)) (domain.CronScheduleState, error) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), temporalCallTimeout)
	defer cancel()
	st, err := write(ctx, cj)
	return st, s.cronScheduleError(c, verb, cj, err)
}

// startCronRefresher starts (or signals) the refresh workflow of a cron job
// whose calendars hold only for a while, once its row is committed: a
// refresh workflow started earlier could read no row and end. A failure
// here does not undo the committed change: the calendars are exact for at
// least a year, and triggers and the upcoming list rebuild them when due and
// start the workflow again. It is logged and answered as a warning.
func (s *Server) startCronRefresher(c *gin.Context, cj domain.CronJob) []string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), temporalCallTimeout)
	defer cancel()
	if err := s.cronSchedules().EnsureRefresher(ctx, cj, cj.Schedule); err != nil {
		logger(c).Error("start the cron job's refresh workflow", "cron_job_id", cj.ID, "error", err)
		return []string{fmt.Sprintf("schedule: saved, but the workflow that keeps its calendars exact past %s could not be started "+
			"(Temporal did not answer); triggers and GET .../upcoming start it again, or send this change again",
			cj.Schedule.RefreshAfter.UTC().Format(time.RFC3339))}
	}
	return nil
}

// cronScheduleError maps an error of a schedule call: a rule of ours keeps
// its code, Temporal's refusal is the request's fault, anything else means
// Temporal is unavailable (and nothing was changed: the transaction rolls back).
func (s *Server) cronScheduleError(c *gin.Context, verb string, cj domain.CronJob, err error) error {
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
	logger(c).Error(verb+" cron schedule", "cron_job_id", cj.ID, "error", err)
	return domain.Errorf(domain.EUNAVAILABLE, "cannot %s the cron job's schedule: Temporal did not answer; nothing was changed, try again (GET %s shows what is down)",
		verb, PathReadyz)
}

// undoCronSchedule puts Temporal back in step with Postgres after a
// transaction that changed a schedule did not commit.
func (s *Server) undoCronSchedule(c *gin.Context, what string, cj domain.CronJob, undo func(context.Context, domain.CronJob) error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), temporalCallTimeout)
	defer cancel()
	if err := undo(ctx, cj); err != nil {
		logger(c).Error(what, "cron_job_id", cj.ID, "error", err)
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
func (s *Server) cronJobWarnings(c *gin.Context, spec domain.CronJobSpec, cj domain.CronJob) []string {
	w := spec.Warnings()
	q, err := s.store.JobQueue(c.Request.Context(), cj.ProjectID, cj.JobQueue.ID)
	if err != nil {
		logger(c).Warn("read the cron job's queue for warnings", "cron_job_id", cj.ID, "error", err)
		return w
	}
	if !q.Enabled {
		w = append(w, fmt.Sprintf("job_queue: job queue '%s' is disabled: until it is enabled, every trigger submits no job and records why as last_error", q.Name))
	}
	return w
}

func (s *Server) listCronJobs(c *gin.Context) {
	page, err := pageRequest(c)
	if err != nil {
		writeError(c, err)
		return
	}
	out, err := s.store.ListCronJobs(c.Request.Context(), project(c).ID, page)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusOK, out)
}

// getCronJob answers the cron job with what its schedule reports: triggers
// that Temporal skipped or buffered while an earlier trigger waited for its
// job never reach daestro, so only the schedule can tell why it went quiet.
func (s *Server) getCronJob(c *gin.Context) {
	d, err := s.store.CronJobDetail(c.Request.Context(), project(c).ID, c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	d.Warnings = []string{}
	if st, err := s.cronScheduleStatus(c.Request.Context(), d.ID); err != nil {
		logger(c).Warn("describe the cron job's schedule", "cron_job_id", d.ID, "error", err)
	} else {
		d.ScheduleStatus = &st
		d.Warnings = st.Warnings(d.Overlap, d.LastJob, activities.CronCatchupWindow)
	}
	writeData(c, http.StatusOK, d)
}

// cronScheduleStatus reads the counters of a cron job's schedule. The raw
// call, because the SDK's description leaves out the buffer's.
func (s *Server) cronScheduleStatus(ctx context.Context, cronJobID string) (domain.CronScheduleStatus, error) {
	if s.temporal == nil {
		return domain.CronScheduleStatus{}, errors.New("temporal is not configured")
	}
	ctx, cancel := context.WithTimeout(ctx, cronStatusTimeout)
	defer cancel()
	resp, err := s.temporal.WorkflowService().DescribeSchedule(ctx, &workflowservice.DescribeScheduleRequest{
		Namespace: s.temporalNamespace(), ScheduleId: contract.CronScheduleID(cronJobID),
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

// updateCronJob writes the change and rewrites the schedule whole in one
// transaction; when the transaction does not commit, the schedule is
// rewritten from the cron job as it was. The refresh workflow is signalled
// after the commit, so it reads the new calendars' state.
func (s *Server) updateCronJob(c *gin.Context) {
	var patch domain.CronJobPatch
	if err := bindJSON(c, &patch); err != nil {
		writeError(c, err)
		return
	}
	p := project(c)
	var before *domain.CronJob
	cj, spec, err := s.store.UpdateCronJob(c.Request.Context(), p.ID, p.Code, c.Param("id"), patch,
		func(old, updated domain.CronJob) (domain.CronScheduleState, error) {
			if s.temporal == nil {
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
			return s.writeCronSchedule(c, "update", updated, s.cronSchedules().Update)
		})
	if err != nil {
		if before != nil {
			s.undoCronSchedule(c, "rewrite the schedule of a cron job whose update was not saved", *before,
				func(ctx context.Context, cj domain.CronJob) error {
					_, err := s.cronSchedules().Update(ctx, cj)
					return err
				})
		}
		writeError(c, err)
		return
	}
	w := s.cronJobWarnings(c, spec, cj)
	w = append(w, s.startCronRefresher(c, cj)...)
	writeData(c, http.StatusOK, cronJobWritten{CronJob: cj, Warnings: w})
}

// deleteCronJob deletes the row and the schedule in one transaction. The
// jobs it submitted stay.
func (s *Server) deleteCronJob(c *gin.Context) {
	var attempted *domain.CronJob
	cj, err := s.store.DeleteCronJob(c.Request.Context(), project(c).ID, c.Param("id"), func(cj domain.CronJob) error {
		if s.temporal == nil {
			return temporalUnavailable("delete the cron job's schedule")
		}
		attempted = &cj
		ctx, cancel := context.WithTimeout(c.Request.Context(), temporalCallTimeout)
		defer cancel()
		return s.cronScheduleError(c, "delete", cj, s.cronSchedules().Delete(ctx, cj.ID))
	})
	if err != nil {
		if attempted != nil {
			s.undoCronSchedule(c, "recreate the schedule of a cron job whose delete was not saved", *attempted,
				func(ctx context.Context, cj domain.CronJob) error {
					_, err := s.cronSchedules().Update(ctx, cj)
					return err
				})
		}
		writeError(c, err)
		return
	}
	writeDeleted(c, cj.ID)
}

// upcomingCount reads ?count= (1..MaxCronUpcoming, DefaultCronUpcoming when absent).
func upcomingCount(raw string) (int, error) {
	if raw == "" {
		return domain.DefaultCronUpcoming, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > domain.MaxCronUpcoming {
		return 0, domain.Errorf(domain.EINVALID, "count: %q must be a whole number from 1 to %d", raw, domain.MaxCronUpcoming)
	}
	return n, nil
}

// cronJobUpcoming lists the next triggers as Temporal computes them from the
// schedule (ListScheduleMatchingTimes), paused or not. The window asked for
// ends just after our own evaluator's count-th fire time; when that window
// reaches past the time the calendars are exact until, they are rebuilt
// first (each build is exact for at least a year and 100 fire times).
func (s *Server) cronJobUpcoming(c *gin.Context) {
	count, err := upcomingCount(c.Query("count"))
	if err != nil {
		writeError(c, err)
		return
	}
	ctx, projectID := c.Request.Context(), project(c).ID
	cj, err := s.store.CronJob(ctx, projectID, c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	if s.temporal == nil {
		writeError(c, temporalUnavailable("list the cron job's upcoming triggers"))
		return
	}
	sched, err := domain.ParseCronExpression(cj.Expression)
	if err != nil {
		writeError(c, fmt.Errorf("cron job %s has a stored expression that does not parse: %w", cj.ID, err))
		return
	}
	loc, err := time.LoadLocation(cj.TimeZone)
	if err != nil {
		writeError(c, fmt.Errorf("cron job %s has a stored zone that does not load: %w", cj.ID, err))
		return
	}
	now := time.Now().Truncate(time.Second)
	end := now.Add(time.Minute)
	if ours := sched.Upcoming(now.In(loc), count); len(ours) > 0 {
		end = ours[len(ours)-1].Add(time.Second)
	}
	ra := cj.Schedule.RefreshAfter
	if (!ra.IsZero() && end.After(ra)) || cj.Schedule.RefreshDue(now) {
		if cj, err = s.refreshCronSchedule(c, cj, true); err != nil {
			writeError(c, err)
			return
		}
	}
	times, err := s.scheduleMatchingTimes(ctx, cj.ID, now, end)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		// Temporal lost the schedule (a reset namespace): write it again from the row.
		logger(c).Warn("cron job's schedule is missing: recreating it", "cron_job_id", cj.ID)
		if cj, err = s.refreshCronSchedule(c, cj, true); err != nil {
			writeError(c, err)
			return
		}
		times, err = s.scheduleMatchingTimes(ctx, cj.ID, now, end)
	}
	if err != nil {
		writeError(c, s.cronScheduleError(c, "read", cj, err))
		return
	}
	out := domain.CronUpcoming{TimeZone: cj.TimeZone, Enabled: cj.Enabled, Items: []domain.CronFireTime{}}
	for _, t := range times {
		if len(out.Items) == count {
			break
		}
		out.Items = append(out.Items, domain.CronFireTime{At: t.In(loc), AtUTC: t.UTC()})
	}
	writeData(c, http.StatusOK, out)
}

// refreshCronSchedule rebuilds cj's calendars now.
func (s *Server) refreshCronSchedule(c *gin.Context, cj domain.CronJob, force bool) (domain.CronJob, error) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), temporalCallTimeout)
	defer cancel()
	out, err := s.cronSchedules().Refresh(ctx, s.store, cj.ProjectID, cj.ID, force, true)
	if err != nil {
		return cj, s.cronScheduleError(c, "update", cj, err)
	}
	return out, nil
}

// scheduleMatchingTimes asks Temporal when the cron job's schedule fires in [from, to].
func (s *Server) scheduleMatchingTimes(ctx context.Context, cronJobID string, from, to time.Time) ([]time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, temporalCallTimeout)
	defer cancel()
	resp, err := s.temporal.WorkflowService().ListScheduleMatchingTimes(ctx, &workflowservice.ListScheduleMatchingTimesRequest{
		Namespace:  s.temporalNamespace(),
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
