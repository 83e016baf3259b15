package apiserver

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"daestro/internal/config"
	"daestro/internal/domain"
	"daestro/internal/store"
	"daestro/internal/temporalx"
)

// healthz answers as long as the process serves HTTP.
func (s *Server) healthz(c *gin.Context) {
	writeData(c, http.StatusOK, gin.H{"status": "up"})
}

// readiness is the body of /readyz: one entry per dependency, "ok" or what is wrong.
type readiness struct {
	Ready  bool              `json:"ready"`
	Checks map[string]string `json:"checks"`
}

// readyz reports whether Postgres and Temporal answer and the schema is current.
func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
	defer cancel()
	r := readiness{Checks: map[string]string{}}

	if err := s.store.Ping(ctx); err != nil {
		r.Checks["postgres"] = "not reachable: " + err.Error()
		r.Checks["migrations"] = "unknown: postgres is not reachable"
	} else {
		r.Checks["postgres"] = "ok"
		v, err := s.store.SchemaVersion(ctx)
		switch want := store.LatestVersion(); {
		case err != nil:
			r.Checks["migrations"] = "cannot read schema version: " + err.Error()
		case v < want:
			r.Checks["migrations"] = fmt.Sprintf("schema at version %d, binary needs %d: run `daestro migrate`", v, want)
		default:
			r.Checks["migrations"] = "ok"
		}
	}
	if err := temporalx.CheckHealth(ctx, s.temporal); err != nil {
		r.Checks["temporal"] = "not reachable: " + err.Error()
	} else {
		r.Checks["temporal"] = "ok"
	}

	var failing []string
	for name, state := range r.Checks {
		if state != "ok" {
			failing = append(failing, name)
		}
	}
	sort.Strings(failing)
	r.Ready = len(failing) == 0
	if !fromLoopback(c.Request) {
		// Dependency errors name hosts, ports and users: only an operator on
		// the machine itself reads them. Anyone else learns what is down.
		for name, state := range r.Checks {
			if state != "ok" {
				r.Checks[name] = "failing (details on loopback only)"
			}
		}
	}
	if r.Ready {
		writeData(c, http.StatusOK, r)
		return
	}
	c.JSON(http.StatusServiceUnavailable, envelope{
		OK:      false,
		Message: "not ready: " + strings.Join(failing, ", "),
		Data:    r,
	})
}

// fromLoopback reports whether r came from this machine (its TCP peer, not
// a header a client may set).
func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	return err == nil && config.IsLoopbackHost(host)
}

// serveMetrics serves the process's Prometheus metrics to callers on
// loopback (a Prometheus beside the server) and, when a metrics token is
// configured, to callers that present it; the metrics name every project's
// queues, so nobody else reads them.
func (s *Server) serveMetrics(c *gin.Context) {
	if s.metrics == nil {
		writeError(c, notFoundRoute(c))
		return
	}
	if !fromLoopback(c.Request) {
		token, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if s.metricsKey == "" || !ok || subtle.ConstantTimeCompare([]byte(token), []byte(s.metricsKey)) != 1 {
			writeError(c, domain.Errorf(domain.EUNAUTHORIZED, "metrics are served on loopback, or with the token set in %s on the server", config.EnvMetricsToken))
			return
		}
	}
	s.metrics.Handler().ServeHTTP(c.Writer, c.Request)
}
