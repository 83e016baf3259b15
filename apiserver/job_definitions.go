package apiserver

import "github.com/gin-gonic/gin"

func (s *Server) jobDefinitionRoutes(_ *gin.RouterGroup) {}
