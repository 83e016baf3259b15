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

	"daestro/internal/agentapi"
	"daestro/internal/cloud"
	"daestro/internal/config"
	"daestro/internal/store"
	"daestro/internal/temporalx"
	"daestro/schemas"
	"daestro/workflows"
)

// DefaultAgentPingInterval is how often agents are told to ping: often enough
// that a few lost pings never come near the unreachable timeout.
const DefaultAgentPingInterval = 10 * time.Second

// Server is the HTTP API with its dependencies.
type Server struct {
	store    *store.Store
	temporal client.Client
	clouds   *cloud.Registry
	bash     string
	logger   *slog.Logger
	engine   *gin.Engine
	// catalog caches the providers' regions and instance types per cloud auth.
	catalog *catalogCache
	// spawn settings, with the defaults of Options applied.
	publicURL        string
	agentImage       string
	agentTemporal    agentapi.Temporal
	namespace        string
	controlQueue     string
	unreachableAfter time.Duration
	pingInterval     time.Duration
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
	// PublicURL is the URL agents reach the API at, put in the `docker run`
	// line of a new spawn; the URL of the creating request when empty.
	PublicURL string
	// AgentImage is the agent's image in that line (config.DefaultAgentImage when empty).
	AgentImage string
	// AgentTemporal is how agents reach Temporal, handed out at registration.
	AgentTemporal agentapi.Temporal
	// TemporalNamespace is the namespace Temporal is used in (the
	// namespace of Temporal's client), named by the raw workflow-service
	// calls; AgentTemporal.Namespace, then config.DefaultTemporalNamespace,
	// when empty.
	TemporalNamespace string
	// ControlTaskQueue is where SpawnWorkflows are started
	// (temporalx.ControlTaskQueue when empty; tests use a queue of their own).
	ControlTaskQueue string
	// SpawnUnreachableAfter is how long a spawn may go without a ping before
	// it is unreachable (workflows.DefaultUnreachableAfter when zero; tests shorten it).
	SpawnUnreachableAfter time.Duration
	// AgentPingInterval is how often agents ping (DefaultAgentPingInterval when zero).
	AgentPingInterval time.Duration
}

func init() { gin.SetMode(gin.ReleaseMode) }

// New builds the server and its routes.
func New(o Options) *Server {
	s := &Server{store: o.Store, temporal: o.Temporal, clouds: o.Clouds, bash: o.BashImage, logger: o.Logger,
		publicURL: strings.TrimRight(o.PublicURL, "/"), agentImage: o.AgentImage, agentTemporal: o.AgentTemporal,
		namespace:    o.TemporalNamespace,
		controlQueue: o.ControlTaskQueue, unreachableAfter: o.SpawnUnreachableAfter, pingInterval: o.AgentPingInterval}
	if s.bash == "" {
		s.bash = config.DefaultBashImage
	}
	if s.agentImage == "" {
		s.agentImage = config.DefaultAgentImage
	}
	if s.controlQueue == "" {
		s.controlQueue = temporalx.ControlTaskQueue
	}
	if s.unreachableAfter <= 0 {
		s.unreachableAfter = workflows.DefaultUnreachableAfter
	}
	if s.pingInterval <= 0 {
		s.pingInterval = DefaultAgentPingInterval
	}
	if s.clouds == nil {
		s.clouds = cloud.NewRegistry()
	}
	s.catalog = newCatalogCache(catalogTTL, time.Now)
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
