package apiserver

import "github.com/gin-gonic/gin"

func (s *Server) computeEnvRoutes(_ *gin.RouterGroup) {}
