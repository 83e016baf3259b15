package tracing_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/tracing"
)

// Traces are off unless an OTLP endpoint is named, and OTEL_TRACES_EXPORTER=none
// or OTEL_SDK_DISABLED=true turn them off again.
func TestTracingIsOffByDefault(t *testing.T) {
	for _, tt := range []struct {
		env  map[string]string
		want bool
	}{
		{map[string]string{}, false},
		{map[string]string{tracing.EnvEndpoint: "http://collector:4318"}, true},
		{map[string]string{tracing.EnvTracesEndpoint: "http://collector:4318/v1/traces"}, true},
		{map[string]string{tracing.EnvEndpoint: "http://collector:4318", tracing.EnvTracesExporter: "none"}, false},
		{map[string]string{tracing.EnvEndpoint: "http://collector:4318", tracing.EnvSDKDisabled: "true"}, false},
	} {
		assert.Equal(t, tt.want, tracing.Enabled(func(k string) string { return tt.env[k] }), "%v", tt.env)
	}
	tr, err := tracing.FromEnv(context.Background(), "test")
	require.NoError(t, err)
	assert.Nil(t, tr, "no endpoint in the test's environment: off")
	assert.Nil(t, tr.Tracer())
	assert.Nil(t, tr.TemporalInterceptors())
	assert.NoError(t, tr.Shutdown(context.Background()))
}

// An unknown protocol stops the process with the variable's name.
func TestUnknownProtocolIsRefused(t *testing.T) {
	t.Setenv(tracing.EnvEndpoint, "http://127.0.0.1:4318")
	t.Setenv(tracing.EnvProtocol, "http/json")
	_, err := tracing.FromEnv(context.Background(), "test")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "OTEL_EXPORTER_OTLP_PROTOCOL")
}
