package apiserver

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"daestro/internal/agentapi"
	"daestro/internal/domain"
)

// runOutputRoutes registers where agents ship a run's output (agent token)
// and where users read it (API key, under the job).
func (s *Server) runOutputRoutes(e *gin.Engine, v1 *gin.RouterGroup) {
	// Output of a spawn being terminated is still taken: its runs flush
	// their last lines then, and they are the lines a user looks for.
	e.POST(ginPath(agentapi.PathRunLogs), s.requireAgentToken(agentAnswerEnded), s.agentShipLogs)
	e.POST(ginPath(agentapi.PathRunMetrics), s.requireAgentToken(agentAnswerEnded), s.agentShipMetrics)
	v1.GET("/jobs/:id/logs", s.jobLogs)
	v1.GET("/jobs/:id/metrics", s.jobMetrics)
}

// agentShipLogs stores a batch of a run's lines and acknowledges them.
func (s *Server) agentShipLogs(c *gin.Context) {
	var in agentapi.LogsRequest
	if err := bindAgentBody(c, &in, agentapi.MaxLogBodyBytes); err != nil {
		writeError(c, err)
		return
	}
	if err := in.Validate(); err != nil {
		writeError(c, domain.Errorf(domain.EINVALID, "%s", err))
		return
	}
	acked, err := s.store.AppendRunLogs(c.Request.Context(), agentSession(c).SpawnID, c.Param("runId"), in.Lines)
	if err != nil {
		writeError(c, err)
		return
	}
	bytes := 0
	for _, l := range in.Lines {
		bytes += len(l.Text)
	}
	s.metrics.LogsIngested(len(in.Lines), bytes)
	writeData(c, http.StatusOK, agentapi.LogsResponse{AckedSeq: acked})
}

// agentShipMetrics stores a batch of a run's samples.
func (s *Server) agentShipMetrics(c *gin.Context) {
	var in agentapi.MetricsRequest
	if err := bindAgentBody(c, &in, maxBodyBytes); err != nil {
		writeError(c, err)
		return
	}
	if err := in.Validate(); err != nil {
		writeError(c, domain.Errorf(domain.EINVALID, "%s", err))
		return
	}
	n, err := s.store.AppendRunMetrics(c.Request.Context(), agentSession(c).SpawnID, c.Param("runId"), in.Samples)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusOK, agentapi.MetricsResponse{Stored: n})
}

// bindAgentBody is bindAgentJSON with a bound of its own: a log batch is
// larger than any other request.
func bindAgentBody(c *gin.Context, v any, limit int64) error {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return domain.Errorf(domain.EINVALID, "request body is larger than %d bytes: send less at once", limit)
		}
		return domain.Errorf(domain.EINVALID, "cannot read request body: %v", err)
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return domain.Errorf(domain.EINVALID, "request body is empty: send a JSON object")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return jsonError(err)
	}
	return nil
}
