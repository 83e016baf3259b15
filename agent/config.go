package agent

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"daestro/internal/agentapi"
)

// Environment variables of the agent; the `docker run` line the server hands
// out for a spawn sets the first two.
const (
	EnvAuthToken = agentapi.EnvAuthToken
	EnvServerURL = agentapi.EnvServerURL
	EnvStateDir  = "DAESTRO_AGENT_STATE_DIR"
	EnvCPUPct    = "DAESTRO_AGENT_CPU_PCT"
	EnvMemoryMB  = "DAESTRO_AGENT_MEMORY_MB"
)

// DefaultStateDir is where the agent keeps its identity (a volume in the agent image).
const DefaultStateDir = "/var/lib/daestro-agent"

// Config is what the agent is started with.
type Config struct {
	// AuthToken is the spawn's agent token (dsa_…), shown once when the spawn was created.
	AuthToken string
	// ServerURL is the daestro API the agent registers and pings with.
	ServerURL string
	// StateDir keeps the agent's identity between restarts.
	StateDir string
	// CPUPct and MemoryMB, when > 0, cap the capacity the agent offers
	// (100 = one core), below what the host and the compute env allow.
	CPUPct   int
	MemoryMB int
	// PingInterval overrides the server's ping interval (tests).
	PingInterval time.Duration
}

// ConfigFromEnv reads the agent's environment and reports every bad variable by name.
func ConfigFromEnv() (Config, error) {
	cfg := Config{
		AuthToken: strings.TrimSpace(os.Getenv(EnvAuthToken)),
		ServerURL: strings.TrimRight(strings.TrimSpace(os.Getenv(EnvServerURL)), "/"),
		StateDir:  strings.TrimSpace(os.Getenv(EnvStateDir)),
	}
	if cfg.StateDir == "" {
		cfg.StateDir = DefaultStateDir
	}
	var errs []error
	if cfg.AuthToken == "" {
		errs = append(errs, fmt.Errorf("%s: not set; it is the agent token shown when the compute spawn was created", EnvAuthToken))
	}
	if u, err := url.Parse(cfg.ServerURL); cfg.ServerURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("%s: %q is not the http(s) URL of the daestro server", EnvServerURL, cfg.ServerURL))
	}
	for _, v := range []struct {
		name string
		dst  *int
		min  int
	}{{EnvCPUPct, &cfg.CPUPct, 10}, {EnvMemoryMB, &cfg.MemoryMB, 6}} {
		raw := strings.TrimSpace(os.Getenv(v.name))
		if raw == "" {
			continue
		}
		n, err := strconv.Atoi(raw)
		if err != nil || n < v.min {
			errs = append(errs, fmt.Errorf("%s: %q must be a whole number of at least %d", v.name, raw, v.min))
			continue
		}
		*v.dst = n
	}
	return cfg, errors.Join(errs...)
}
