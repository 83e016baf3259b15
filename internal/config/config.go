// Package config reads daestro's settings from environment variables, applies
// defaults and validates them once at start-up, so a bad value stops the
// process with a sentence naming the variable instead of failing later.
package config

import (
	"crypto/tls"
	"daestro/internal/contract"

	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
)

// Environment variable names. They cross the process boundary (README,
// Dockerfile, scripts), so they are constants in one place.
const (
	EnvDatabaseURL       = "DAESTRO_DATABASE_URL"
	EnvTemporalAddress   = "TEMPORAL_ADDRESS"
	EnvTemporalNamespace = "TEMPORAL_NAMESPACE"
	EnvTemporalUIURL     = "DAESTRO_TEMPORAL_UI_URL"
	EnvHTTPAddr          = "DAESTRO_HTTP_ADDR"
	EnvPublicURL         = "DAESTRO_PUBLIC_URL"
	EnvMasterKey         = "DAESTRO_MASTER_KEY"
	EnvOldMasterKeys     = "DAESTRO_OLD_MASTER_KEYS"
	EnvLogFormat         = "DAESTRO_LOG_FORMAT"
	EnvLogLevel          = "DAESTRO_LOG_LEVEL"
	EnvMigrateOnStart    = "DAESTRO_MIGRATE_ON_START"
	EnvBashImage         = "DAESTRO_BASH_IMAGE"
	EnvShutdownTimeout   = "DAESTRO_SHUTDOWN_TIMEOUT"
	EnvAgentImage        = "DAESTRO_AGENT_IMAGE"
	EnvTLSCertFile       = "DAESTRO_TLS_CERT_FILE"
	EnvTLSKeyFile        = "DAESTRO_TLS_KEY_FILE"
	EnvAllowInsecure     = "DAESTRO_ALLOW_INSECURE"
	EnvEnableLocalDocker = "DAESTRO_ENABLE_LOCALDOCKER"
	EnvRunLogCapMB       = "DAESTRO_RUN_LOG_CAP_MB"
	EnvSpawnUnreachable  = "DAESTRO_SPAWN_UNREACHABLE_AFTER"
	EnvControlTaskQueue  = "DAESTRO_CONTROL_TASK_QUEUE"
	EnvMetricsAddr       = "DAESTRO_METRICS_ADDR"
	EnvMetricsToken      = "DAESTRO_METRICS_TOKEN"
)

// MasterKeySize is the length in bytes of the AES-256 key that encrypts secrets at rest.
const MasterKeySize = 32

