package apiserver

import "github.com/gin-gonic/gin"

// routes registers the versioned API. Each resource's routes live in its own file.
func (s *Server) routes(e *gin.Engine) {
	// The agent endpoints authenticate with an agent token, not an API key,
	// so they stay outside the API-key group.
	s.agentRoutes(e)
	s.agentRunRoutes(e)
	v1 := e.Group("/v1", s.requireAPIKey())
	s.projectRoutes(v1)
	s.cloudAuthRoutes(v1)
	s.computeEnvRoutes(v1)
	s.jobQueueRoutes(v1)
	s.registryAuthRoutes(v1)
	s.jobDefinitionRoutes(v1)
	s.computeSpawnRoutes(v1)
	s.clientAPIRoutes(v1)
	s.jobRoutes(v1)
	s.cronJobRoutes(v1)
	s.runOutputRoutes(e, v1)
}
