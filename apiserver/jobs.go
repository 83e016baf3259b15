package apiserver

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"daestro/internal/domain"
)

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
// service.SubmitJob. requirePrefix is the client API's rule that references
// carry the project code; via names the route for the job's first event.
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
	return s.svc.SubmitJob(c.Request.Context(), p.ID, in)
}

func (s *Server) listJobs(c *gin.Context) {
	page, err := pageRequest(c)
	if err != nil {
		writeError(c, err)
		return
	}
	f, err := parseJobFilter(c.Request.URL.Query())
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

// cancelJob asks the job's workflow to cancel it (service.CancelJob).
func (s *Server) cancelJob(c *gin.Context) (domain.Job, error) {
	return s.svc.CancelJob(c.Request.Context(), project(c).ID, c.Param("id"))
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

// resubmitJob runs a finished job again (service.ResubmitJob).
func (s *Server) resubmitJob(c *gin.Context) {
	j, err := s.svc.ResubmitJob(c.Request.Context(), project(c).ID, c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusAccepted, resubmitted{ID: j.ID, RunID: j.CurrentRunID, Attempt: j.Attempt})
}
