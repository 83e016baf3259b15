package agent

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"daestro/internal/agentapi"
	"daestro/internal/config"
)

// Environment variables of the agent; the `docker run` line the server hands
// out for a spawn sets the first two.
const (
	EnvAuthToken = agentapi.EnvAuthToken
	EnvServerURL = agentapi.EnvServerURL
	EnvStateDir  = "DAESTRO_AGENT_STATE_DIR"
	EnvCPUPct    = "DAESTRO_AGENT_CPU_PCT"
	EnvMemoryMB  = "DAESTRO_AGENT_MEMORY_MB"
	// EnvServerCAFile names a PEM file of the CA that signed the server's
	// certificate, for servers whose certificate the system roots do not know.
	EnvServerCAFile = "DAESTRO_SERVER_CA_FILE"
	// EnvReapAfter is how old a dangling run container of this spawn must
	// be before the agent removes it (default 15m); tests shorten it to
	// stand for a long-running job.
	EnvReapAfter = "DAESTRO_AGENT_REAP_AFTER"
	// EnvMetricsAddr is where the agent serves /metrics (the server's
	// and worker's variable); off when unset.
	EnvMetricsAddr = config.EnvMetricsAddr
	// EnvAllowInsecure lets the agent speak plain http to a server that is
	// not on loopback (a network the operator trusts end to end).
	EnvAllowInsecure = config.EnvAllowInsecure
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
	// ServerCAFile is a PEM file of CAs to verify the server with instead of the system roots.
	ServerCAFile string
	// AllowInsecure permits plain http to a server off loopback.
	AllowInsecure bool
	// ReapAfter is the age of a dangling run container before it is
	// removed; 0 = DefaultReapAfter.
	ReapAfter time.Duration
	// MetricsAddr is the host:port the agent serves /metrics on; "" is off.
	MetricsAddr string
}

// TLS is the client TLS configuration the agent verifies the server with:
// the system roots, or the CAs of ServerCAFile.
func (c Config) TLS() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.ServerCAFile == "" {
		return tc, nil
	}
	pem, err := os.ReadFile(c.ServerCAFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvServerCAFile, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: %s holds no PEM certificate", EnvServerCAFile, c.ServerCAFile)
	}
	tc.RootCAs = pool
	return tc, nil
}

// CheckTransport refuses a plain-http server URL off loopback: the agent's
// credential, its tasks and the runs' secrets would cross the network in clear.
func (c Config) CheckTransport() error {
	u, err := url.Parse(c.ServerURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s: %q is not the http(s) URL of the daestro server", EnvServerURL, c.ServerURL)
	}
	if u.Scheme == "http" && !config.IsLoopbackHost(u.Hostname()) && !c.AllowInsecure {
		return fmt.Errorf("%s: %s is plain http to a host that is not loopback: the agent's credential and the jobs' secrets would cross the network in clear; use https:// (with %s for a private CA), or set %s=true on a network you trust end to end",
			EnvServerURL, c.ServerURL, EnvServerCAFile, EnvAllowInsecure)
	}
	return nil
}

// ConfigFromEnv reads the agent's environment and reports every bad variable by name.
func ConfigFromEnv() (Config, error) {
	cfg := Config{
		AuthToken: strings.TrimSpace(os.Getenv(EnvAuthToken)),
		ServerURL: strings.TrimRight(strings.TrimSpace(os.Getenv(EnvServerURL)), "/"),
		StateDir:  strings.TrimSpace(os.Getenv(EnvStateDir)),

		ServerCAFile: strings.TrimSpace(os.Getenv(EnvServerCAFile)),
	}
	if cfg.StateDir == "" {
		cfg.StateDir = DefaultStateDir
	}
	var errs []error
	if cfg.AuthToken == "" {
		errs = append(errs, fmt.Errorf("%s: not set; it is the agent token shown when the compute spawn was created", EnvAuthToken))
	}
	if raw := strings.TrimSpace(os.Getenv(EnvAllowInsecure)); raw != "" {
		v, err := strconv.ParseBool(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not true or false", EnvAllowInsecure, raw))
		}
		cfg.AllowInsecure = v
	}
	if raw := strings.TrimSpace(os.Getenv(EnvReapAfter)); raw != "" {
		d, err := time.ParseDuration(raw)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a positive duration such as 15m", EnvReapAfter, raw))
		}
		cfg.ReapAfter = d
	}
	if addr, err := config.MetricsAddr(os.Getenv(EnvMetricsAddr)); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", EnvMetricsAddr, err))
	} else {
		cfg.MetricsAddr = addr
	}
	if err := cfg.CheckTransport(); err != nil {
		errs = append(errs, err)
	}
	if _, err := cfg.TLS(); err != nil {
		errs = append(errs, err)
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
