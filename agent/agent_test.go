package agent

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/agentapi"
)

func pingRequest() agentapi.PingRequest { return agentapi.PingRequest{AgentVersion: "test"} }

func intp(n int) *int { return &n }

func TestOfferedCapacityCapsHostByEnvAndOverrides(t *testing.T) {
	host := Capacity{CPUPct: 800, MemoryMB: 16000}
	tests := []struct {
		name     string
		cpu, mem *int
		cfg      Config
		want     Capacity
	}{
		{"whole host", nil, nil, Config{}, host},
		{"env share", intp(400), intp(4000), Config{}, Capacity{CPUPct: 400, MemoryMB: 4000}},
		{"env cpu is percent of one core", intp(50), nil, Config{}, Capacity{CPUPct: 50, MemoryMB: 16000}},
		{"env cpu above host", intp(1600), nil, Config{}, host},
		{"env memory above host", nil, intp(64000), Config{}, host},
		{"override below env", intp(400), nil, Config{CPUPct: 150, MemoryMB: 512}, Capacity{CPUPct: 150, MemoryMB: 512}},
		{"override above env", intp(200), nil, Config{CPUPct: 700}, Capacity{CPUPct: 200, MemoryMB: 16000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, offeredCapacity(host, tt.cpu, tt.mem, tt.cfg))
		})
	}
}

func TestConfigFromEnvNamesEveryBadVariable(t *testing.T) {
	t.Setenv(EnvAuthToken, "")
	t.Setenv(EnvServerURL, "ftp://x")
	t.Setenv(EnvCPUPct, "5")
	t.Setenv(EnvMemoryMB, "lots")
	_, err := ConfigFromEnv()
	require.Error(t, err)
	for _, want := range []string{EnvAuthToken + ": not set", EnvServerURL + `: "ftp://x"`, EnvCPUPct + `: "5" must be`, EnvMemoryMB + `: "lots"`} {
		assert.Contains(t, err.Error(), want)
	}

	t.Setenv(EnvAuthToken, "dsa_x_y")
	t.Setenv(EnvServerURL, "http://127.0.0.1:8080/")
	t.Setenv(EnvCPUPct, "")
	t.Setenv(EnvMemoryMB, "")
	cfg, err := ConfigFromEnv()
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:8080", cfg.ServerURL)
	assert.Equal(t, DefaultStateDir, cfg.StateDir)
}

// A token the server refuses ends the agent (it exits non-zero) instead of
// retrying forever; a server error is transient.
func TestServerClientTellsRejectionFromTrouble(t *testing.T) {
	status := http.StatusUnauthorized
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "Bearer dsa_token", r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"ok":false,"message":"agent token dsa_abc was revoked"}`))
	}))
	defer srv.Close()
	c := newServerClient(srv.URL, "dsa_token", nil)

	_, err := c.ping(context.Background(), pingRequest())
	require.ErrorIs(t, err, ErrRejected)
	assert.Contains(t, err.Error(), "agent token dsa_abc was revoked")

	status = http.StatusBadGateway
	_, err = c.ping(context.Background(), pingRequest())
	require.Error(t, err)
	assert.False(t, errors.Is(err, ErrRejected))
}

// Plain http is for loopback only: an agent pointed at a server across a
// network in clear refuses to start and says what to do, unless the
// operator says the network is trusted. Nothing is sent: the check runs
// before any request.
func TestAgentRefusesPlainHTTPOffLoopback(t *testing.T) {
	t.Setenv(EnvAuthToken, "dsa_x_y")
	for _, u := range []string{"http://daestro.example.com", "http://10.1.2.3:8080", "http://[fd00::1]:8080"} {
		t.Setenv(EnvServerURL, u)
		t.Setenv(EnvAllowInsecure, "")
		_, err := ConfigFromEnv()
		require.Error(t, err, u)
		assert.Contains(t, err.Error(), EnvServerURL+": "+u+" is plain http to a host that is not loopback")
		assert.Contains(t, err.Error(), "use https://")

		t.Setenv(EnvAllowInsecure, "true")
		_, err = ConfigFromEnv()
		assert.NoError(t, err, "%s with %s=true", u, EnvAllowInsecure)
	}
	t.Setenv(EnvAllowInsecure, "")
	for _, u := range []string{"http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080", "https://daestro.example.com"} {
		t.Setenv(EnvServerURL, u)
		_, err := ConfigFromEnv()
		assert.NoError(t, err, u)
	}

	t.Setenv(EnvServerURL, "https://daestro.example.com")
	t.Setenv(EnvServerCAFile, filepath.Join(t.TempDir(), "missing.pem"))
	_, err := ConfigFromEnv()
	assert.ErrorContains(t, err, EnvServerCAFile+": ")
	// Run checks too, for agents built without ConfigFromEnv (daestro dev's).
	err = New(Config{AuthToken: "dsa_x_y", ServerURL: "http://10.1.2.3:8080"}, slog.Default(), &Docker{}).Run(context.Background())
	assert.ErrorContains(t, err, "is plain http to a host that is not loopback")
}

// A job whose quota exceeds the spawn is placed alone on an empty spawn and
// runs with the whole of it (the product's rule), never refused.
func TestOversizeQuotaRunsCappedToTheSpawn(t *testing.T) {
	offer := Capacity{CPUPct: 200, MemoryMB: 1024}
	got := executorSpec(agentapi.RunSpec{RunID: "r", CPUQuotaPct: 6400, MemoryMB: 65536}, offer, offer)
	assert.Equal(t, 200, got.CPUQuotaPct)
	assert.Equal(t, 1024, got.MemoryMB)
	got = executorSpec(agentapi.RunSpec{RunID: "r", CPUQuotaPct: 50, MemoryMB: 64}, offer, offer)
	assert.Equal(t, 50, got.CPUQuotaPct, "a quota that fits is kept")
	assert.Equal(t, 64, got.MemoryMB)
	got = executorSpec(agentapi.RunSpec{RunID: "r"}, offer, offer)
	assert.Zero(t, got.CPUQuotaPct, "a job without quotas on a spawn that offers all of its machine stays without")
	assert.Zero(t, got.MemoryMB)
	got = executorSpec(agentapi.RunSpec{RunID: "r"}, offer, Capacity{CPUPct: 800, MemoryMB: 16384})
	assert.Equal(t, 200, got.CPUQuotaPct, "a job without quotas is held to what the spawn offers")
	assert.Equal(t, 1024, got.MemoryMB)
}
