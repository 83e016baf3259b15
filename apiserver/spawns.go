package apiserver

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"

	"daestro/internal/agentapi"
	"daestro/internal/contract"
	"daestro/internal/domain"
	"daestro/internal/store"
)

// temporalCallTimeout bounds a start or signal, so a request fails with a
// sentence instead of hanging while Temporal is down.
const temporalCallTimeout = 10 * time.Second

// terminateReason is recorded with the terminating event of a spawn terminated through the API.
const terminateReason = "terminate requested via API"

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

// createComputeSpawn creates a self-hosted spawn and starts its workflow
// inside the transaction that writes it: if the start fails the row is never
// committed, and if the commit fails the started workflow is terminated.
func (s *Server) createComputeSpawn(c *gin.Context) {
	var in domain.ComputeSpawnInput
	if err := bindJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	ctx, projectID := c.Request.Context(), project(c).ID
	started := ""
	sp, token, err := s.store.CreateSelfHostedSpawn(ctx, projectID, in, func(ctx context.Context, sp domain.ComputeSpawn) error {
		if err := s.startSpawnWorkflow(ctx, c, projectID, sp); err != nil {
			return err
		}
		started = sp.ID
		return nil
	})
	if err != nil {
		if started != "" {
			s.stopOrphanWorkflow(c, started)
		}
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

// startSpawnWorkflow starts SpawnWorkflow for a new spawn on the control task queue.
func (s *Server) startSpawnWorkflow(ctx context.Context, c *gin.Context, projectID string, sp domain.ComputeSpawn) error {
	if s.temporal == nil {
		return temporalUnavailable("start the compute spawn's workflow")
	}
	ctx, cancel := context.WithTimeout(ctx, temporalCallTimeout)
	defer cancel()
	_, err := s.temporal.ExecuteWorkflow(ctx, contract.SpawnStartOptions(sp.ID, s.controlQueue), contract.SpawnWorkflowName, contract.SpawnWorkflowInput{
		SpawnID: sp.ID, ProjectID: projectID, Kind: sp.Kind, UnreachableAfter: s.unreachableAfter,
	})
	if err != nil {
		logger(c).Error("start spawn workflow", "spawn_id", sp.ID, "error", err)
		return domain.Errorf(domain.EUNAVAILABLE, "cannot start the compute spawn's workflow: Temporal did not answer; nothing was created, try again (GET %s shows what is down)", PathReadyz)
	}
	return nil
}

// stopOrphanWorkflow terminates the workflow of a spawn whose row was not
// committed; without it, the workflow would wait forever for a ping.
func (s *Server) stopOrphanWorkflow(c *gin.Context, spawnID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), temporalCallTimeout)
	defer cancel()
	if err := s.temporal.TerminateWorkflow(ctx, contract.SpawnWorkflowID(spawnID), "", "its compute spawn was not saved"); err != nil {
		logger(c).Error("terminate workflow of unsaved spawn", "spawn_id", spawnID, "error", err)
	}
}

func temporalUnavailable(what string) error {
	return domain.Errorf(domain.EUNAVAILABLE, "cannot %s: Temporal is not configured on this server", what)
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

// terminateComputeSpawn asks the spawn's workflow to terminate it and answers
// at once (202): the state moves to terminating and terminated as the
// workflow records it.
func (s *Server) terminateComputeSpawn(c *gin.Context) {
	ctx, projectID, id := c.Request.Context(), project(c).ID, c.Param("id")
	sp, err := s.store.ComputeSpawn(ctx, projectID, id)
	if err != nil {
		writeError(c, err)
		return
	}
	if domain.SpawnStateIsFinal(sp.State) {
		writeError(c, domain.Errorf(domain.ECONFLICT, "compute spawn %s is already %s: there is nothing to terminate", sp.ID, sp.State))
		return
	}
	if s.temporal == nil {
		writeError(c, temporalUnavailable("terminate the compute spawn"))
		return
	}
	sigCtx, cancel := context.WithTimeout(ctx, temporalCallTimeout)
	defer cancel()
	err = s.temporal.SignalWorkflow(sigCtx, contract.SpawnWorkflowID(sp.ID), "", contract.SignalTerminateSpawn,
		contract.TerminateSignal{Reason: terminateReason})
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound) && sp.Kind == domain.SpawnKindCloud:
		// A cloud spawn's machine must be deleted, whoever ended its
		// workflow: start one that does (it resumes from the row's state).
		logger(c).Warn("restarting the workflow of a cloud spawn to terminate it", "spawn_id", sp.ID, "state", sp.State)
		_, err = s.temporal.SignalWithStartWorkflow(sigCtx, contract.SpawnWorkflowID(sp.ID), contract.SignalTerminateSpawn,
			contract.TerminateSignal{Reason: terminateReason},
			contract.SpawnStartOptions(sp.ID, s.controlQueue),
			contract.SpawnWorkflowName, contract.SpawnWorkflowInput{SpawnID: sp.ID, ProjectID: projectID, Kind: domain.SpawnKindCloud,
				State: sp.State, MachineCreated: sp.Machine != nil && sp.Machine.InstanceID != ""})
		if err != nil {
			logger(c).Error("start spawn workflow", "spawn_id", sp.ID, "error", err)
			writeError(c, temporalUnavailable("terminate the compute spawn"))
			return
		}
	case errors.As(err, &notFound):
		// The row is active but its workflow is gone (terminated by an
		// operator, or lost with the namespace): nothing else will ever
		// end the spawn, so record the end here.
		logger(c).Warn("terminating a spawn without a workflow", "spawn_id", sp.ID)
		if _, err := s.store.RecordSpawnTransition(ctx, store.SpawnTransition{SpawnID: sp.ID, State: domain.SpawnTerminated,
			Reason: terminateReason + "; the spawn's workflow no longer ran", Key: "api-terminate/" + sp.ID}); err != nil {
			writeError(c, err)
			return
		}
		if sp, err = s.store.ComputeSpawn(ctx, projectID, id); err != nil {
			writeError(c, err)
			return
		}
	case err != nil:
		logger(c).Error("signal spawn workflow", "spawn_id", sp.ID, "error", err)
		writeError(c, domain.Errorf(domain.EUNAVAILABLE, "cannot reach the compute spawn's workflow: Temporal did not answer; the spawn is unchanged, try again"))
		return
	}
	writeData(c, http.StatusAccepted, sp)
}
