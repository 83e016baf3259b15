// Package apiserver speaks HTTP: the REST API for users and agents. It reads
// the catalog through internal/store and starts, signals and queries
// workflows through the Temporal client; it never scans Temporal to list things.
package apiserver

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/client"

	"daestro/internal/cloud"
	"daestro/internal/config"
	"daestro/internal/contract"
	"daestro/internal/metrics"
	"daestro/internal/store"
	"daestro/schemas"
	"daestro/service"
	"daestro/workflows"
)

// DefaultAgentPingInterval is how often agents are told to ping: often enough
// that a few lost pings never come near the unreachable timeout.
const DefaultAgentPingInterval = 10 * time.Second

// Server is the HTTP API with its dependencies.
type Server struct {
	store    *store.Store
	temporal client.Client
	// svc writes the changes that span Postgres and Temporal.
	svc    *service.Service
	clouds *cloud.Registry
	bash   string
	logger *slog.Logger
	engine *gin.Engine
	// catalog caches the providers' regions and instance types per cloud auth.
	catalog *catalogCache
	// spawn settings, with the defaults of Options applied.
	publicURL        string
	agentImage       string
	namespace        string
	controlQueue     string
	unreachableAfter time.Duration
	pingInterval     time.Duration
	// gateway serves agents' Temporal calls; built on first use (agentGateway).
	gateway     *gateway
	gatewayOnce sync.Once
	tls         *tls.Config
	devMode     bool
	followers   *followerCounts
	metrics     *metrics.Metrics
	metricsKey  string
	tracer      trace.Tracer
	// shutdowns holds, per http.Server serving this Server, the channel its
	// graceful shutdown closes (see shutdownOf).
	shutdownsMu sync.Mutex
	shutdowns   map[*http.Server]chan struct{}
}

// shutdownOf returns a channel closed when the http.Server serving r starts
// shutting down (nil, never closed, when r has none). A graceful shutdown
// waits for every request to end: log followers and the gateway's long
// polls end on it instead of holding the shutdown for its whole grace.
func (s *Server) shutdownOf(r *http.Request) <-chan struct{} {
	srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server)
	if !ok {
		return nil
	}
	s.shutdownsMu.Lock()
	defer s.shutdownsMu.Unlock()
	if ch, ok := s.shutdowns[srv]; ok {
		return ch
	}
	if s.shutdowns == nil {
		s.shutdowns = map[*http.Server]chan struct{}{}
	}
	ch := make(chan struct{})
	s.shutdowns[srv] = ch
	srv.RegisterOnShutdown(func() {
		s.shutdownsMu.Lock()
		delete(s.shutdowns, srv)
		s.shutdownsMu.Unlock()
		close(ch)
	})
	return ch
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
	// TemporalNamespace is the namespace Temporal is used in (the
	// namespace of Temporal's client), named by the raw workflow-service
	// calls and forced by the agent gateway; config.DefaultTemporalNamespace
	// when empty.
	TemporalNamespace string
	// MaxFollowersPerKey bounds the log streams (follow=true) one API key
	// holds open on this server (DefaultMaxFollowersPerKey when zero).
	MaxFollowersPerKey int
	// DevMode is `daestro dev`: privileged jobs may run on localdocker
	// spawns (containers on the control plane's own engine). Off otherwise.
	DevMode bool
	// TLS serves the API and the agent gateway over TLS; nil serves plain
	// HTTP, which the caller allows only on loopback (config.Config.CheckTransport).
	TLS *tls.Config
	// ControlTaskQueue is where SpawnWorkflows are started
	// (contract.ControlTaskQueue when empty; tests use a queue of their own).
	ControlTaskQueue string
	// SpawnUnreachableAfter is how long a spawn may go without a ping before
	// it is unreachable (workflows.DefaultUnreachableAfter when zero; tests shorten it).
	SpawnUnreachableAfter time.Duration
	// AgentPingInterval is how often agents ping (DefaultAgentPingInterval when zero).
	AgentPingInterval time.Duration
	// Console builds the web console on the server's own service; it serves
	// every path outside /v1 that the API does not (nil: no console).
	Console func(*service.Service) http.Handler
	// Metrics records requests and log ingestion and is served at
	// metrics.Path; nil records nothing and serves 404 there.
	Metrics *metrics.Metrics
	// Tracer, when set, makes every request a span (internal/tracing).
	Tracer trace.Tracer
	// MetricsToken, when set, lets callers off loopback read metrics.Path
	// with `Authorization: Bearer <token>`; loopback callers need none.
	MetricsToken string
}

func init() { gin.SetMode(gin.ReleaseMode) }

