package apiserver

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"daestro/internal/cloud"
	"daestro/internal/domain"
)

// cloudAuthResponse is a cloud auth plus what the provider said of its
// credentials and any warning about the change just made.
type cloudAuthResponse struct {
	domain.CloudAuth
	Validation *cloud.Validation `json:"validation,omitempty"`
	Warnings   []string          `json:"warnings,omitempty"`
}

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
// account they belong to.
func (s *Server) createCloudAuth(c *gin.Context) {
	var in domain.CloudAuthInput
	if err := bindJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	if err := in.Validate(); err != nil {
		writeError(c, err)
		return
	}
	creds := cloud.Credentials{AccessKeyID: in.AccessKeyID, SecretAccessKey: in.SecretAccessKey, AccessToken: in.AccessToken}
	v, err := s.clouds.Validate(c.Request.Context(), in.Provider, creds, in.DefaultRegion)
	if err != nil {
		writeError(c, err)
		return
	}
	ca, err := s.store.CreateCloudAuth(c.Request.Context(), project(c).ID, in, v.Account.ID)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusCreated, cloudAuthResponse{CloudAuth: ca, Validation: &v})
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
	up, err := s.svc.UpdateCloudAuth(c.Request.Context(), project(c).ID, c.Param("id"), p)
	if err != nil {
		writeError(c, err)
		return
	}
	// The cached listings were read with the old row, maybe with old keys.
	// (They are keyed by updated_at, so other API processes never serve
	// them either; dropping them here frees them now.)
	s.catalog.drop(c.Param("id"))
	writeData(c, http.StatusOK, cloudAuthResponse{CloudAuth: up.CloudAuth, Validation: up.Validation, Warnings: up.Warnings})
}

func (s *Server) deleteCloudAuth(c *gin.Context) {
	if err := s.store.DeleteCloudAuth(c.Request.Context(), project(c).ID, c.Param("id")); err != nil {
		writeError(c, err)
		return
	}
	s.catalog.drop(c.Param("id"))
	writeDeleted(c, c.Param("id"))
}
