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
		key, err := bearer(c.GetHeader("Authorization"), "API key", "")
		if err != nil {
			writeError(c, err)
			return
		}
		p, k, err := s.store.AuthenticateAPIKey(c.Request.Context(), key)
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

// bearer reads the credential of an `Authorization: Bearer <what>` header
// (HTTP, or the gateway's gRPC metadata); hint says where the credential
// comes from. Every refusal is EUNAUTHORIZED with a sentence.
func bearer(header, what, hint string) (string, error) {
	if header == "" {
		return "", domain.Errorf(domain.EUNAUTHORIZED, "missing Authorization header: send `Authorization: Bearer <%s>`%s", what, hint)
	}
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", domain.Errorf(domain.EUNAUTHORIZED, "malformed Authorization header: expected `Bearer <%s>`", what)
	}
	return strings.TrimSpace(token), nil
}
