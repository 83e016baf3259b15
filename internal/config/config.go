// Package config reads daestro's settings from environment variables, applies
// defaults and validates them once at start-up, so a bad value stops the
// process with a sentence naming the variable instead of failing later.
package config

import (
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
	EnvAgentTemporalAddr = "DAESTRO_AGENT_TEMPORAL_ADDRESS"
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
	// AgentImage is the agent's Docker image, put in the `docker run` line a
	// new self-hosted spawn answers with.
	AgentImage string
	// AgentTemporalAddress is the Temporal frontend as agents reach it, handed
	// out at registration; TemporalAddress when unset (agents on the same
	// network as the server).
	AgentTemporalAddress string
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
	cfg.AgentTemporalAddress = get(EnvAgentTemporalAddr, cfg.TemporalAddress)

	if u, err := url.Parse(cfg.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		bad(EnvDatabaseURL, "%q is not a postgres:// URL (example: %s)", redact(cfg.DatabaseURL), DefaultDatabaseURL)
	}
	if _, port, err := net.SplitHostPort(cfg.TemporalAddress); err != nil || port == "" {
		bad(EnvTemporalAddress, "%q is not host:port (example: %s)", cfg.TemporalAddress, DefaultTemporalAddress)
	}
	// Checked only when set: a derived address is TEMPORAL_ADDRESS, already checked.
	if _, port, err := net.SplitHostPort(cfg.AgentTemporalAddress); get(EnvAgentTemporalAddr, "") != "" && (err != nil || port == "") {
		bad(EnvAgentTemporalAddr, "%q is not host:port as agents reach Temporal (example: temporal.example.com:7233)", cfg.AgentTemporalAddress)
	}
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
		cfg.PublicURL = publicURLFor(cfg.HTTPAddr)
	}
	return cfg, errors.Join(errs...)
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
func publicURLFor(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
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
