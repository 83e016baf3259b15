package agent

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"time"

	"go.temporal.io/sdk/client"

	sdkworker "go.temporal.io/sdk/worker"

	"daestro/agent/executor"
	"daestro/internal/agentapi"
	"daestro/internal/metrics"
	"daestro/internal/temporalx"
	"daestro/internal/tracing"
)

// Version is the agent's version, reported to the server (set with -ldflags at release).
var Version = "dev"

// Agent is the process on a compute spawn: it registers, offers the host's
// capacity, polls the spawn's task queue and pings the server.
type Agent struct {
	cfg    Config
	log    *slog.Logger
	docker *Docker
	exec   *executor.Executor
	server *serverClient
	// tls verifies the server (system roots or DAESTRO_SERVER_CA_FILE);
	// tlsErr is why it could not be built, reported by Run.
	tls    *tls.Config
	tlsErr error
	// metrics receives the SDK's metrics; nil records none.
	metrics *metrics.Metrics
	// tracing traces the activities (their spans join the job's trace); nil traces none.
	tracing *tracing.Tracing
}

// New builds an agent; Run starts it. cfg is checked (ConfigFromEnv, or
// CheckTransport and TLS by the caller).
func New(cfg Config, log *slog.Logger, docker *Docker) *Agent {
	tlsConfig, tlsErr := cfg.TLS()
	return &Agent{cfg: cfg, log: log, docker: docker, tls: tlsConfig, tlsErr: tlsErr, server: newServerClient(cfg.ServerURL, cfg.AuthToken, tlsConfig),
		exec: executor.New(docker.Client(), executor.Options{Logger: log})}
}

// WithTelemetry has the agent's Temporal worker report the SDK's metrics to
// m and trace its activities with tr (either may be nil).
func (a *Agent) WithTelemetry(m *metrics.Metrics, tr *tracing.Tracing) *Agent {
	a.metrics, a.tracing = m, tr
	return a
}

// Run registers and serves until ctx ends (nil), the server asks the agent
// to stop (nil), or the server rejects the token (an ErrRejected error).
func (a *Agent) Run(ctx context.Context) error {
	if err := a.cfg.CheckTransport(); err != nil {
		return err
	}
	if a.tlsErr != nil {
		return a.tlsErr
	}
	cpu, mem, err := a.exec.HostCapacity(ctx)
	if err != nil {
		return err
	}
	host := Capacity{CPUPct: cpu, MemoryMB: mem}
	hostname, _ := os.Hostname()
	bootstrapSum := sha256.Sum256([]byte(a.cfg.AuthToken))
	bootstrapHex := hex.EncodeToString(bootstrapSum[:])
	if id, ok := a.loadIdentity(); ok && id.BootstrapSHA256 == bootstrapHex && id.Credential != "" {
		a.server.useToken(id.Credential)
	}
	reg, err := a.register(ctx, agentapi.RegisterRequest{
		AgentVersion: Version, Hostname: hostname, HostCPUPct: host.CPUPct, HostMemoryMB: host.MemoryMB,
	})
	if err != nil {
		return err
	}
	if reg.Credential != "" {
		// Saved before it is used: a crash now must not strand the spawn
		// with a spent bootstrap token and a lost credential.
		if err := a.saveIdentity(identity{SpawnID: reg.SpawnID, BootstrapSHA256: bootstrapHex, Credential: reg.Credential, RegisteredAt: time.Now().UTC()}); err != nil {
			return err
		}
		a.server.useToken(reg.Credential)
	}
	offer := offeredCapacity(host, reg.UsableCPUPct, reg.UsableMemoryMB, a.cfg)
	log := a.log.With("spawn_id", reg.SpawnID, "task_queue", reg.TaskQueue)
	log.Info("registered", "cpu_pct", offer.CPUPct, "memory_mb", offer.MemoryMB, "gateway", a.cfg.ServerURL)

	gw, err := a.gatewayOptions(reg.Gateway)
	if err != nil {
		return err
	}
	gw.Metrics, gw.Interceptors = a.metrics.Temporal(), a.tracing.TemporalInterceptors()
	tc, err := temporalx.Dial(ctx, gw)
	if err != nil {
		return err
	}
	defer tc.Close()
	// Activities only: the gateway lets an agent poll nothing but its activity queue.
	w := sdkworker.New(tc, reg.TaskQueue, sdkworker.Options{DisableWorkflowWorker: true})
	w.RegisterActivity(&Activities{docker: a.docker, capacity: offer, host: host, exec: a.exec, server: a.server,
		newSink: func() executor.Sink { return newHTTPSink(a.server) }})
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker on %s: %w", reg.TaskQueue, err)
	}
	defer w.Stop()

	go a.reapLoop(ctx, log, reg.SpawnID)

	interval := time.Duration(reg.PingIntervalSeconds) * time.Second
	if a.cfg.PingInterval > 0 {
		interval = a.cfg.PingInterval
	}
	if interval <= 0 {
		interval = 10 * time.Second
	}
	return a.pingLoop(ctx, log, interval, offer)
}

// gatewayOptions connect the worker to the server's Temporal gateway: the
// host and port of the server URL, TLS exactly when it is https, the
// agent's credential on every call.
func (a *Agent) gatewayOptions(gw agentapi.Gateway) (temporalx.Options, error) {
	u, err := url.Parse(a.cfg.ServerURL)
	if err != nil {
		return temporalx.Options{}, fmt.Errorf("%s: %w", EnvServerURL, err)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
	}
	o := temporalx.Options{Address: net.JoinHostPort(u.Hostname(), port), Namespace: gw.Namespace, Logger: a.log}
	o.Base.Credentials = client.NewAPIKeyDynamicCredentials(func(context.Context) (string, error) { return a.server.currentToken(), nil })
	if u.Scheme == "https" {
		tc := a.tls.Clone()
		tc.ServerName = u.Hostname()
		o.Base.ConnectionOptions.TLS = tc
	} else {
		o.Base.ConnectionOptions.TLSDisabled = true
	}
	return o, nil
}

// register retries transient failures (the server restarting, a network
// blip) until ctx ends; a rejected token ends it at once.
func (a *Agent) register(ctx context.Context, in agentapi.RegisterRequest) (agentapi.RegisterResponse, error) {
	backoff := time.Second
	for {
		reg, err := a.server.register(ctx, in)
		if err == nil {
			return reg, nil
		}
		if errors.Is(err, ErrRejected) {
			return reg, fmt.Errorf("register: %w", err)
		}
		a.log.Warn("register failed, retrying", "error", err, "in", backoff)
		select {
		case <-ctx.Done():
			return reg, fmt.Errorf("register: %w (last error: %v)", ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// pingLoop reports liveness and capacity until told to stop.
func (a *Agent) pingLoop(ctx context.Context, log *slog.Logger, interval time.Duration, offer Capacity) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		resp, err := a.server.ping(ctx, agentapi.PingRequest{
			AgentVersion: Version, CapacityCPUPct: offer.CPUPct, CapacityMemoryMB: offer.MemoryMB, RunningRuns: a.exec.ActiveRuns(),
		})
		switch {
		case errors.Is(err, ErrSpawnEnded):
			log.Info("the spawn ended; stopping", "reason", err.Error())
			return nil
		case errors.Is(err, ErrRejected):
			return fmt.Errorf("ping: %w", err)
		case err != nil && ctx.Err() == nil:
			log.Warn("ping failed; the spawn turns unreachable if this lasts", "error", err)
		case err == nil && resp.Terminate:
			log.Info("the server terminated this spawn; stopping")
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
