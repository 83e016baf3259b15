package apiserver

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"daestro/internal/domain"
	"daestro/service"
)

// cloudAuthResponse is a cloud auth plus what the provider said of its
// credentials and any warning about the change just made.
type cloudAuthResponse = service.CloudAuthWritten

func (s *Server) cloudAuthRoutes(g *gin.RouterGroup) {
	g.POST("/cloud-auths", s.createCloudAuth)
	g.GET("/cloud-auths", s.listCloudAuths)
	g.GET("/cloud-auths/:id", s.getCloudAuth)
	g.PATCH("/cloud-auths/:id", s.updateCloudAuth)
	g.DELETE("/cloud-auths/:id", s.deleteCloudAuth)
	g.GET("/cloud-auths/:id/regions", s.listCloudRegions)
	g.GET("/cloud-auths/:id/instance-types", s.listCloudInstanceTypes)
}

// createCloudAuth checks the credentials with the provider before storing
// them, so rejected credentials leave nothing behind, and records the
// account they belong to (service.CreateCloudAuth).
func (s *Server) createCloudAuth(c *gin.Context) {
	var in domain.CloudAuthInput
	if err := bindJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	out, err := s.svc.CreateCloudAuth(c.Request.Context(), project(c).ID, in)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusCreated, out)
}

func (s *Server) listCloudAuths(c *gin.Context) {
	page, err := pageRequest(c)
	if err != nil {
		writeError(c, err)
		return
	}
	out, err := s.store.ListCloudAuths(c.Request.Context(), project(c).ID, page)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusOK, out)
}

func (s *Server) getCloudAuth(c *gin.Context) {
	ca, err := s.store.CloudAuth(c.Request.Context(), project(c).ID, c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusOK, cloudAuthResponse{CloudAuth: ca})
}

// updateCloudAuth renames a cloud auth, changes its default region or
// replaces its keys; new keys are checked with the provider first, and must
// belong to the same account unless the change is confirmed (the service
// has the rule).
func (s *Server) updateCloudAuth(c *gin.Context) {
	var p domain.CloudAuthPatch
	if err := bindJSON(c, &p); err != nil {
		writeError(c, err)
		return
	}
	out, err := s.svc.UpdateCloudAuth(c.Request.Context(), project(c).ID, c.Param("id"), p)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusOK, out)
}

func (s *Server) deleteCloudAuth(c *gin.Context) {
	if err := s.svc.DeleteCloudAuth(c.Request.Context(), project(c).ID, c.Param("id")); err != nil {
		writeError(c, err)
		return
	}
	writeDeleted(c, c.Param("id"))
}
