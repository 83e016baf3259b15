package apiserver

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"

	"daestro/internal/contract"
	"daestro/internal/domain"
)

// cancelReason is recorded when the API itself ends a job whose workflow is gone.
const cancelReason = "cancel requested via API; the job's workflow no longer ran"

// Reasons of a submission's first event, by the route it came through.
const (
	viaClientAPI = "client API"
	viaAPI       = "API"
)

// Every /v1/jobs route uses :id, because gin needs one wildcard name per
// path position and the run output routes (/v1/jobs/:id/logs, …) share it.
func (s *Server) jobRoutes(g *gin.RouterGroup) {
	g.GET("/jobs", s.listJobs)
	g.POST("/jobs", s.createJob)
	g.GET("/jobs/:id", s.getJob)
	g.POST("/jobs/:id/cancel", s.cancelJobRoute)
	g.POST("/jobs/:id/resubmit", s.resubmitJob)
}

// createJob submits a job like the client API does, except that
// job_definition and job_queue may leave out the "project_code::" prefix.
func (s *Server) createJob(c *gin.Context) {
	j, err := s.submitJob(c, false, viaAPI)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusAccepted, j)
}

// submitJob is the one submission path of both APIs: decode, check, then
// write the job and start its workflow inside one transaction, which commits
// only once the workflow started. requirePrefix is the client API's rule
// that references carry the project code; via names the route for the
// job's first event.
func (s *Server) submitJob(c *gin.Context, requirePrefix bool, via string) (domain.Job, error) {
	var body domain.SubmitJobInput
	if err := bindJSON(c, &body); err != nil {
		return domain.Job{}, err
	}
	p := project(c)
	in, err := body.Normalize(p.Code, requirePrefix)
	if err != nil {
		return domain.Job{}, err
	}
	in.Via = via
	ctx := c.Request.Context()
	started := ""
	j, err := s.store.SubmitJob(ctx, p.ID, in, func(jobID, runID string) error {
		if err := s.startJobWorkflow(ctx, c, p.ID, in.QueueName, jobID, runID); err != nil {
			return err
		}
		started = jobID
		return nil
	})
	if err != nil {
		if started != "" {
			s.stopOrphanJobRun(c, started)
		}
		return domain.Job{}, err
	}
	return j, nil
}

// startJobWorkflow starts a run of the job's workflow on the control task
// queue. Every run of a job shares the workflow ID: a closed one may be
// followed by a new run (resubmit), a running one never is.
func (s *Server) startJobWorkflow(ctx context.Context, c *gin.Context, projectID, queueName, jobID, runID string) error {
	if s.temporal == nil {
		return temporalUnavailable("start the job's workflow")
	}
	ctx, cancel := context.WithTimeout(ctx, temporalCallTimeout)
	defer cancel()
	_, err := s.temporal.ExecuteWorkflow(ctx, contract.JobStartOptions(jobID, s.controlQueue, projectID, queueName, domain.JobSubmitted),
		contract.JobWorkflowName, contract.JobWorkflowInput{JobID: jobID, RunID: runID, ProjectID: projectID})
	var running *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case errors.As(err, &running):
		// The previous run recorded its end but has not closed yet.
		return domain.Errorf(domain.ECONFLICT, "job %s is still finishing its previous run: try again in a few seconds", jobID)
	case err != nil:
		logger(c).Error("start job workflow", "job_id", jobID, "run_id", runID, "error", err)
		return domain.Errorf(domain.EUNAVAILABLE, "cannot start the job's workflow: Temporal did not answer; nothing was submitted, try again (GET %s shows what is down)", PathReadyz)
	}
	return nil
}

// stopOrphanJobRun terminates the workflow run just started for a job whose
// rows were not committed; without it, the workflow would look for a job
// that does not exist.
func (s *Server) stopOrphanJobRun(c *gin.Context, jobID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), temporalCallTimeout)
	defer cancel()
	if err := s.temporal.TerminateWorkflow(ctx, contract.JobWorkflowID(jobID), "", "its job run was not saved"); err != nil {
		logger(c).Error("terminate workflow of unsaved job run", "job_id", jobID, "error", err)
	}
}

func (s *Server) listJobs(c *gin.Context) {
	page, err := pageRequest(c)
	if err != nil {
		writeError(c, err)
		return
	}
	f, err := domain.ParseJobFilter(c.Request.URL.Query())
	if err != nil {
		writeError(c, err)
		return
	}
	out, err := s.store.ListJobs(c.Request.Context(), project(c).ID, f, page)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusOK, out)
}

func (s *Server) getJob(c *gin.Context) {
	d, err := s.store.JobDetail(c.Request.Context(), project(c).ID, c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusOK, d)
}

func (s *Server) cancelJobRoute(c *gin.Context) {
	j, err := s.cancelJob(c)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusAccepted, j)
}

// cancelJob asks the job's workflow to cancel it and returns the job as it
// stands: the workflow owns every transition (cancelling, then cancelled),
// so the API records nothing, except for a job whose workflow is gone,
// which nothing else would ever end.
func (s *Server) cancelJob(c *gin.Context) (domain.Job, error) {
	ctx, projectID := c.Request.Context(), project(c).ID
	j, err := s.store.Job(ctx, projectID, c.Param("id"))
	if err != nil {
		return j, err
	}
	if !domain.JobStateIsCancellable(j.State) {
		return j, domain.JobNotCancellable(j.ID, j.State)
	}
	if s.temporal == nil {
		return j, temporalUnavailable("cancel the job")
	}
	sigCtx, cancel := context.WithTimeout(ctx, temporalCallTimeout)
	defer cancel()
	// No payload: the signal itself is the request, and IDs are all a
	// workflow may see.
	err = s.temporal.SignalWorkflow(sigCtx, contract.JobWorkflowID(j.ID), "", contract.SignalJobCancel, nil)
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound):
		logger(c).Warn("cancelling a job without a workflow", "job_id", j.ID)
		return s.store.CancelJobWithoutWorkflow(ctx, projectID, j.ID, cancelReason)
	case err != nil:
		logger(c).Error("signal job workflow", "job_id", j.ID, "error", err)
		return j, domain.Errorf(domain.EUNAVAILABLE, "cannot reach the job's workflow: Temporal did not answer; the job is unchanged, try again")
	}
	return j, nil
}

// resubmitted is the answer to a resubmit: the job and its new run.
type resubmitted struct {
	// ID is the job's ID, unchanged.
	ID string `json:"id"`
	// RunID is the new run.
	RunID string `json:"run_id"`
	// Attempt is the new run's number.
	Attempt int `json:"attempt"`
}

// resubmitJob runs a finished job again: a new run row and a new run of the
// same workflow ID, committed only once the workflow started.
func (s *Server) resubmitJob(c *gin.Context) {
	ctx, projectID := c.Request.Context(), project(c).ID
	// The queue's name (fixed at creation) goes on the new run's search attributes.
	j, err := s.store.Job(ctx, projectID, c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	queueName, started := j.JobQueue.Name, ""
	j, err = s.store.ResubmitJob(ctx, projectID, j.ID, func(jobID, runID string) error {
		if err := s.startJobWorkflow(ctx, c, projectID, queueName, jobID, runID); err != nil {
			return err
		}
		started = jobID
		return nil
	})
	if err != nil {
		if started != "" {
			s.stopOrphanJobRun(c, started)
		}
		writeError(c, err)
		return
	}
	writeData(c, http.StatusAccepted, resubmitted{ID: j.ID, RunID: j.CurrentRunID, Attempt: j.Attempt})
}
