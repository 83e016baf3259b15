// Package apiserver speaks HTTP: the REST API for users and agents. It reads
// the catalog through internal/store and starts, signals and queries
// workflows through the Temporal client; it never scans Temporal to list things.
package apiserver

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"

	"daestro/internal/cloud"
	"daestro/internal/config"
	"daestro/internal/store"
	"daestro/schemas"
)

// Server is the HTTP API with its dependencies.
type Server struct {
	store    *store.Store
	temporal client.Client
	clouds   *cloud.Registry
	bash     string
	logger   *slog.Logger
	engine   *gin.Engine
}

// Options are what a Server needs.
type Options struct {
	// Store is the Postgres handle.
	Store *store.Store
	// Temporal is the Temporal client (a lazy one is fine: readiness reports it).
	Temporal client.Client
	// Clouds validates cloud credentials; nil means no provider is wired.
	Clouds *cloud.Registry
	// BashImage is the image bash-script job definitions run in (config.DefaultBashImage when empty).
	BashImage string
	// Logger receives one line per request and every internal error.
	Logger *slog.Logger
}

func init() { gin.SetMode(gin.ReleaseMode) }

// New builds the server and its routes.
func New(o Options) *Server {
	s := &Server{store: o.Store, temporal: o.Temporal, clouds: o.Clouds, bash: o.BashImage, logger: o.Logger}
	if s.bash == "" {
		s.bash = config.DefaultBashImage
	}
	if s.clouds == nil {
		s.clouds = cloud.NewRegistry()
	}
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.Use(s.requestID(), s.accessLog(), s.recoverPanic())
	e.NoRoute(func(c *gin.Context) { writeError(c, notFoundRoute(c)) })
	e.NoMethod(func(c *gin.Context) { writeError(c, methodNotAllowed(c)) })
	e.GET(PathHealthz, s.healthz)
	e.GET(PathReadyz, s.readyz)
	e.GET(PathOpenAPI, func(c *gin.Context) { c.Data(http.StatusOK, "application/json", schemas.OpenAPI) })
	s.routes(e)
	s.engine = e
	return s
}

// Route is one method and path the API serves, in OpenAPI's {param} syntax.
type Route struct {
	Method string
	Path   string
}

// Routes lists every route the server registers; the OpenAPI test compares
// it with the document.
func (s *Server) Routes() []Route {
	var out []Route
	for _, r := range s.engine.Routes() {
		parts := strings.Split(r.Path, "/")
		for i, p := range parts {
			if strings.HasPrefix(p, ":") {
				parts[i] = "{" + p[1:] + "}"
			}
		}
		out = append(out, Route{Method: r.Method, Path: strings.Join(parts, "/")})
	}
	return out
}

// Handler returns the http.Handler serving every route.
func (s *Server) Handler() http.Handler { return s.engine }

// Serve listens on ln until ctx ends, then shuts down gracefully within grace.
func (s *Server) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	srv := &http.Server{Handler: s.engine, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
