// Package metrics is daestro's Prometheus registry: the Temporal SDK's own
// metrics (through the SDK's OpenTelemetry contrib handler, exported by
// OpenTelemetry's Prometheus exporter into the same registry), the Go
// runtime's, and daestro's own — HTTP requests by route, job state
// transitions and waits, cloud API calls, log ingestion, dispatcher rounds
// and gauges read from Postgres at scrape time. Every role builds one
// (server, worker, agent, dev) and serves it at /metrics.
//
// Every method is safe on a nil *Metrics, so code under test that was given
// none records nothing.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
)

// Path is where every role serves its metrics.
const Path = "/metrics"

// Namespace prefixes daestro's own metrics (the SDK's start with temporal_).
const Namespace = "daestro"

// Metrics is one process's registry and daestro's instruments in it.
type Metrics struct {
	registry *prometheus.Registry
	provider *sdkmetric.MeterProvider
	temporal client.MetricsHandler

	httpRequests    *prometheus.CounterVec
	httpDuration    *prometheus.HistogramVec
	jobTransitions  *prometheus.CounterVec
	queueWait       *prometheus.HistogramVec
	submitToRunning *prometheus.HistogramVec
	cloudCalls      *prometheus.CounterVec
	cloudErrors     *prometheus.CounterVec
	logLines        prometheus.Counter
	logBytes        prometheus.Counter
	dispatcherRound prometheus.Histogram
}

// waitBuckets cover a job's waits: a second to a day.
var waitBuckets = []float64{0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600}

// New builds a registry with the Go runtime's and the process's collectors,
// the Temporal SDK's metrics handler and daestro's instruments. role
// ("server", "worker", "agent", "dev") is a constant label of the SDK's metrics.
func New(role string) (*Metrics, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		return nil, fmt.Errorf("metrics: the OpenTelemetry Prometheus exporter: %w", err)
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	m := &Metrics{
		registry: reg,
		provider: provider,
		temporal: temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
			Meter:                provider.Meter("temporal-sdk-go"),
			UseMonotonicCounters: true,
			OnError:              func(err error) { slog.Warn("temporal sdk metric", "error", err) },
		}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "http_requests_total",
			Help: "HTTP requests served, by method, route template (never the raw path) and status code."}, []string{"method", "route", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "http_request_duration_seconds",
			Help: "Time to serve an HTTP request, by method and route template.", Buckets: prometheus.DefBuckets}, []string{"method", "route"}),
		jobTransitions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "job_state_transitions_total",
			Help: "Job run state changes recorded by the job workflows, by the state entered."}, []string{"state"}),
		queueWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "job_queue_wait_seconds",
			Help: "Time a job run waited as runnable until it was placed (runnable to starting), by job queue (code::name).", Buckets: waitBuckets}, []string{"queue"}),
		submitToRunning: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "job_submit_to_running_seconds",
			Help: "Time from a job run's submission to its container running, schedule_at waits included, by job queue (code::name).", Buckets: waitBuckets}, []string{"queue"}),
		cloudCalls: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "cloud_api_calls_total",
			Help: "Calls to a cloud provider's API, by provider and operation."}, []string{"provider", "op"}),
		cloudErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "cloud_api_errors_total",
			Help: "Cloud provider API calls that failed, by provider and operation."}, []string{"provider", "op"}),
		logLines: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "log_lines_ingested_total",
			Help: "Job log lines received from agents."}),
		logBytes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "log_bytes_ingested_total",
			Help: "Bytes of job log text received from agents."}),
		dispatcherRound: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "dispatcher_round_duration_seconds",
			Help:    "Time of one dispatcher round (load, place and persist in one transaction).",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10}}),
	}
	reg.MustRegister(m.httpRequests, m.httpDuration, m.jobTransitions, m.queueWait, m.submitToRunning,
		m.cloudCalls, m.cloudErrors, m.logLines, m.logBytes, m.dispatcherRound)
	if role != "" {
		m.temporal = m.temporal.WithTags(map[string]string{"daestro_role": role})
	}
	return m, nil
}

// Registry is the process's Prometheus registry (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.registry
}

// Temporal is the handler for client.Options.MetricsHandler; nil (the
// SDK's no-op) on a nil *Metrics.
func (m *Metrics) Temporal() client.MetricsHandler {
	if m == nil {
		return nil
	}
	return m.temporal
}

// Handler serves the registry in Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Close flushes and stops the SDK metrics' meter provider.
func (m *Metrics) Close(ctx context.Context) error {
	if m == nil {
		return nil
	}
	return m.provider.Shutdown(ctx)
}

// Serve serves Path on addr until ctx ends: the worker's and the agent's
// metrics listener. An empty addr serves nothing.
func (m *Metrics) Serve(ctx context.Context, addr string, log *slog.Logger) error {
	if m == nil || addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle(Path, m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("metrics listening", "url", "http://"+ln.Addr().String()+Path)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener stopped", "error", err)
		}
	}()
	return nil
}

