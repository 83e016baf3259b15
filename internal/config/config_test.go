package config_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/config"
)

func lookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaults(t *testing.T) {
	cfg, err := config.Load(lookup(nil))
	require.NoError(t, err)
	assert.Equal(t, config.DefaultDatabaseURL, cfg.DatabaseURL)
	assert.Equal(t, config.DefaultTemporalAddress, cfg.TemporalAddress)
	assert.Equal(t, "default", cfg.TemporalNamespace)
	assert.Equal(t, "http://127.0.0.1:8080", cfg.PublicURL)
	assert.Equal(t, "json", cfg.LogFormat)
	assert.True(t, cfg.MigrateOnStart)
	assert.Equal(t, 30*time.Second, cfg.ShutdownTimeout)
	assert.Equal(t, "ubuntu:24.04", cfg.BashImage)
	assert.Equal(t, "daestro-agent:latest", cfg.AgentImage)
	assert.Nil(t, cfg.MasterKey)
	assert.ErrorContains(t, cfg.RequireMasterKey(), "DAESTRO_MASTER_KEY: not set")
}

func TestMasterKeyForms(t *testing.T) {
	raw := make([]byte, 32)
	for i := range raw {
		raw[i] = byte(i)
	}
	for name, in := range map[string]string{
		"base64": base64.StdEncoding.EncodeToString(raw),
		"hex":    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := config.Load(lookup(map[string]string{config.EnvMasterKey: in}))
			require.NoError(t, err)
			assert.Equal(t, raw, cfg.MasterKey)
			assert.NoError(t, cfg.RequireMasterKey())
		})
	}
}

// Every invalid variable is reported at once, each by name with what is wrong.
func TestInvalidValuesNameTheVariable(t *testing.T) {
	tests := []struct {
		env, value, want string
	}{
		{config.EnvDatabaseURL, "mysql://x", "DAESTRO_DATABASE_URL: \"mysql://x\" is not a postgres:// URL"},
		{config.EnvTemporalAddress, "localhost", "TEMPORAL_ADDRESS: \"localhost\" is not host:port"},
		{config.EnvHTTPAddr, "8080", "DAESTRO_HTTP_ADDR: \"8080\" is not a listen address"},
		{config.EnvPublicURL, "ftp://x", "DAESTRO_PUBLIC_URL: \"ftp://x\" is not an http(s) URL"},
		{config.EnvLogFormat, "xml", "DAESTRO_LOG_FORMAT: \"xml\" is not one of json, text"},
		{config.EnvLogLevel, "loud", "DAESTRO_LOG_LEVEL: \"loud\" is not one of debug, info, warn, error"},
		{config.EnvMigrateOnStart, "maybe", "DAESTRO_MIGRATE_ON_START: \"maybe\" is not true or false"},
		{config.EnvShutdownTimeout, "-1s", "DAESTRO_SHUTDOWN_TIMEOUT: \"-1s\" is not a positive duration"},
		{config.EnvMasterKey, base64.StdEncoding.EncodeToString([]byte("short")), "DAESTRO_MASTER_KEY: decodes to 5 bytes, want 32"},
		{config.EnvMasterKey, "not base64!", "DAESTRO_MASTER_KEY: is neither base64 nor hex"},
		{config.EnvRunLogCapMB, "0", "DAESTRO_RUN_LOG_CAP_MB: \"0\" must be a whole number of MiB, at least 1"},
		{config.EnvAgentImage, "daestro agent", "DAESTRO_AGENT_IMAGE: \"daestro agent\" is not a Docker image reference"},
		{config.EnvMetricsAddr, "9464", "DAESTRO_METRICS_ADDR: \"9464\" is not a listen address like 127.0.0.1:9464 (or off)"},
	}
	for _, tt := range tests {
		t.Run(tt.env+"="+tt.value, func(t *testing.T) {
			_, err := config.Load(lookup(map[string]string{tt.env: tt.value}))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}

	_, err := config.Load(lookup(map[string]string{config.EnvLogFormat: "xml", config.EnvHTTPAddr: "x"}))
	require.Error(t, err)
	assert.Equal(t, 2, strings.Count(err.Error(), "\n")+1, "both problems reported: %v", err)
}

func TestPasswordIsRedactedInErrors(t *testing.T) {
	_, err := config.Load(lookup(map[string]string{config.EnvDatabaseURL: "mysql://u:hunter2@h/db"}))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2")
}

func TestTransportRules(t *testing.T) {
	cfg, err := config.Load(lookup(map[string]string{config.EnvHTTPAddr: ":8080"}))
	require.NoError(t, err)
	assert.ErrorContains(t, cfg.CheckTransport(), "DAESTRO_HTTP_ADDR: :8080 listens beyond loopback in plain HTTP", "all interfaces without TLS")
	for _, ok := range []map[string]string{
		{config.EnvHTTPAddr: "127.0.0.1:8080"},
		{config.EnvHTTPAddr: "[::1]:8080"},
		{config.EnvHTTPAddr: "localhost:8080"},
		{config.EnvHTTPAddr: ":8080", config.EnvAllowInsecure: "true"},
		{config.EnvHTTPAddr: ":8080", config.EnvTLSCertFile: "c.pem", config.EnvTLSKeyFile: "k.pem"},
	} {
		cfg, err := config.Load(lookup(ok))
		require.NoError(t, err)
		assert.NoError(t, cfg.CheckTransport(), "%v", ok)
	}
	cfg, err = config.Load(lookup(map[string]string{config.EnvHTTPAddr: "0.0.0.0:8443", config.EnvTLSCertFile: "c.pem", config.EnvTLSKeyFile: "k.pem"}))
	require.NoError(t, err)
	assert.Equal(t, "https://127.0.0.1:8443", cfg.PublicURL, "with a certificate the derived URL is https")

	_, err = config.Load(lookup(map[string]string{config.EnvTLSCertFile: "c.pem"}))
	assert.ErrorContains(t, err, "DAESTRO_TLS_CERT_FILE and DAESTRO_TLS_KEY_FILE go together")
	_, err = config.Load(lookup(map[string]string{config.EnvEnableLocalDocker: "maybe"}))
	assert.ErrorContains(t, err, `DAESTRO_ENABLE_LOCALDOCKER: "maybe" is not true or false`)

	cfg, err = config.Load(lookup(map[string]string{"TEMPORAL_API_KEY": "tk_123", "TEMPORAL_TLS_SERVER_NAME": "ns.tmprl.cloud"}))
	require.NoError(t, err)
	assert.NotNil(t, cfg.Temporal.Credentials, "TEMPORAL_API_KEY reaches the client options (Temporal Cloud)")
	require.NotNil(t, cfg.Temporal.ConnectionOptions.TLS)
	assert.Equal(t, "ns.tmprl.cloud", cfg.Temporal.ConnectionOptions.TLS.ServerName)
}

// The metrics listener is off unless asked for; "off" says so explicitly.
func TestMetricsAddr(t *testing.T) {
	for in, want := range map[string]string{"": "", "off": "", "OFF": "", "127.0.0.1:9464": "127.0.0.1:9464", ":9464": ":9464"} {
		got, err := config.MetricsAddr(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	cfg, err := config.Load(lookup(map[string]string{}))
	require.NoError(t, err)
	assert.Empty(t, cfg.MetricsAddr, "off by default")
}
