package agent

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"go.temporal.io/sdk/client"

	sdkworker "go.temporal.io/sdk/worker"

	"daestro/agent/executor"
	"daestro/internal/agentapi"
	"daestro/internal/temporalx"
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
	// tls verifies the server (system roots or DAESTRO_SERVER_CA_FILE).
	tls *tls.Config
}

// New builds an agent; Run starts it. cfg is checked (ConfigFromEnv, or
// CheckTransport and TLS by the caller).
func New(cfg Config, log *slog.Logger, docker *Docker) *Agent {
	tlsConfig, _ := cfg.TLS()
	return &Agent{cfg: cfg, log: log, docker: docker, tls: tlsConfig, server: newServerClient(cfg.ServerURL, cfg.AuthToken, tlsConfig),
		exec: executor.New(docker.Client(), executor.Options{Logger: log})}
}

// identity is what the agent keeps in its state dir between restarts: the
// credential its bootstrap token was exchanged for. A restarted agent
// registers with the credential; an agent started with another bootstrap
// token (a new spawn on the same volume) exchanges that one instead.
type identity struct {
	// SpawnID is the spawn the credential belongs to.
	SpawnID string `json:"spawn_id"`
	// BootstrapSHA256 is the hex SHA-256 of the bootstrap token that was exchanged.
	BootstrapSHA256 string `json:"bootstrap_sha256"`
	// Credential is the agent's own token.
	Credential string `json:"credential"`
	// RegisteredAt is when the exchange happened.
	RegisteredAt time.Time `json:"registered_at"`
}

// Run registers and serves until ctx ends (nil), the server asks the agent
// to stop (nil), or the server rejects the token (an ErrRejected error).
func (a *Agent) Run(ctx context.Context) error {
	if err := a.cfg.CheckTransport(); err != nil {
		return err
	}
	if a.tls == nil {
		if _, err := a.cfg.TLS(); err != nil {
			return err
		}
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
	tc, err := temporalx.Dial(ctx, gw)
	if err != nil {
		return err
	}
	defer tc.Close()
	// Activities only: the gateway lets an agent poll nothing but its activity queue.
	w := sdkworker.New(tc, reg.TaskQueue, sdkworker.Options{DisableWorkflowWorker: true})
	w.RegisterActivity(&Activities{docker: a.docker, capacity: offer, exec: a.exec, server: a.server,
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
			AgentVersion: Version, CapacityCPUPct: offer.CPUPct, CapacityMemoryMB: offer.MemoryMB, RunningRuns: []string{},
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

// Dangling run containers — labelled by daestro, no run of this agent
// attached to them — are removed once older than reapAfter: long enough for
// a retried activity to re-attach to its container after an agent restart.
const (
	reapEvery = 5 * time.Minute
	reapAfter = 15 * time.Minute
)

// reapLoop removes dangling run containers until ctx ends. The executor
// never reaps a run it is executing, so no run of this agent is lost.
func (a *Agent) reapLoop(ctx context.Context, log *slog.Logger, spawnID string) {
	t := time.NewTicker(reapEvery)
	defer t.Stop()
	for {
		removed, err := a.exec.ReapDangling(ctx, map[string]string{LabelSpawnID: spawnID}, a.runIsLive, reapAfter)
		if err != nil && ctx.Err() == nil {
			log.Warn("reaping dangling containers failed", "error", err)
		}
		if len(removed) > 0 {
			log.Info("removed dangling run containers", "containers", removed)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// runIsLive keeps a container unless the server says its run is over (or
// is not this spawn's): a container is never reaped on a guess, and a
// server that cannot answer keeps everything until the next round.
func (a *Agent) runIsLive(runID string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := a.server.runSpec(ctx, runID)
	return !errors.Is(err, ErrRejected)
}

func (a *Agent) saveIdentity(id identity) error {
	if err := os.MkdirAll(a.cfg.StateDir, 0o700); err != nil {
		return fmt.Errorf("state dir %s (%s): %w", a.cfg.StateDir, EnvStateDir, err)
	}
	b, _ := json.MarshalIndent(id, "", "  ")
	tmp := filepath.Join(a.cfg.StateDir, "identity.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write identity: %w", err)
	}
	return os.Rename(tmp, filepath.Join(a.cfg.StateDir, "identity.json"))
}

// loadIdentity reads the saved identity; ok is false when there is none.
func (a *Agent) loadIdentity() (identity, bool) {
	var id identity
	b, err := os.ReadFile(filepath.Join(a.cfg.StateDir, "identity.json"))
	if err != nil || json.Unmarshal(b, &id) != nil {
		return identity{}, false
	}
	return id, true
}

// Capacity is what a spawn offers jobs: CPU in percent of a core (100 = one
// core, the quota's scale) and memory in MB.
type Capacity struct {
	CPUPct   int `json:"cpu_pct"`
	MemoryMB int `json:"memory_mb"`
}

// offeredCapacity caps the host's capacity by the compute env's usable
// share (a percentage of the host's CPU, an absolute memory) and by the
// agent's own overrides.
func offeredCapacity(host Capacity, usableCPUPct, usableMemoryMB *int, cfg Config) Capacity {
	c := host
	if usableCPUPct != nil && *usableCPUPct > 0 {
		c.CPUPct = host.CPUPct * *usableCPUPct / 100
	}
	if usableMemoryMB != nil && *usableMemoryMB > 0 {
		c.MemoryMB = min(c.MemoryMB, *usableMemoryMB)
	}
	if cfg.CPUPct > 0 {
		c.CPUPct = min(c.CPUPct, cfg.CPUPct)
	}
	if cfg.MemoryMB > 0 {
		c.MemoryMB = min(c.MemoryMB, cfg.MemoryMB)
	}
	return c
}

// Activities run on the spawn's own task queue.
type Activities struct {
	docker *Docker
	// capacity is what the spawn offers: an oversize job's quota is capped to it.
	capacity Capacity
	exec     *executor.Executor
	server   *serverClient
	// newSink ships a run's logs and metrics to the server.
	newSink func() executor.Sink
}
