package apiserver

import "github.com/gin-gonic/gin"

func (s *Server) registryAuthRoutes(_ *gin.RouterGroup) {}
