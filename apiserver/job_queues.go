package apiserver

import "github.com/gin-gonic/gin"

func (s *Server) jobQueueRoutes(_ *gin.RouterGroup) {}
