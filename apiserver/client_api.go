package apiserver

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"daestro/internal/domain"
)

// Daestro's client API, byte-compatible with its public documentation: a
// client written for Daestro works against daestro by changing only the base
// URL. Its shapes differ from the management API's on purpose, so they are
// mapped here and nowhere else.
func (s *Server) clientAPIRoutes(g *gin.RouterGroup) {
	g.POST("/client/job", s.clientSubmitJob)
	g.GET("/client/job/:id", s.clientGetJob)
	g.POST("/client/job/:id/cancel", s.clientCancelJob)
}

// clientSubmitted is Daestro's answer to a submission: the job's ID only.
type clientSubmitted struct {
	// ID is the job's UUID v7.
	ID string `json:"id"`
}

// clientJob is Daestro's job detail. Daestro documents system_note,
// schedule_at and updated_at as nullable, and shows an absent note as null.
type clientJob struct {
	// ID is the job's UUID v7, or "<array job ID>:<index>" for a child of
	// an array job (an extension: Daestro has no array jobs).
	ID string `json:"id"`
	// Name is the job's name, unique within its queue.
	Name string `json:"name"`
	// State is one of domain.JobStates.
	State domain.JobState `json:"state"`
	// SystemNote is daestro's sentence about the run; null for none.
	SystemNote *string `json:"system_note"`
	// ScheduleAt is when the job may start; null for as soon as possible.
	ScheduleAt *time.Time `json:"schedule_at"`
	// CreatedAt and UpdatedAt are RFC 3339 times in UTC.
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt *time.Time `json:"updated_at"`
}

// toClientJob maps a job to Daestro's shape, times in UTC as Daestro writes them.
func toClientJob(j domain.Job) clientJob {
	out := clientJob{ID: j.PublicID(), Name: j.Name, State: j.State, CreatedAt: j.CreatedAt.UTC()}
	if j.SystemNote != "" {
		note := j.SystemNote
		out.SystemNote = &note
	}
	if j.ScheduleAt != nil {
		t := j.ScheduleAt.UTC()
		out.ScheduleAt = &t
	}
	if !j.UpdatedAt.IsZero() {
		t := j.UpdatedAt.UTC()
		out.UpdatedAt = &t
	}
	return out
}

// clientSubmitJob is POST /v1/client/job: references must carry the
// project code ("acme::etl"), as Daestro documents them.
func (s *Server) clientSubmitJob(c *gin.Context) {
	j, err := s.submitJob(c, true, viaClientAPI)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusAccepted, clientSubmitted{ID: j.ID})
}

// clientGetJob reads the job row, never Temporal.
func (s *Server) clientGetJob(c *gin.Context) {
	j, err := s.store.Job(c.Request.Context(), project(c).ID, c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusOK, toClientJob(j))
}

// clientCancelJob answers 202 with the job as it stands: the state moves to
// cancelling and cancelled as the job's workflow records it.
func (s *Server) clientCancelJob(c *gin.Context) {
	j, err := s.cancelJob(c)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusAccepted, toClientJob(j))
}