// Config is every setting a daestro process reads. Each role uses the part it needs.
type Config struct {
	// DatabaseURL is the Postgres connection string (pgx syntax).
	DatabaseURL string
	// TemporalAddress is host:port of the Temporal frontend.
	TemporalAddress string
	// TemporalNamespace is the Temporal namespace every workflow lives in.
	TemporalNamespace string
	// TemporalUIURL is where the Temporal Web UI answers; only printed, never dialled.
	TemporalUIURL string
	// HTTPAddr is the listen address of the REST API.
	HTTPAddr string
	// PublicURL is the URL agents and users reach the API at; derived from HTTPAddr when empty.
	PublicURL string
	// MasterKey is the 32-byte AES-256-GCM key for secrets at rest; nil when unset.
	MasterKey []byte
	// OldMasterKeys are previous master keys, still accepted for reading
	// while `daestro admin rotate-key` re-encrypts under MasterKey.
	OldMasterKeys [][]byte
	// LogFormat is "json" (production) or "text" (development).
	LogFormat string
	// LogLevel is the minimum level logged.
	LogLevel slog.Level
	// MigrateOnStart makes `server` and `worker` apply pending migrations before serving.
	MigrateOnStart bool
	// BashImage is the image bash-script job definitions run in.
	BashImage string
	// ShutdownTimeout bounds how long a graceful stop may take.
	ShutdownTimeout time.Duration
	// SpawnUnreachableAfter is how long a spawn may go without a ping
	// before it is unreachable and its started runs are interrupted.
	SpawnUnreachableAfter time.Duration
	// ControlTaskQueue is the Temporal task queue of the control plane's
	// workflows (contract.ControlTaskQueue unless set: systems sharing one
	// Temporal namespace, such as test runs, each need their own).
	ControlTaskQueue string
	// AgentImage is the agent's Docker image, put in the `docker run` line a
	// new self-hosted spawn answers with.
	AgentImage string
	// TLSCertFile and TLSKeyFile are the PEM certificate chain and key the
	// API and the agent gateway serve TLS with; both or neither.
	TLSCertFile, TLSKeyFile string
	// AllowInsecure lets the API serve plain HTTP on an address that is not
	// loopback (behind a TLS-terminating proxy the operator trusts).
	AllowInsecure bool
	// RunLogCapMB bounds one run's stored log; later lines are dropped after one line that says so.
	RunLogCapMB int
	// Dev is set by `daestro dev` (never from the environment): developer
	// conveniences such as privileged jobs on localdocker spawns are on.
	Dev bool
	// EnableLocalDocker offers the localdocker provider outside `daestro dev`:
	// its "machines" are containers on the control plane's own Docker engine.
	EnableLocalDocker bool
	// MetricsAddr is the host:port `worker` serves /metrics on; empty is off
	// (`server` serves /metrics on its API listener).
	MetricsAddr string
	// MetricsToken lets a scraper off loopback read the server's /metrics
	// with `Authorization: Bearer <token>`; empty allows loopback only.
	MetricsToken string
	// Temporal is how server and worker connect to Temporal beyond address
	// and namespace: TLS/mTLS and API key from the SDK's envconfig variables
	// (TEMPORAL_TLS, TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH,
	// TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_TLS_SERVER_NAME, TEMPORAL_API_KEY…).
	Temporal client.Options
}

// Defaults match the project's own service scripts (scripts/postgres.sh, scripts/temporal.sh).
const (
	DefaultDatabaseURL       = "postgres://postgres@127.0.0.1:55432/daestro?sslmode=disable"
	DefaultTemporalAddress   = "127.0.0.1:7233"
	DefaultTemporalNamespace = "default"
	DefaultHTTPAddr          = "127.0.0.1:8080"
	DefaultBashImage         = "ubuntu:24.04"
	DefaultAgentImage        = "daestro-agent:latest"
)

// MetricsAddr checks a DAESTRO_METRICS_ADDR value: empty or "off" is off
// (""), anything else must be host:port. Shared with the agent's config.
func MetricsAddr(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" || strings.EqualFold(v, "off") {
		return "", nil
	}
	if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
		return "", fmt.Errorf("%q is not a listen address like 127.0.0.1:9464 (or off)", v)
	}
	return v, nil
}

// FromEnv reads the configuration from the process environment.
func FromEnv() (Config, error) { return Load(os.LookupEnv) }

