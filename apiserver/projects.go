package apiserver

import "github.com/gin-gonic/gin"

func (s *Server) projectRoutes(_ *gin.RouterGroup) {}
