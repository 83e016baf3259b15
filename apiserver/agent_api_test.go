package apiserver_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/mocks"

	"daestro/internal/agentapi"
	"daestro/internal/contract"
	"daestro/internal/domain"
	"daestro/internal/store"
)

// spawnWithMockedTemporal creates a spawn through the API of a server whose
// Temporal client is mocked, and returns it with its token.
func spawnWithMockedTemporal(t *testing.T) (*api, *mocks.Client, client, createdSpawn) {
	t.Helper()
	a, tc := mockedTemporalAPI(t)
	tc.On("ExecuteWorkflow", mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(&mocks.WorkflowRun{}, nil)
	c := a.newProject("acme")
	queueID, envID := selfHostedQueue(t, c, "etl")
	return a, tc, c, createSpawn(t, c, queueID, envID)
}

// pingSignals counts the ping signals the server sent to the spawn's workflow.
func pingSignals(tc *mocks.Client) int {
	n := 0
	for _, call := range tc.Calls {
		if call.Method == "SignalWorkflow" && call.Arguments.Get(3) == contract.SignalSpawnPing {
			n++
		}
	}
	return n
}

// setState moves the spawn as its workflow would.
func setState(t *testing.T, a *api, id, state string) {
	t.Helper()
	_, err := a.st.RecordSpawnTransition(context.Background(), store.SpawnTransition{SpawnID: id, State: state, Reason: "test", Key: "test/" + state + "/" + time.Now().String()})
	require.NoError(t, err)
}

func TestAgentTokenRefusalsSayWhy(t *testing.T) {
	t.Parallel()
	a, _, c, created := spawnWithMockedTemporal(t)
	prefix := created.AgentToken[:len("dsa_000000000000")]
	tests := []struct {
		name, header, want string
	}{
		{"missing", "", "missing Authorization header: send `Authorization: Bearer <agent token>` (the agent reads it from DAESTRO_AUTH_TOKEN)"},
		{"not bearer", "Basic " + created.AgentToken, "malformed Authorization header: expected `Bearer <agent token>`"},
		{"empty bearer", "Bearer ", "malformed Authorization header"},
		{"an API key", "Bearer " + c.key, "malformed agent token: expected dsa_<prefix>_<secret> as printed when the compute spawn was created"},
		{"no secret", "Bearer dsa_0123456789ab", "malformed agent token"},
		{"unknown prefix", "Bearer dsa_0123456789ab_" + strings.Repeat("x", 43), "unknown agent token dsa_0123456789ab…: check DAESTRO_AUTH_TOKEN for a typo, or create a new compute spawn for a new token"},
		{"wrong secret", "Bearer " + prefix + "_" + strings.Repeat("x", 43), "unknown agent token " + prefix + "…"},
	}
	for _, tt := range tests {
		for _, path := range []string{agentapi.PathRegister, agentapi.PathPing} {
			t.Run(tt.name+path, func(t *testing.T) {
				req, err := http.NewRequest(http.MethodPost, a.url+path, strings.NewReader(`{}`))
				require.NoError(t, err)
				if tt.header != "" {
					req.Header.Set("Authorization", tt.header)
				}
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				defer resp.Body.Close()
				var env response
				require.NoError(t, decodeJSON(resp.Body, &env))
				assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
				assert.Contains(t, env.Message, tt.want)
			})
		}
	}

	require.NoError(t, a.st.RevokeAgentTokens(context.Background(), created.Spawn.ID))
	r := a.agent(created.AgentToken).do(http.MethodPost, agentapi.PathPing, ping())
	assert.Equal(t, http.StatusUnauthorized, r.Status)
	assert.Regexp(t, `^agent token `+prefix+` was revoked at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(a newer agent registered for this spawn, or the spawn ended\): create a new compute spawn and start the agent with its token$`, r.Message)

	r = a.agent(created.AgentToken).do(http.MethodGet, "/v1/compute-spawns", nil)
	assert.Equal(t, http.StatusUnauthorized, r.Status, "an agent token is not an API key")
	assert.Contains(t, r.Message, "malformed API key")
}

func TestAgentRegisterAndPingValidation(t *testing.T) {
	t.Parallel()
	a, tc, c, created := spawnWithMockedTemporal(t)
	tc.On("SignalWorkflow", mock.Anything, mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(nil)
	agent := a.registeredAgent(created.AgentToken)
	tests := []struct {
		path string
		body any
		want string
	}{
		{agentapi.PathRegister, map[string]any{"agent_version": "1", "hostname": "h", "host_cpu_pct": 0, "host_memory_mb": 100}, "host_cpu_pct: 0 is out of range 1-2147483647 (100 per core)"},
		{agentapi.PathRegister, map[string]any{"agent_version": "1", "hostname": "h", "host_cpu_pct": 100}, "host_memory_mb: 0 is out of range"},
		{agentapi.PathRegister, map[string]any{"agent_version": "1", "hostname": strings.Repeat("h", 256), "host_cpu_pct": 100, "host_memory_mb": 100}, "hostname: is 256 bytes long; the limit is 255"},
		{agentapi.PathRegister, map[string]any{"agent_version": "1\n2", "hostname": "h", "host_cpu_pct": 100, "host_memory_mb": 100}, "agent_version: must not contain control characters"},
		{agentapi.PathRegister, `{"host_cpu_pct":"lots"}`, "host_cpu_pct: must be a whole number"},
		{agentapi.PathRegister, ``, "request body is empty"},
		{agentapi.PathPing, map[string]any{"capacity_cpu_pct": -1}, "capacity_cpu_pct: -1 is out of range"},
		{agentapi.PathPing, map[string]any{"capacity_memory_mb": -1}, "capacity_memory_mb: -1 is out of range"},
		{agentapi.PathPing, map[string]any{"running_runs": []string{"ok", ""}}, `running_runs[1]: "" is not a run ID`},
	}
	for _, tt := range tests {
		r := agent.do(http.MethodPost, tt.path, tt.body)
		assert.Equal(t, http.StatusBadRequest, r.Status, "%s %v: %s", tt.path, tt.body, r.Raw)
		assert.Contains(t, r.Message, tt.want)
	}
	assert.Nil(t, getSpawn(t, c, created.Spawn.ID).LastPingAt, "a rejected ping is not a sign of life")

	// A newer agent may send fields this server does not know yet.
	r := agent.do(http.MethodPost, agentapi.PathRegister, `{"agent_version":"9.0","hostname":"h","host_cpu_pct":100,"host_memory_mb":100,"gpus":2}`)
	assert.Equal(t, http.StatusOK, r.Status, r.Raw)
	r = agent.do(http.MethodPost, agentapi.PathPing, `{"agent_version":"9.0","capacity_cpu_pct":100,"capacity_memory_mb":100,"running_runs":[],"disk_free_mb":5}`)
	assert.Equal(t, http.StatusOK, r.Status, r.Raw)
}

// Pings land in Postgres; the workflow is signalled only when it waits for
// one: the first ping of an initialized spawn and a ping of an unreachable one.
func TestAgentPingSignalsOnlyOnChange(t *testing.T) {
	t.Parallel()
	a, tc, c, created := spawnWithMockedTemporal(t)
	tc.On("SignalWorkflow", mock.Anything, contract.SpawnWorkflowID(created.Spawn.ID), "", contract.SignalSpawnPing,
		contract.PingSignal{AgentVersion: "1.2.3"}).Return(nil)
	agent := a.registeredAgent(created.AgentToken)
	require.Equal(t, http.StatusOK, agent.do(http.MethodPost, agentapi.PathRegister, register).Status)
	assert.Equal(t, 0, pingSignals(tc), "registering signals nothing")

	pingAnswer(t, agent.do(http.MethodPost, agentapi.PathPing, ping()))
	assert.Equal(t, 1, pingSignals(tc), "the first ping wakes the workflow")
	pingAnswer(t, agent.do(http.MethodPost, agentapi.PathPing, ping()))
	assert.Equal(t, 1, pingSignals(tc), "a second ping before the workflow acted does not pile up signals")

	setState(t, a, created.Spawn.ID, domain.SpawnIdle)
	for range 5 {
		assert.Equal(t, agentapi.PingResponse{State: domain.SpawnIdle}, pingAnswer(t, agent.do(http.MethodPost, agentapi.PathPing, ping("run-1"))))
	}
	assert.Equal(t, 1, pingSignals(tc), "pings of a live spawn only land in Postgres")
	sp := getSpawn(t, c, created.Spawn.ID)
	require.NotNil(t, sp.LastPingAt)
	assert.WithinDuration(t, time.Now(), *sp.LastPingAt, time.Minute)
	var reported []string
	require.NoError(t, a.st.Pool.QueryRow(context.Background(), `SELECT reported_runs FROM compute_spawns WHERE id = $1`, created.Spawn.ID).Scan(&reported))
	assert.Equal(t, []string{}, reported, "run-1 is no run placed on this spawn: the agent's word for it is not kept (TestAgentReportedRunsAreOnlyItsOwn keeps one that is)")

	setState(t, a, created.Spawn.ID, domain.SpawnUnreachable)
	assert.Equal(t, domain.SpawnUnreachable, pingAnswer(t, agent.do(http.MethodPost, agentapi.PathPing, ping())).State)
	assert.Equal(t, 2, pingSignals(tc), "a ping of an unreachable spawn wakes the workflow")
	pingAnswer(t, agent.do(http.MethodPost, agentapi.PathPing, ping()))
	assert.Equal(t, 2, pingSignals(tc))
}

func TestAgentPingRetriesAFailedSignal(t *testing.T) {
	t.Parallel()
	a, tc, _, created := spawnWithMockedTemporal(t)
	tc.On("SignalWorkflow", mock.Anything, mock.Anything, mock.Anything, contract.SignalSpawnPing, mock.Anything).
		Return(serviceerror.NewUnavailable("connection refused")).Once()
	tc.On("SignalWorkflow", mock.Anything, mock.Anything, mock.Anything, contract.SignalSpawnPing, mock.Anything).Return(nil)
	agent := a.registeredAgent(created.AgentToken)

	assert.Equal(t, domain.SpawnInitialized, pingAnswer(t, agent.do(http.MethodPost, agentapi.PathPing, ping())).State,
		"the agent is not punished for Temporal being down: the ping is recorded")
	pingAnswer(t, agent.do(http.MethodPost, agentapi.PathPing, ping()))
	pingAnswer(t, agent.do(http.MethodPost, agentapi.PathPing, ping()))
	assert.Equal(t, 2, pingSignals(tc), "the ping after a failed signal signals again, then no more")
}

func TestAgentCapacityIsCappedByTheComputeEnv(t *testing.T) {
	t.Parallel()
	a, tc, c, created := spawnWithMockedTemporal(t)
	tc.On("SignalWorkflow", mock.Anything, mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(nil)
	agent := a.registeredAgent(created.AgentToken)

	// The environment allows four cores (400) and 4096 MB; an agent offering less is taken at its word.
	pingAnswer(t, agent.do(http.MethodPost, agentapi.PathPing, agentapi.PingRequest{CapacityCPUPct: 300, CapacityMemoryMB: 2048}))
	assert.Equal(t, domain.SpawnCapacity{TotalCPUPct: 300, TotalMemoryMB: 2048, FreeCPUPct: 300, FreeMemoryMB: 2048}, getSpawn(t, c, created.Spawn.ID).Capacity)
	pingAnswer(t, agent.do(http.MethodPost, agentapi.PathPing, agentapi.PingRequest{CapacityCPUPct: 800, CapacityMemoryMB: 15990}))
	assert.Equal(t, domain.SpawnCapacity{TotalCPUPct: 400, TotalMemoryMB: 4096, FreeCPUPct: 400, FreeMemoryMB: 4096}, getSpawn(t, c, created.Spawn.ID).Capacity)
}

func TestAgentOfATerminatedSpawn(t *testing.T) {
	t.Parallel()
	a, _, _, created := spawnWithMockedTemporal(t)
	agent := a.registeredAgent(created.AgentToken)

	// Terminating: pings are answered, so the agent learns it must stop; work is refused.
	setState(t, a, created.Spawn.ID, domain.SpawnTerminating)
	assert.Equal(t, agentapi.PingResponse{State: domain.SpawnTerminating, Terminate: true}, pingAnswer(t, agent.do(http.MethodPost, agentapi.PathPing, ping())))
	r := agent.do(http.MethodPost, agentapi.PathRegister, register)
	assert.Equal(t, http.StatusConflict, r.Status)
	assert.Equal(t, "compute spawn "+created.Spawn.ID+" is terminating: create a new spawn and start the agent with its token", r.Message)

	// Terminated: the spawn's tokens no longer work anywhere.
	setState(t, a, created.Spawn.ID, domain.SpawnTerminated)
	for _, path := range []string{agentapi.PathPing, agentapi.PathRegister} {
		r := agent.do(http.MethodPost, path, register)
		assert.Equal(t, http.StatusUnauthorized, r.Status, path)
		assert.Equal(t, "compute spawn "+created.Spawn.ID+" is terminated: its agent tokens no longer work; create a new compute spawn and start the agent with its token", r.Message, path)
	}
}

// A cloud spawn offers at most its instance type: an agent that claims more
// (a broken or hostile one) cannot make placement overbook the machine.
func TestAgentCapacityIsCappedByTheInstanceType(t *testing.T) {
	t.Parallel()
	a, tc, c, created := spawnWithMockedTemporal(t)
	tc.On("SignalWorkflow", mock.Anything, mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(nil)
	// The spawn's environment as a cloud environment records it: 1 vCPU, 512 MB.
	_, err := a.st.Pool.Exec(context.Background(), `UPDATE compute_envs SET instance_vcpu = 1, instance_memory_mb = 512, usable_cpu_pct = NULL, usable_memory_mb = NULL
		WHERE id = (SELECT compute_env_id FROM compute_spawns WHERE id = $1)`, created.Spawn.ID)
	require.NoError(t, err)
	agent := a.registeredAgent(created.AgentToken)
	pingAnswer(t, agent.do(http.MethodPost, agentapi.PathPing, agentapi.PingRequest{CapacityCPUPct: 6400, CapacityMemoryMB: 262144}))
	assert.Equal(t, domain.SpawnCapacity{TotalCPUPct: 100, TotalMemoryMB: 512, FreeCPUPct: 100, FreeMemoryMB: 512}, getSpawn(t, c, created.Spawn.ID).Capacity)
}
