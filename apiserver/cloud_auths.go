package apiserver

import "github.com/gin-gonic/gin"

func (s *Server) cloudAuthRoutes(_ *gin.RouterGroup) {}
