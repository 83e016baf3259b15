package apiserver

import (
	"strings"

	"github.com/gin-gonic/gin"

	"daestro/internal/domain"
)

const (
	ctxProject  = "daestro.project"
	ctxAPIKeyID = "daestro.api_key_id"
)

// requireAPIKey authenticates `Authorization: Bearer <API key>` and scopes the
// request to the key's project. Every refusal says why.
func (s *Server) requireAPIKey() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.GetHeader("Authorization")
		if h == "" {
			writeError(c, domain.Errorf(domain.EUNAUTHORIZED, "missing Authorization header: send `Authorization: Bearer <API key>`"))
			return
		}
		scheme, key, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "" {
			writeError(c, domain.Errorf(domain.EUNAUTHORIZED, "malformed Authorization header: expected `Bearer <API key>`"))
			return
		}
		p, k, err := s.store.AuthenticateAPIKey(c.Request.Context(), strings.TrimSpace(key))
		if err != nil {
			writeError(c, err)
			return
		}
		c.Set(ctxProject, p)
		c.Set(ctxAPIKeyID, k.ID)
		c.Set(ctxLogger, logger(c).With("project", p.Code, "api_key", k.Prefix))
		c.Next()
	}
}

// project returns the authenticated request's project. Every handler behind
// requireAPIKey scopes its reads and writes to it.
func project(c *gin.Context) domain.Project {
	return c.MustGet(ctxProject).(domain.Project)
}
