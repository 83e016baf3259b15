package apiserver

import "github.com/gin-gonic/gin"

// routes registers the versioned API. Each resource's routes live in its own file.
func (s *Server) routes(e *gin.Engine) {
	v1 := e.Group("/v1", s.requireAPIKey())
	s.projectRoutes(v1)
	s.cloudAuthRoutes(v1)
	s.computeEnvRoutes(v1)
	s.jobQueueRoutes(v1)
	s.registryAuthRoutes(v1)
	s.jobDefinitionRoutes(v1)
}
