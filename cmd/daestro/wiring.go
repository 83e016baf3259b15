package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"daestro/activities"
	"daestro/apiserver"
	"daestro/console"
	"daestro/internal/cloud"
	"daestro/internal/cloud/aws"
	"daestro/internal/cloud/digitalocean"
	"daestro/internal/cloud/linode"
	"daestro/internal/cloud/localdocker"
	"daestro/internal/cloud/vultr"
	"daestro/internal/config"
	"daestro/internal/logging"
	"daestro/internal/metrics"
	"daestro/internal/secrets"
	"daestro/internal/store"
	"daestro/internal/temporalx"
	"daestro/internal/tracing"
	"daestro/service"
)

// loadConfig reads the environment and builds the logger every role shares.
func loadConfig(stderr io.Writer) (config.Config, *slog.Logger, error) {
	cfg, err := config.FromEnv()
	if err != nil {
		return cfg, nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	log := logging.New(stderr, cfg.LogFormat, cfg.LogLevel)
	slog.SetDefault(log)
	return cfg, log, nil
}

// openStore connects to Postgres and, when asked, applies pending migrations.
// With a master key configured, the store can also seal and open secrets.
func openStore(ctx context.Context, cfg config.Config, log *slog.Logger, migrate bool) (*store.Store, error) {
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	st.RunLogCapBytes = int64(cfg.RunLogCapMB) << 20
	if len(cfg.MasterKey) > 0 {
		if st.Secrets, err = secrets.NewKeyring(cfg.MasterKey, cfg.OldMasterKeys...); err != nil {
			st.Close()
			return nil, err
		}
	}
	if migrate {
		applied, err := st.Migrate(ctx)
		if err != nil {
			st.Close()
			return nil, err
		}
		if len(applied) > 0 {
			log.Info("applied migrations", "versions", applied)
		}
	}
	return st, nil
}

// openRole is the start of every role that touches secrets: read and check
// the config (a master key is required), then open and migrate the store.
func openRole(ctx context.Context, stderr io.Writer) (config.Config, *slog.Logger, *store.Store, error) {
	cfg, log, err := loadConfig(stderr)
	if err != nil {
		return cfg, nil, nil, err
	}
	if err := cfg.RequireMasterKey(); err != nil {
		return cfg, log, nil, err
	}
	st, err := openStore(ctx, cfg, log, cfg.MigrateOnStart)
	return cfg, log, st, err
}

// telemetry is a role's metrics and traces.
type telemetry struct {
	metrics *metrics.Metrics
	// tracing is nil unless OTEL_EXPORTER_OTLP_* name a collector.
	tracing *tracing.Tracing
}

// newTelemetry builds the role's metrics registry and, when the OTEL_*
// variables ask for it, its tracer provider.
func newTelemetry(ctx context.Context, role string) (*telemetry, error) {
	m, err := metrics.New(role)
	if err != nil {
		return nil, err
	}
	tr, err := tracing.FromEnv(ctx, role)
	if err != nil {
		return nil, err
	}
	return &telemetry{metrics: m, tracing: tr}, nil
}

// close flushes buffered spans and stops the SDK metrics' provider.
func (t *telemetry) close() {
	if t == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = t.tracing.Shutdown(ctx)
	_ = t.metrics.Close(ctx)
}

// temporalOptions turns config into client options; the SDK's metrics and
// traces go to tel (none when nil).
func temporalOptions(cfg config.Config, log *slog.Logger, tel *telemetry) temporalx.Options {
	o := temporalx.Options{Address: cfg.TemporalAddress, Namespace: cfg.TemporalNamespace, Logger: log, Base: cfg.Temporal}
	if tel != nil {
		o.Metrics, o.Interceptors = tel.metrics.Temporal(), tel.tracing.TemporalInterceptors()
	}
	return o
}

// databaseGauges reads the metrics' Postgres gauges: two grouped counts.
func databaseGauges(st *store.Store) func(context.Context) (metrics.DatabaseGauges, error) {
	return func(ctx context.Context) (metrics.DatabaseGauges, error) {
		var g metrics.DatabaseGauges
		runnable, err := st.RunnableJobCounts(ctx)
		if err != nil {
			return g, err
		}
		for _, r := range runnable {
			g.RunnableJobs = append(g.RunnableJobs, metrics.RunnableCount{Queue: r.Queue, PendingReason: r.PendingReason, Count: r.Count})
		}
		spawns, err := st.SpawnStateCounts(ctx)
		if err != nil {
			return g, err
		}
		for _, sp := range spawns {
			g.Spawns = append(g.Spawns, metrics.SpawnCount{Kind: sp.Kind, State: sp.State, Count: sp.Count})
		}
		return g, nil
	}
}

// dialTemporal connects (waiting for Temporal while ctx lasts) and registers search attributes.
func dialTemporal(ctx context.Context, cfg config.Config, log *slog.Logger, tel *telemetry) (client.Client, error) {
	c, err := temporalx.Dial(ctx, temporalOptions(cfg, log, tel))
	if err != nil {
		return nil, err
	}
	if err := temporalx.EnsureSearchAttributes(ctx, c, cfg.TemporalNamespace); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// serverOptions are the API server's options from config, shared by
// `server` and `dev`.
func serverOptions(cfg config.Config, st *store.Store, tc client.Client, log *slog.Logger, tel *telemetry) apiserver.Options {
	return apiserver.Options{
		Store: st, Temporal: tc, BashImage: cfg.BashImage, Logger: log, Clouds: cloudRegistry(cfg, tel.metrics),
		Metrics: tel.metrics, MetricsToken: cfg.MetricsToken, Tracer: tel.tracing.Tracer(),
		TemporalNamespace: cfg.TemporalNamespace,
		PublicURL:         cfg.PublicURL,
		AgentImage:        cfg.AgentImage,
		DevMode:           cfg.Dev,
		// A spawn's workflow gets its limit when the spawn is made.
		SpawnUnreachableAfter: cfg.SpawnUnreachableAfter,
		ControlTaskQueue:      cfg.ControlTaskQueue,
		Console: func(svc *service.Service) http.Handler {
			return console.MustNew(console.Options{Store: st, Service: svc, Logger: log, BashImage: cfg.BashImage,
				PublicURL: cfg.PublicURL, AgentImage: cfg.AgentImage, TemporalUIURL: cfg.TemporalUIURL,
				TemporalNamespace: cfg.TemporalNamespace,
				// Plain HTTP off loopback is allowed only behind a TLS-terminating proxy.
				SecureCookies: cfg.AllowInsecure || strings.HasPrefix(cfg.PublicURL, "https://")})
		},
	}
}

// localDockerOff is why localdocker is refused outside `daestro dev`.
var localDockerOff = fmt.Sprintf("localdocker is off on this server: its machines are containers on the control plane's own Docker engine, "+
	"which any job could take over; it is for `daestro dev`, demos and tests (set %s=true on the server and worker to allow it on a machine you trust)",
	config.EnvEnableLocalDocker)

// providerBaseURLs points providers at other API endpoints than their
// public ones: only tests set it, to the in-repo fakes of
// internal/cloud/cloudtest, so that server and worker run in the test's
// process talk to a fake cloud through the providers' real clients. It is
// deliberately not configuration: a server always talks to the real clouds.
var providerBaseURLs = map[string]string{}

// cloudRegistry wires every provider on its official SDK, and localdocker
// when the operator allows it (cfg.EnableLocalDocker; `daestro dev` always
// does); every provider call is counted in m.
func cloudRegistry(cfg config.Config, m *metrics.Metrics) *cloud.Registry {
	r := cloud.NewRegistry()
	if m != nil {
		r.Observe(m.CloudCall)
	}
	var awsOpts []aws.Option
	var doOpts []digitalocean.Option
	var linodeOpts []linode.Option
	var vultrOpts []vultr.Option
	if u := providerBaseURLs[cloud.AWS]; u != "" {
		awsOpts = append(awsOpts, aws.WithBaseURL(u))
	}
	if u := providerBaseURLs[cloud.DigitalOcean]; u != "" {
		doOpts = append(doOpts, digitalocean.WithBaseURL(u))
	}
	if u := providerBaseURLs[cloud.Linode]; u != "" {
		linodeOpts = append(linodeOpts, linode.WithBaseURL(u))
	}
	if u := providerBaseURLs[cloud.Vultr]; u != "" {
		vultrOpts = append(vultrOpts, vultr.WithBaseURL(u))
	}
	r.Register(cloud.AWS, aws.NewFactory(awsOpts...))
	r.Register(cloud.DigitalOcean, func(c cloud.Credentials, _ string) (cloud.Provider, error) {
		return digitalocean.New(c.AccessToken, doOpts...)
	})
	r.Register(cloud.Linode, func(c cloud.Credentials, _ string) (cloud.Provider, error) {
		return linode.New(c.AccessToken, linodeOpts...)
	})
	r.Register(cloud.Vultr, func(c cloud.Credentials, _ string) (cloud.Provider, error) {
		return vultr.New(c.AccessToken, vultrOpts...)
	})
	if cfg.EnableLocalDocker {
		r.Register(cloud.LocalDocker, func(cloud.Credentials, string) (cloud.Provider, error) { return localdocker.New() })
	} else {
		r.Refuse(cloud.LocalDocker, localDockerOff)
	}
	return r
}

// controlActivities are the control worker's activities from config,
// shared by `worker` and `dev`.
func controlActivities(cfg config.Config, st *store.Store, m *metrics.Metrics) *activities.Activities {
	return &activities.Activities{
		Store:   st,
		Metrics: m,
		Clouds:  cloudRegistry(cfg, m),
		Agent:   activities.AgentConfig{Image: cfg.AgentImage, ServerURL: cfg.PublicURL},
	}
}