// Load reads the configuration through lookup (os.LookupEnv in production, a
// map in tests) and reports every invalid variable at once.
func Load(lookup func(string) (string, bool)) (Config, error) {
	get := func(name, def string) string {
		if v, ok := lookup(name); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		return def
	}
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}

	cfg := Config{
		DatabaseURL:       get(EnvDatabaseURL, DefaultDatabaseURL),
		TemporalAddress:   get(EnvTemporalAddress, DefaultTemporalAddress),
		TemporalNamespace: get(EnvTemporalNamespace, DefaultTemporalNamespace),
		TemporalUIURL:     get(EnvTemporalUIURL, ""),
		HTTPAddr:          get(EnvHTTPAddr, DefaultHTTPAddr),
		PublicURL:         strings.TrimRight(get(EnvPublicURL, ""), "/"),
		LogFormat:         get(EnvLogFormat, "json"),
		BashImage:         get(EnvBashImage, DefaultBashImage),
		AgentImage:        get(EnvAgentImage, DefaultAgentImage),
	}
	cfg.TLSCertFile, cfg.TLSKeyFile = get(EnvTLSCertFile, ""), get(EnvTLSKeyFile, "")
	cfg.MetricsToken = get(EnvMetricsToken, "")
	if addr, err := MetricsAddr(get(EnvMetricsAddr, "")); err != nil {
		bad(EnvMetricsAddr, "%v", err)
	} else {
		cfg.MetricsAddr = addr
	}

	if u, err := url.Parse(cfg.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		bad(EnvDatabaseURL, "%q is not a postgres:// URL (example: %s)", redact(cfg.DatabaseURL), DefaultDatabaseURL)
	}
	if _, port, err := net.SplitHostPort(cfg.TemporalAddress); err != nil || port == "" {
		bad(EnvTemporalAddress, "%q is not host:port (example: %s)", cfg.TemporalAddress, DefaultTemporalAddress)
	}
	if (cfg.TLSCertFile == "") != (cfg.TLSKeyFile == "") {
		bad(EnvTLSCertFile, "%s and %s go together: set both (PEM certificate chain and its key) or neither", EnvTLSCertFile, EnvTLSKeyFile)
	}
	for name, raw := range map[string]string{EnvAllowInsecure: get(EnvAllowInsecure, "false"), EnvEnableLocalDocker: get(EnvEnableLocalDocker, "false")} {
		v, err := strconv.ParseBool(raw)
		if err != nil {
			bad(name, "%q is not true or false", raw)
		}
		if name == EnvAllowInsecure {
			cfg.AllowInsecure = v
		} else {
			cfg.EnableLocalDocker = v
		}
	}
	capMB, err := strconv.Atoi(get(EnvRunLogCapMB, "100"))
	if err != nil || capMB < 1 {
		bad(EnvRunLogCapMB, "%q must be a whole number of MiB, at least 1", get(EnvRunLogCapMB, ""))
	}
	cfg.RunLogCapMB = capMB
	unreachable, err := time.ParseDuration(get(EnvSpawnUnreachable, "5m"))
	if err != nil || unreachable < 30*time.Second {
		bad(EnvSpawnUnreachable, "%q is not a duration of at least 30s (agents ping every 10 s), like 5m", get(EnvSpawnUnreachable, ""))
	}
	cfg.SpawnUnreachableAfter = unreachable
	cfg.ControlTaskQueue = get(EnvControlTaskQueue, contract.ControlTaskQueue)
	topts, err := envconfig.LoadClientOptions(envconfig.LoadClientOptionsRequest{EnvLookup: envLookup(lookup)})
	if err != nil {
		bad("TEMPORAL_*", "%v (see the SDK's environment configuration: TEMPORAL_TLS_*, TEMPORAL_API_KEY)", err)
	}
	// Address and namespace are daestro's own settings above (the same names).
	topts.HostPort, topts.Namespace = "", ""
	cfg.Temporal = topts
	if strings.ContainsAny(cfg.AgentImage, " \t\n'\"") {
		bad(EnvAgentImage, "%q is not a Docker image reference like daestro-agent:latest", cfg.AgentImage)
	}
	if _, _, err := net.SplitHostPort(cfg.HTTPAddr); err != nil {
		bad(EnvHTTPAddr, "%q is not a listen address like :8080 or 127.0.0.1:8080", cfg.HTTPAddr)
	}
	if cfg.PublicURL != "" {
		if u, err := url.Parse(cfg.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(EnvPublicURL, "%q is not an http(s) URL", cfg.PublicURL)
		}
	}
	switch cfg.LogFormat {
	case "json", "text":
	default:
		bad(EnvLogFormat, "%q is not one of json, text", cfg.LogFormat)
	}
	if err := cfg.LogLevel.UnmarshalText([]byte(get(EnvLogLevel, "info"))); err != nil {
		bad(EnvLogLevel, "%q is not one of debug, info, warn, error", get(EnvLogLevel, "info"))
	}
	migrate, err := strconv.ParseBool(get(EnvMigrateOnStart, "true"))
	if err != nil {
		bad(EnvMigrateOnStart, "%q is not true or false", get(EnvMigrateOnStart, ""))
	}
	cfg.MigrateOnStart = migrate
	timeout, err := time.ParseDuration(get(EnvShutdownTimeout, "30s"))
	if err != nil || timeout <= 0 {
		bad(EnvShutdownTimeout, "%q is not a positive duration like 30s", get(EnvShutdownTimeout, ""))
	}
	cfg.ShutdownTimeout = timeout
	if raw := get(EnvMasterKey, ""); raw != "" {
		key, err := ParseMasterKey(raw)
		if err != nil {
			bad(EnvMasterKey, "%v", err)
		}
		cfg.MasterKey = key
	}
	if raw := get(EnvOldMasterKeys, ""); raw != "" {
		for i, part := range strings.Split(raw, ",") {
			key, err := ParseMasterKey(part)
			if err != nil {
				bad(EnvOldMasterKeys, "key %d %v", i+1, err)
				continue
			}
			cfg.OldMasterKeys = append(cfg.OldMasterKeys, key)
		}
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = publicURLFor(cfg.HTTPAddr, cfg.TLSCertFile != "")
	}
	return cfg, errors.Join(errs...)
}