// HTTPRequest records one served request; route is the router's template
// ("/v1/jobs/:id"), "unmatched" when no route matched.
func (m *Metrics) HTTPRequest(method, route string, code int, d time.Duration) {
	if m == nil {
		return
	}
	if route == "" {
		route = "unmatched"
	}
	m.httpRequests.WithLabelValues(method, route, strconv.Itoa(code)).Inc()
	m.httpDuration.WithLabelValues(method, route).Observe(d.Seconds())
}

// Transition is one recorded state change of a job run.
type Transition struct {
	// State is the state entered.
	State string
	// Queue is the run's job queue as code::name.
	Queue string
	// SubmittedAt is when the run was submitted.
	SubmittedAt time.Time
	// RunnableAt is when the job last became runnable (nil if never).
	RunnableAt *time.Time
}

// JobTransition counts a state change and, on starting and running, the
// waits that ended.
func (m *Metrics) JobTransition(t Transition, now time.Time) {
	if m == nil {
		return
	}
	m.jobTransitions.WithLabelValues(t.State).Inc()
	switch t.State {
	case "starting":
		if t.RunnableAt != nil {
			m.queueWait.WithLabelValues(t.Queue).Observe(now.Sub(*t.RunnableAt).Seconds())
		}
	case "running":
		if !t.SubmittedAt.IsZero() {
			m.submitToRunning.WithLabelValues(t.Queue).Observe(now.Sub(t.SubmittedAt).Seconds())
		}
	}
}

// CloudCall counts one call of a provider's API and whether it failed.
func (m *Metrics) CloudCall(provider, op string, err error) {
	if m == nil {
		return
	}
	m.cloudCalls.WithLabelValues(provider, op).Inc()
	if err != nil {
		m.cloudErrors.WithLabelValues(provider, op).Inc()
	}
}

// LogsIngested counts log lines received from an agent.
func (m *Metrics) LogsIngested(lines, bytes int) {
	if m == nil {
		return
	}
	m.logLines.Add(float64(lines))
	m.logBytes.Add(float64(bytes))
}

// DispatcherRound records the duration of one round.
func (m *Metrics) DispatcherRound(d time.Duration) {
	if m == nil {
		return
	}
	m.dispatcherRound.Observe(d.Seconds())
}

// DatabaseGauges are the gauges read from Postgres: two grouped counts per
// scrape, never a query per job.
type DatabaseGauges struct {
	// RunnableJobs counts runnable jobs by queue (code::name) and pending
	// reason (the code the dispatcher's last round gave; "" before one).
	RunnableJobs []RunnableCount
	// Spawns counts compute spawns by kind and state.
	Spawns []SpawnCount
}

// RunnableCount is one series of daestro_runnable_jobs.
type RunnableCount struct {
	Queue, PendingReason string
	Count                int
}

// SpawnCount is one series of daestro_compute_spawns.
type SpawnCount struct {
	Kind, State string
	Count       int
}

// scrapeTimeout bounds the Postgres read of one scrape.
const scrapeTimeout = 3 * time.Second

var (
	runnableDesc = prometheus.NewDesc(Namespace+"_runnable_jobs",
		"Runnable jobs waiting for capacity, by job queue (code::name) and pending reason; read from Postgres at scrape time.",
		[]string{"queue", "pending_reason"}, nil)
	spawnsDesc = prometheus.NewDesc(Namespace+"_compute_spawns",
		"Compute spawns by kind (cloud, selfhosted) and state; read from Postgres at scrape time.", []string{"kind", "state"}, nil)
	scrapeErrDesc = prometheus.NewDesc(Namespace+"_database_gauges_up",
		"1 when the last scrape read the database gauges, 0 when Postgres did not answer in time.", nil, nil)
)

// ReadAtScrape registers the database gauges, read by read at every scrape
// (the server's metrics: one process needs to read them, not every worker).
func (m *Metrics) ReadAtScrape(read func(context.Context) (DatabaseGauges, error)) {
	if m == nil {
		return
	}
	m.registry.MustRegister(databaseCollector(read))
}

type databaseCollector func(context.Context) (DatabaseGauges, error)

func (databaseCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- runnableDesc
	ch <- spawnsDesc
	ch <- scrapeErrDesc
}

func (read databaseCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	g, err := read(ctx)
	if err != nil {
		slog.Warn("metrics: could not read the database gauges", "error", err)
		ch <- prometheus.MustNewConstMetric(scrapeErrDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(scrapeErrDesc, prometheus.GaugeValue, 1)
	for _, r := range g.RunnableJobs {
		ch <- prometheus.MustNewConstMetric(runnableDesc, prometheus.GaugeValue, float64(r.Count), r.Queue, r.PendingReason)
	}
	for _, s := range g.Spawns {
		ch <- prometheus.MustNewConstMetric(spawnsDesc, prometheus.GaugeValue, float64(s.Count), s.Kind, s.State)
	}
}