// New builds the server and its routes.
func New(o Options) *Server {
	s := &Server{store: o.Store, temporal: o.Temporal, clouds: o.Clouds, bash: o.BashImage, logger: o.Logger,
		publicURL: strings.TrimRight(o.PublicURL, "/"), agentImage: o.AgentImage, tls: o.TLS, devMode: o.DevMode,
		namespace:    o.TemporalNamespace,
		controlQueue: o.ControlTaskQueue, unreachableAfter: o.SpawnUnreachableAfter, pingInterval: o.AgentPingInterval,
		metrics: o.Metrics, metricsKey: o.MetricsToken, tracer: o.Tracer}
	if s.bash == "" {
		s.bash = config.DefaultBashImage
	}
	if s.agentImage == "" {
		s.agentImage = config.DefaultAgentImage
	}
	if s.controlQueue == "" {
		s.controlQueue = contract.ControlTaskQueue
	}
	if s.unreachableAfter <= 0 {
		s.unreachableAfter = workflows.DefaultUnreachableAfter
	}
	s.svc = &service.Service{Store: s.store, Temporal: s.temporal, ControlQueue: s.controlQueue, UnreachableAfter: s.unreachableAfter, Namespace: s.temporalNamespace()}
	s.svc.Catalog = catalog{s}
	s.followers = &followerCounts{max: o.MaxFollowersPerKey, count: map[string]int{}}
	if s.followers.max <= 0 {
		s.followers.max = DefaultMaxFollowersPerKey
	}
	if s.pingInterval <= 0 {
		s.pingInterval = DefaultAgentPingInterval
	}
	if s.clouds == nil {
		s.clouds = cloud.NewRegistry()
	}
	s.svc.Clouds = s.clouds
	s.catalog = newCatalogCache(catalogTTL, time.Now)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.Use(s.requestID(), s.accessLog(), s.traceRequests(), s.countRequests(), s.recoverPanic())
	var console http.Handler
	if o.Console != nil {
		console = o.Console(s.svc)
	}
	e.NoRoute(func(c *gin.Context) {
		if p := c.Request.URL.Path; console != nil && p != "/v1" && !strings.HasPrefix(p, "/v1/") {
			console.ServeHTTP(c.Writer, c.Request)
			return
		}
		writeError(c, notFoundRoute(c))
	})
	e.NoMethod(func(c *gin.Context) { writeError(c, methodNotAllowed(c)) })
	e.GET(PathHealthz, s.healthz)
	e.GET(PathReadyz, s.readyz)
	e.GET(PathMetrics, s.serveMetrics)
	e.GET(PathOpenAPI, func(c *gin.Context) { c.Data(http.StatusOK, "application/json", schemas.OpenAPI) })
	s.routes(e)
	s.engine = e
	return s
}

// agentGateway builds the gateway on its first call, so a server whose
// Temporal client is a test double not expecting WorkflowService still
// serves the REST API.
func (s *Server) agentGateway() *gateway {
	s.gatewayOnce.Do(func() {
		g, err := newGateway(s.store, s.temporal.WorkflowService(), s.temporalNamespace(), s.logger)
		if err != nil {
			s.logger.Error("the agent gateway cannot start", "error", err)
			return
		}
		s.gateway = g
	})
	return s.gateway
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

// Handler returns the http.Handler serving every route, and the agents'
// Temporal gateway (gRPC over HTTP/2 on the same port). Served outside
// Serve, the http.Server must speak HTTP/2 (ConfigureHTTPServer).
func (s *Server) Handler() http.Handler {
	if s.temporal == nil {
		return s.engine
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isGRPC(r) {
			if g := s.agentGateway(); g != nil {
				// An agent's long poll ends when the server shuts down,
				// so the shutdown does not wait out the poll.
				ctx, cancel := context.WithCancel(r.Context())
				defer cancel()
				if stop := s.shutdownOf(r); stop != nil {
					go func() {
						select {
						case <-stop:
							cancel()
						case <-ctx.Done():
						}
					}()
				}
				g.grpc.ServeHTTP(w, r.WithContext(ctx))
				return
			}
		}
		s.engine.ServeHTTP(w, r)
	})
}

// ConfigureHTTPServer sets what every http.Server of the API needs: the
// handler, HTTP/2 (also unencrypted on loopback, for the gateway's gRPC),
// TLS when configured, and timeouts that bound slow or idle clients while
// leaving long polls, log follows and uploads alone.
func (s *Server) ConfigureHTTPServer(srv *http.Server) {
	srv.Handler = s.Handler()
	srv.ReadHeaderTimeout = 10 * time.Second
	srv.IdleTimeout = 2 * time.Minute
	srv.MaxHeaderBytes = 64 << 10
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	if s.tls == nil {
		p.SetUnencryptedHTTP2(true)
	}
	srv.Protocols = &p
	if s.tls != nil {
		srv.TLSConfig = s.tls.Clone()
	}
}

// Serve listens on ln until ctx ends, then shuts down gracefully within grace.
func (s *Server) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	srv := &http.Server{}
	s.ConfigureHTTPServer(srv)
	errc := make(chan error, 1)
	go func() {
		if s.tls != nil {
			errc <- srv.ServeTLS(ln, "", "")
			return
		}
		errc <- srv.Serve(ln)
	}()
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

// temporalNamespace is the namespace of the server's own client, which the
// raw workflow-service calls (and the agent gateway) must name.
func (s *Server) temporalNamespace() string {
	if s.namespace != "" {
		return s.namespace
	}
	return config.DefaultTemporalNamespace
}
