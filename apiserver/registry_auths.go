package apiserver

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"daestro/internal/domain"
)

func (s *Server) registryAuthRoutes(g *gin.RouterGroup) {
	g.POST("/registry-auths", s.createRegistryAuth)
	g.GET("/registry-auths", s.listRegistryAuths)
	g.GET("/registry-auths/:id", s.getRegistryAuth)
	g.DELETE("/registry-auths/:id", s.deleteRegistryAuth)
	// Registered so an update attempt learns what to do instead, rather
	// than a bare "method not allowed".
	g.PATCH("/registry-auths/:id", s.registryAuthsAreImmutable)
	g.PUT("/registry-auths/:id", s.registryAuthsAreImmutable)
}

func (s *Server) createRegistryAuth(c *gin.Context) {
	var in domain.RegistryAuthInput
	if err := bindJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	ra, err := s.store.CreateRegistryAuth(c.Request.Context(), project(c).ID, in)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusCreated, ra)
}

func (s *Server) listRegistryAuths(c *gin.Context) {
	page, err := pageRequest(c)
	if err != nil {
		writeError(c, err)
		return
	}
	out, err := s.store.ListRegistryAuths(c.Request.Context(), project(c).ID, page)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusOK, out)
}

func (s *Server) getRegistryAuth(c *gin.Context) {
	ra, err := s.store.RegistryAuth(c.Request.Context(), project(c).ID, c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusOK, ra)
}

func (s *Server) deleteRegistryAuth(c *gin.Context) {
	if err := s.store.DeleteRegistryAuth(c.Request.Context(), project(c).ID, c.Param("id")); err != nil {
		writeError(c, err)
		return
	}
	writeDeleted(c, c.Param("id"))
}

// registryAuthsAreImmutable answers every update: a job pulling with an auth
// must not have its credentials change under it. An ID that is not the
// caller's is still 404, as on every other route.
func (s *Server) registryAuthsAreImmutable(c *gin.Context) {
	if _, err := s.store.RegistryAuth(c.Request.Context(), project(c).ID, c.Param("id")); err != nil {
		writeError(c, err)
		return
	}
	writeError(c, domain.Errorf(domain.EINVALID, "registry auths are immutable: create a new one and point job definitions at it"))
}
