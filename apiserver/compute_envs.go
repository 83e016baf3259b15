package apiserver

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"daestro/internal/cloud"
	"daestro/internal/config"
	"daestro/internal/domain"
)

func (s *Server) computeEnvRoutes(g *gin.RouterGroup) {
	g.POST("/compute-envs", s.createComputeEnv)
	g.GET("/compute-envs", s.listComputeEnvs)
	g.GET("/compute-envs/:id", s.getComputeEnv)
	g.PATCH("/compute-envs/:id", s.updateComputeEnv)
	g.DELETE("/compute-envs/:id", s.deleteComputeEnv)
}

// createComputeEnv stores a compute environment (service.CreateComputeEnv:
// a cloud one is checked with its provider first).
func (s *Server) createComputeEnv(c *gin.Context) {
	var in domain.ComputeEnvInput
	if err := bindJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	env, err := s.svc.CreateComputeEnv(c.Request.Context(), project(c).ID, in)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusCreated, env)
}

// cloudEnvSize checks a cloud environment's region and instance type with
// the provider (through the catalog cache) and returns the type's size.
func (s *Server) cloudEnvSize(ctx context.Context, projectID string, in domain.ComputeEnvInput) (domain.InstanceSize, error) {
	acct, err := s.cloudAccount(ctx, projectID, in.CloudAuthID)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return domain.InstanceSize{}, domain.Errorf(domain.EINVALID, "cloud_auth_id: %s", domain.ErrorMessage(err))
	}
	if err != nil {
		return domain.InstanceSize{}, err
	}
	if err := s.checkMachinesReachServer(acct.auth.Provider); err != nil {
		return domain.InstanceSize{}, err
	}
	if err := s.checkRegion(ctx, acct, in.Region, false); err != nil {
		return domain.InstanceSize{}, err
	}
	return s.instanceSize(ctx, acct, in.Region, in.InstanceType)
}

// checkMachinesReachServer refuses a cloud environment whose machines could
// never reach this server: their agents dial DAESTRO_PUBLIC_URL, and a
// loopback address there is the machine itself. Only localdocker machines
// share the server's host (and network).
func (s *Server) checkMachinesReachServer(provider string) error {
	if provider == cloud.LocalDocker || s.publicURL == "" {
		return nil
	}
	u, err := url.Parse(s.publicURL)
	if err != nil || !config.IsLoopbackHost(u.Hostname()) {
		return nil
	}
	return domain.Errorf(domain.EINVALID, "%s is %s, a loopback address: %s machines could never reach this server there; set %s to the URL the machines reach the server at, then create the compute environment",
		config.EnvPublicURL, s.publicURL, provider, config.EnvPublicURL)
}

func (s *Server) listComputeEnvs(c *gin.Context) {
	page, err := pageRequest(c)
	if err != nil {
		writeError(c, err)
		return
	}
	out, err := s.store.ListComputeEnvs(c.Request.Context(), project(c).ID, page)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusOK, out)
}

func (s *Server) getComputeEnv(c *gin.Context) {
	env, err := s.store.ComputeEnv(c.Request.Context(), project(c).ID, c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusOK, env)
}

// computeEnvPatchRequest accepts every field of a compute environment so that
// an attempt to change a fixed one is answered with why, not "unknown field".
type computeEnvPatchRequest struct {
	domain.ComputeEnvPatch
	Kind           json.RawMessage `json:"kind"`
	CloudAuthID    json.RawMessage `json:"cloud_auth_id"`
	InstanceType   json.RawMessage `json:"instance_type"`
	Region         json.RawMessage `json:"region"`
	UsableCPUPct   json.RawMessage `json:"usable_cpu_pct"`
	UsableMemoryMB json.RawMessage `json:"usable_memory_mb"`
}

// frozen returns the error for the first fixed field the request sets.
func (r computeEnvPatchRequest) frozen() error {
	return firstFrozen("compute environment", []frozenField{
		{"kind", r.Kind}, {"cloud_auth_id", r.CloudAuthID}, {"instance_type", r.InstanceType},
		{"region", r.Region}, {"usable_cpu_pct", r.UsableCPUPct}, {"usable_memory_mb", r.UsableMemoryMB},
	})
}

// frozenField is a field fixed at creation and what the PATCH body held for it.
type frozenField struct {
	name string
	raw  json.RawMessage
}

// firstFrozen refuses the first field present in the body, even with null or
// the current value: silently ignoring it would suggest the change happened.
func firstFrozen(what string, fields []frozenField) error {
	for _, f := range fields {
		if f.raw != nil {
			return domain.FrozenField(f.name, what)
		}
	}
	return nil
}

func (s *Server) updateComputeEnv(c *gin.Context) {
	var req computeEnvPatchRequest
	if err := bindJSON(c, &req); err != nil {
		writeError(c, err)
		return
	}
	if err := req.frozen(); err != nil {
		writeError(c, err)
		return
	}
	env, err := s.store.UpdateComputeEnv(c.Request.Context(), project(c).ID, c.Param("id"), req.ComputeEnvPatch)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusOK, env)
}

func (s *Server) deleteComputeEnv(c *gin.Context) {
	if err := s.store.DeleteComputeEnv(c.Request.Context(), project(c).ID, c.Param("id")); err != nil {
		writeError(c, err)
		return
	}
	writeDeleted(c, c.Param("id"))
}
