package apiserver

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"daestro/internal/domain"
)

// Every job definition route uses :ref, "name" or "name:version", because
// gin needs one wildcard name per path position.
func (s *Server) jobDefinitionRoutes(g *gin.RouterGroup) {
	g.POST("/job-definitions", s.createJobDefinition)
	g.GET("/job-definitions", s.listJobDefinitions)
	g.GET("/job-definitions/:ref", s.getJobDefinition)
	g.DELETE("/job-definitions/:ref", s.deleteJobDefinition)
	g.PATCH("/job-definitions/:ref", s.jobDefinitionsAreImmutable)
	g.PUT("/job-definitions/:ref", s.jobDefinitionsAreImmutable)
	g.POST("/job-definitions/:ref/revisions", s.createJobDefinitionRevision)
	g.GET("/job-definitions/:ref/revisions", s.listJobDefinitionRevisions)
}

func (s *Server) createJobDefinition(c *gin.Context) {
	var in domain.JobDefinitionInput
	if err := bindJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	d, err := s.store.CreateJobDefinition(c.Request.Context(), project(c).ID, in, s.bash)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusCreated, d)
}

func (s *Server) createJobDefinitionRevision(c *gin.Context) {
	var in domain.JobDefinitionInput
	if err := bindJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	d, err := s.store.CreateJobDefinitionRevision(c.Request.Context(), project(c).ID, c.Param("ref"), in, s.bash)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusCreated, d)
}

func (s *Server) listJobDefinitions(c *gin.Context) {
	page, err := pageRequest(c)
	if err != nil {
		writeError(c, err)
		return
	}
	out, err := s.store.ListJobDefinitions(c.Request.Context(), project(c).ID, page)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusOK, out)
}

func (s *Server) listJobDefinitionRevisions(c *gin.Context) {
	page, err := pageRequest(c)
	if err != nil {
		writeError(c, err)
		return
	}
	out, err := s.store.ListJobDefinitionRevisions(c.Request.Context(), project(c).ID, c.Param("ref"), page)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusOK, out)
}

func (s *Server) getJobDefinition(c *gin.Context) {
	d, err := s.store.ResolveJobDefinition(c.Request.Context(), project(c).ID, c.Param("ref"))
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusOK, d)
}

func (s *Server) deleteJobDefinition(c *gin.Context) {
	d, err := s.store.DeleteJobDefinition(c.Request.Context(), project(c).ID, c.Param("ref"))
	if err != nil {
		writeError(c, err)
		return
	}
	writeDeleted(c, d.ID)
}

// jobDefinitionsAreImmutable points an update at revisions: jobs refer to
// a version and must run exactly what it said. A reference that is not the
// caller's is still 404, as on every other route.
func (s *Server) jobDefinitionsAreImmutable(c *gin.Context) {
	d, err := s.store.ResolveJobDefinition(c.Request.Context(), project(c).ID, c.Param("ref"))
	if err != nil {
		writeError(c, err)
		return
	}
	writeError(c, domain.Errorf(domain.EINVALID,
		"job definitions are immutable: POST /v1/job-definitions/%s/revisions adds a version with your changes", d.Name))
}