// envLookup adapts a lookup function to envconfig's interface.
type envLookup func(string) (string, bool)

func (l envLookup) LookupEnv(k string) (string, bool) { return l(k) }

// Environ lists nothing: daestro reads no TEMPORAL_GRPC_META_* headers.
func (l envLookup) Environ() []string { return nil }

// IsLoopbackHost reports whether host (a name or an IP, no port) is this
// machine: localhost, 127.0.0.0/8 or ::1.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckTransport refuses to serve the API and the agent gateway in plain
// HTTP anywhere but loopback, unless AllowInsecure says the network is trusted.
func (c Config) CheckTransport() error {
	if c.TLSCertFile != "" || c.AllowInsecure {
		return nil
	}
	host, _, _ := net.SplitHostPort(c.HTTPAddr)
	if IsLoopbackHost(host) {
		return nil
	}
	return fmt.Errorf("%s: %s listens beyond loopback in plain HTTP: API keys, agent credentials and job secrets would cross the network in clear; set %s and %s to serve TLS, or %s=true behind a TLS-terminating proxy you trust",
		EnvHTTPAddr, c.HTTPAddr, EnvTLSCertFile, EnvTLSKeyFile, EnvAllowInsecure)
}

// ServerTLS loads the API's certificate; nil when none is configured.
func (c Config) ServerTLS() (*tls.Config, error) {
	if c.TLSCertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("%s/%s: %w", EnvTLSCertFile, EnvTLSKeyFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}, nil
}

// RequireMasterKey reports a start-up error for roles that encrypt or decrypt secrets.
func (c Config) RequireMasterKey() error {
	if len(c.MasterKey) == 0 {
		return fmt.Errorf("%s: not set; generate one with `openssl rand -base64 32` (or `daestro admin gen-key`) and keep it safe: secrets stored under it cannot be read without it", EnvMasterKey)
	}
	return nil
}

// ParseMasterKey accepts a 32-byte key written as standard base64 or as 64 hex digits.
func ParseMasterKey(raw string) ([]byte, error) {
	raw = strings.TrimSpace(raw)
	if b, err := hex.DecodeString(raw); err == nil && len(raw) == 2*MasterKeySize {
		return b, nil
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("is neither base64 nor hex; generate a key with `openssl rand -base64 32`")
	}
	if len(b) != MasterKeySize {
		return nil, fmt.Errorf("decodes to %d bytes, want %d (AES-256); generate a key with `openssl rand -base64 32`", len(b), MasterKeySize)
	}
	return b, nil
}

// publicURLFor turns a listen address into a URL a local client can dial.
func publicURLFor(addr string, tls bool) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	scheme := "http://"
	if tls {
		scheme = "https://"
	}
	return scheme + net.JoinHostPort(host, port)
}

// redact hides a password in a database URL so it can be printed in an error.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
