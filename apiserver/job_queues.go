package apiserver

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"daestro/internal/domain"
)

func (s *Server) jobQueueRoutes(g *gin.RouterGroup) {
	g.POST("/job-queues", s.createJobQueue)
	g.GET("/job-queues", s.listJobQueues)
	g.GET("/job-queues/:id", s.getJobQueue)
	g.PATCH("/job-queues/:id", s.updateJobQueue)
	g.DELETE("/job-queues/:id", s.deleteJobQueue)
	g.GET("/job-queues/:id/compute-envs", s.listQueueComputeEnvs)
	g.POST("/job-queues/:id/compute-envs", s.addQueueComputeEnv)
	g.DELETE("/job-queues/:id/compute-envs/:envId", s.removeQueueComputeEnv)
}

func (s *Server) createJobQueue(c *gin.Context) {
	var in domain.JobQueueInput
	if err := bindJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	q, err := s.store.CreateJobQueue(c.Request.Context(), project(c).ID, in)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusCreated, q)
}

func (s *Server) listJobQueues(c *gin.Context) {
	page, err := pageRequest(c)
	if err != nil {
		writeError(c, err)
		return
	}
	out, err := s.store.ListJobQueues(c.Request.Context(), project(c).ID, page)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusOK, out)
}

func (s *Server) getJobQueue(c *gin.Context) {
	q, err := s.store.JobQueue(c.Request.Context(), project(c).ID, c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	waiting, err := s.store.QueueWaiting(c.Request.Context(), project(c).ID, q.ID)
	if err != nil {
		writeError(c, err)
		return
	}
	// The detail, not the list, says why jobs wait: it costs a query per queue.
	writeData(c, http.StatusOK, struct {
		domain.JobQueue
		Waiting domain.QueueWaiting `json:"waiting"`
	}{q, waiting})
}

// jobQueuePatchRequest accepts the fixed fields too, so that an attempt to
// change one is answered with why, not "unknown field".
type jobQueuePatchRequest struct {
	domain.JobQueuePatch
	Name         json.RawMessage `json:"name"`
	MaxSpawns    json.RawMessage `json:"max_spawns"`
	SSHPublicKey json.RawMessage `json:"ssh_public_key"`
}

func (s *Server) updateJobQueue(c *gin.Context) {
	var req jobQueuePatchRequest
	if err := bindJSON(c, &req); err != nil {
		writeError(c, err)
		return
	}
	if err := firstFrozen("job queue", []frozenField{
		{"name", req.Name}, {"max_spawns", req.MaxSpawns}, {"ssh_public_key", req.SSHPublicKey},
	}); err != nil {
		writeError(c, err)
		return
	}
	q, err := s.store.UpdateJobQueue(c.Request.Context(), project(c).ID, c.Param("id"), req.JobQueuePatch)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusOK, q)
}

func (s *Server) deleteJobQueue(c *gin.Context) {
	if err := s.store.DeleteJobQueue(c.Request.Context(), project(c).ID, c.Param("id")); err != nil {
		writeError(c, err)
		return
	}
	writeDeleted(c, c.Param("id"))
}

// listQueueComputeEnvs answers with the list shape of every other list; a
// queue has few environments, so there is never a next page.
func (s *Server) listQueueComputeEnvs(c *gin.Context) {
	refs, err := s.store.QueueComputeEnvs(c.Request.Context(), project(c).ID, c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusOK, domain.Page[domain.ComputeEnvRef]{Items: refs})
}

// addQueueComputeEnvRequest is the body of POST /job-queues/:id/compute-envs.
type addQueueComputeEnvRequest struct {
	ComputeEnvID string `json:"compute_env_id"`
}

func (s *Server) addQueueComputeEnv(c *gin.Context) {
	var req addQueueComputeEnvRequest
	if err := bindJSON(c, &req); err != nil {
		writeError(c, err)
		return
	}
	ref, err := s.store.AddQueueComputeEnv(c.Request.Context(), project(c).ID, c.Param("id"), req.ComputeEnvID)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusCreated, ref)
}

func (s *Server) removeQueueComputeEnv(c *gin.Context) {
	if err := s.store.RemoveQueueComputeEnv(c.Request.Context(), project(c).ID, c.Param("id"), c.Param("envId")); err != nil {
		writeError(c, err)
		return
	}
	writeDeleted(c, c.Param("envId"))
}
