package apiserver

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"daestro/internal/domain"
)

func (s *Server) projectRoutes(g *gin.RouterGroup) {
	g.GET("/project", s.getProject)
	g.PATCH("/project", s.updateProject)
	g.POST("/api-keys", s.createAPIKey)
	g.GET("/api-keys", s.listAPIKeys)
	g.DELETE("/api-keys/:id", s.revokeAPIKey)
}

func (s *Server) getProject(c *gin.Context) {
	writeData(c, http.StatusOK, project(c))
}

// projectPatchRequest is the body of PATCH /v1/project. It accepts the
// fixed fields too, so that an attempt to change one is answered with why.
type projectPatchRequest struct {
	// LogRetentionDays is the new retention; nil (absent) is refused, as
	// it is the only field a project changes.
	LogRetentionDays *int            `json:"log_retention_days"`
	ID               json.RawMessage `json:"id"`
	Code             json.RawMessage `json:"code"`
	Name             json.RawMessage `json:"name"`
}

// updateProject changes the caller's own project (the API key's: no route
// names another project, DESIGN.md §9).
func (s *Server) updateProject(c *gin.Context) {
	var req projectPatchRequest
	if err := bindJSON(c, &req); err != nil {
		writeError(c, err)
		return
	}
	if err := firstFrozen("project", []frozenField{{"id", req.ID}, {"code", req.Code}, {"name", req.Name}}); err != nil {
		writeError(c, err)
		return
	}
	if req.LogRetentionDays == nil {
		writeError(c, domain.Errorf(domain.EINVALID, "log_retention_days: required, the days (%d-%d) a run's logs and metrics are kept after it ended",
			domain.MinLogRetentionDays, domain.MaxLogRetentionDays))
		return
	}
	p, err := s.store.SetProjectLogRetention(c.Request.Context(), project(c).ID, *req.LogRetentionDays)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusOK, p)
}

// createdAPIKey is the only response that ever carries a key's secret.
type createdAPIKey struct {
	domain.APIKey
	Secret string `json:"secret"`
	Note   string `json:"note"`
}

func (s *Server) createAPIKey(c *gin.Context) {
	var in struct {
		Name string `json:"name"`
	}
	if err := bindJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > 128 {
		writeError(c, domain.Errorf(domain.EINVALID, "name: required, 1-128 characters saying what the key is for"))
		return
	}
	k, secret, err := s.store.CreateAPIKey(c.Request.Context(), project(c).ID, in.Name)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusCreated, createdAPIKey{APIKey: k, Secret: secret, Note: "the secret is shown only now: store it safely"})
}

func (s *Server) listAPIKeys(c *gin.Context) {
	page, err := pageRequest(c)
	if err != nil {
		writeError(c, err)
		return
	}
	out, err := s.store.ListAPIKeys(c.Request.Context(), project(c).ID, page)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusOK, out)
}

func (s *Server) revokeAPIKey(c *gin.Context) {
	k, err := s.store.RevokeAPIKey(c.Request.Context(), project(c).ID, c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusOK, k)
}
