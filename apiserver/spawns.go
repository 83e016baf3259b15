package apiserver

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"daestro/internal/agentapi"
	"daestro/internal/domain"
)

// temporalCallTimeout bounds a start or signal, so a request fails with a
// sentence instead of hanging while Temporal is down.
const temporalCallTimeout = 10 * time.Second

func (s *Server) computeSpawnRoutes(g *gin.RouterGroup) {
	g.POST("/compute-spawns", s.createComputeSpawn)
	g.GET("/compute-spawns", s.listComputeSpawns)
	g.GET("/compute-spawns/:id", s.getComputeSpawn)
	g.POST("/compute-spawns/:id/terminate", s.terminateComputeSpawn)
	g.GET("/compute-spawns/:id/events", s.listComputeSpawnEvents)
}

// createdComputeSpawn is the only response that ever carries an agent token.
type createdComputeSpawn struct {
	Spawn domain.ComputeSpawn `json:"spawn"`
	// AgentToken authenticates the spawn's agent; shown only here.
	AgentToken string `json:"agent_token"`
	// DockerRun starts the agent on a machine with Docker.
	DockerRun string `json:"docker_run"`
	Note      string `json:"note"`
}

// createComputeSpawn creates a self-hosted spawn with its workflow
// (service.CreateSelfHostedSpawn) and answers its agent token and docker
// run line, shown only now.
func (s *Server) createComputeSpawn(c *gin.Context) {
	var in domain.ComputeSpawnInput
	if err := bindJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	sp, token, err := s.svc.CreateSelfHostedSpawn(c.Request.Context(), project(c).ID, in)
	if err != nil {
		writeError(c, err)
		return
	}
	url := s.publicURL
	if url == "" {
		url = requestBaseURL(c)
	}
	writeData(c, http.StatusCreated, createdComputeSpawn{
		Spawn: sp, AgentToken: token, DockerRun: agentapi.DockerRun(token, url, s.agentImage),
		Note: "the agent token is shown only now: run docker_run on the machine that should take this queue's jobs",
	})
}

// requestBaseURL is the URL the client reached this server at, for when no
// public URL is configured.
func requestBaseURL(c *gin.Context) string {
	scheme := "http"
	if c.Request.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + c.Request.Host
}

func (s *Server) listComputeSpawns(c *gin.Context) {
	page, err := pageRequest(c)
	if err != nil {
		writeError(c, err)
		return
	}
	f := domain.SpawnFilter{JobQueueID: c.Query("job_queue_id"), State: c.Query("state")}
	out, err := s.store.ListComputeSpawns(c.Request.Context(), project(c).ID, f, page)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusOK, out)
}

func (s *Server) getComputeSpawn(c *gin.Context) {
	sp, err := s.store.ComputeSpawn(c.Request.Context(), project(c).ID, c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusOK, sp)
}

func (s *Server) listComputeSpawnEvents(c *gin.Context) {
	page, err := pageRequest(c)
	if err != nil {
		writeError(c, err)
		return
	}
	out, err := s.store.SpawnEvents(c.Request.Context(), project(c).ID, c.Param("id"), page)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusOK, out)
}

// terminateComputeSpawn asks the spawn's workflow to terminate it
// (service.TerminateSpawn) and answers at once (202): the state moves to
// terminating and terminated as the workflow records it.
func (s *Server) terminateComputeSpawn(c *gin.Context) {
	sp, err := s.svc.TerminateSpawn(c.Request.Context(), project(c).ID, c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusAccepted, sp)
}
