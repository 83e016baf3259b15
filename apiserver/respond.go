package apiserver

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"daestro/internal/domain"
	"daestro/internal/store"
)

// envelope is Daestro's response shape: {"ok":true,"data":…} or {"ok":false,"message":"…"}.
type envelope struct {
	OK      bool   `json:"ok"`
	Data    any    `json:"data,omitempty"`
	Message string `json:"message,omitempty"`
}

// writeData answers with status and the success envelope around data.
func writeData(c *gin.Context, status int, data any) {
	c.JSON(status, envelope{OK: true, Data: data})
}

// writeError answers with the status that fits err's code and its user-facing message.
func writeError(c *gin.Context, err error) {
	if domain.ErrorCode(err) == domain.EINTERNAL {
		// A constraint or an unreachable database is the user's 409 or a 503, never a 500.
		if mapped := store.UserError(err); mapped != err {
			logger(c).Warn("request failed", "error", err)
			err = mapped
		}
	}
	status := domain.HTTPStatus(err)
	if status == http.StatusInternalServerError {
		logger(c).Error("request failed", "error", err)
	}
	c.AbortWithStatusJSON(status, envelope{OK: false, Message: domain.ErrorMessage(err)})
}

func notFoundRoute(c *gin.Context) error {
	return domain.Errorf(domain.ENOTFOUND, "no route %s %s; /v1/openapi.json lists every route", c.Request.Method, c.Request.URL.Path)
}

func methodNotAllowed(c *gin.Context) error {
	return &domain.Error{Code: domain.EINVALID, Message: fmt.Sprintf("method %s is not allowed on %s", c.Request.Method, c.Request.URL.Path)}
}

// writeDeleted answers a successful delete.
func writeDeleted(c *gin.Context, id string) {
	writeData(c, http.StatusOK, gin.H{"id": id, "deleted": true})
}
