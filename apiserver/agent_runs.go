package apiserver

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"daestro/internal/agentapi"
	"daestro/internal/cloud"
	"daestro/internal/domain"
)

// pathAgentRunSpec is the agent's run spec path in gin's syntax.
var pathAgentRunSpec = ginPath(agentapi.PathRunSpec)

// ginPath turns agentapi's {run} into gin's :runId.
func ginPath(p string) string { return agentapi.RunPath(p, ":runId") }

// agentRunRoutes are the endpoints an agent uses while it runs a job.
func (s *Server) agentRunRoutes(e *gin.Engine) {
	e.GET(pathAgentRunSpec, s.requireAgentToken(agentWork), s.agentRunSpec)
}

// agentRun reads a run's spec and checks it belongs to the calling spawn: the
// server hands secrets only to the agent the run was placed on.
func (s *Server) agentRun(c *gin.Context) (domain.RunSpec, domain.AgentSession, bool) {
	sess := agentSession(c)
	runID := c.Param("runId")
	spec, err := s.store.JobRunSpec(c.Request.Context(), runID)
	if err == nil && (spec.ComputeSpawnID == nil || *spec.ComputeSpawnID != sess.SpawnID || spec.ProjectID != sess.ProjectID) {
		err = domain.Errorf(domain.ENOTFOUND, "no run %s on compute spawn %s", runID, sess.SpawnID)
	}
	if err != nil {
		writeError(c, err)
		return spec, sess, false
	}
	return spec, sess, true
}

// agentRunSpec hands the agent everything it needs to run the run,
// secrets included — the only way they reach an agent.
func (s *Server) agentRunSpec(c *gin.Context) {
	spec, sess, ok := s.agentRun(c)
	if !ok {
		return
	}
	if spec.State.IsFinal() {
		writeError(c, domain.Errorf(domain.ECONFLICT, "run %s is %s: there is nothing left to run", spec.RunID, spec.State))
		return
	}
	ctx := c.Request.Context()
	out := agentapi.RunSpec{
		RunID: spec.RunID, JobID: spec.JobID, JobName: spec.JobName, QueueName: spec.JobQueueName, SpawnID: sess.SpawnID,
		Image: spec.Image, Command: spec.Command, Script: spec.Script, Privileged: spec.Privileged, TimeoutSeconds: spec.TimeoutSeconds,
	}
	if spec.CPUQuotaPct != nil && spec.MemoryMB != nil {
		out.CPUQuotaPct, out.MemoryMB = *spec.CPUQuotaPct, *spec.MemoryMB
	}
	if spec.RegistryAuthID != nil {
		ra, err := s.store.RegistryAuth(ctx, spec.ProjectID, *spec.RegistryAuthID)
		if err != nil {
			writeError(c, err)
			return
		}
		if err := domain.CheckImageRegistry(spec.Image, ra.Name, ra.RegistryURL); err != nil {
			writeError(c, err)
			return
		}
		user, password, err := s.store.RegistryAuthSecret(ctx, spec.ProjectID, ra.ID)
		if err != nil {
			writeError(c, err)
			return
		}
		out.Registry = &agentapi.RegistryCredentials{ServerAddress: ra.RegistryURL, Username: user, Password: password}
	}
	sp, err := s.store.ComputeSpawn(ctx, sess.ProjectID, sess.SpawnID)
	if err != nil {
		writeError(c, err)
		return
	}
	if spec.Privileged && !s.devMode && sp.Machine != nil && sp.Machine.Provider == cloud.LocalDocker {
		// A privileged container on the control plane's own engine is root
		// there: the master key, every secret.
		writeError(c, domain.Errorf(domain.ECONFLICT, "job definition of run %s is privileged, and privileged jobs never run on localdocker machines (the daestro server's own Docker engine) outside `daestro dev`: run it on a cloud or self-hosted compute environment", spec.RunID))
		return
	}
	out.Env = append(spec.Env, injectedEnv(spec, sp)...)
	writeData(c, http.StatusOK, out)
}

// injectedEnv are the DAESTRO_* variables every job container gets (those
// that apply: a self-hosted spawn has no instance type or public address).
func injectedEnv(spec domain.RunSpec, sp domain.ComputeSpawn) []string {
	jobID := spec.JobID
	if c := spec.ArrayChild; c != nil {
		jobID = domain.ArrayChildRef(c.ParentID, c.Index)
	}
	env := []string{
		"DAESTRO_JOB_ID=" + jobID,
		"DAESTRO_JOB_RUN_ID=" + spec.RunID,
		"DAESTRO_JOB_ATTEMPT=" + strconv.Itoa(spec.Attempt),
		"DAESTRO_JOB_QUEUE_NAME=" + spec.JobQueueName,
		"DAESTRO_COMPUTE_SPAWN_ID=" + sp.ID,
		"DAESTRO_COMPUTE_ENV_NAME=" + sp.ComputeEnv.Name,
	}
	if c := spec.ArrayChild; c != nil {
		env = append(env, "DAESTRO_JOB_ARRAY_INDEX="+strconv.Itoa(c.Index), "DAESTRO_JOB_ARRAY_SIZE="+strconv.Itoa(c.Size))
	}
	if sp.Kind == domain.SpawnKindSelfHosted {
		env = append(env, "DAESTRO_CLOUD_PROVIDER=selfhosted")
	}
	if m := sp.Machine; m != nil {
		env = append(env, "DAESTRO_CLOUD_PROVIDER="+m.Provider, "DAESTRO_INSTANCE_TYPE="+m.InstanceType)
		if m.PublicIPv4 != "" {
			env = append(env, "DAESTRO_PUBLIC_IPV4="+m.PublicIPv4)
		}
		if m.PublicIPv6 != "" {
			env = append(env, "DAESTRO_PUBLIC_IPV6="+m.PublicIPv6)
		}
	}
	return env
}
