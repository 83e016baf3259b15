package apiserver_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	temporalclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/mocks"

	"daestro/apiserver"
	"daestro/internal/agentapi"
	"daestro/internal/contract"
	"daestro/internal/domain"
)

// createdSpawn is the data of a 201 from POST /v1/compute-spawns.
type createdSpawn struct {
	Spawn      domain.ComputeSpawn `json:"spawn"`
	AgentToken string              `json:"agent_token"`
	DockerRun  string              `json:"docker_run"`
}

// selfHostedQueue creates a self-hosted environment (four cores, 4 GB) and
// a queue holding it, named after name.
func selfHostedQueue(t *testing.T, c client, name string) (queueID, envID string) {
	t.Helper()
	envID = c.do(http.MethodPost, "/v1/compute-envs", map[string]any{"name": name + "-boxes", "kind": "selfhosted",
		"usable_cpu_pct": 400, "usable_memory_mb": 4096}).id(t)
	queueID = c.do(http.MethodPost, "/v1/job-queues", map[string]any{"name": name, "priority": 10}).id(t)
	r := c.do(http.MethodPost, "/v1/job-queues/"+queueID+"/compute-envs", map[string]any{"compute_env_id": envID})
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	return queueID, envID
}

func createSpawn(t *testing.T, c client, queueID, envID string) createdSpawn {
	t.Helper()
	r := c.do(http.MethodPost, "/v1/compute-spawns", map[string]any{"job_queue_id": queueID, "compute_env_id": envID})
	return dataOf[createdSpawn](t, r, http.StatusCreated)
}

func getSpawn(t *testing.T, c client, id string) domain.ComputeSpawn {
	t.Helper()
	return getData[domain.ComputeSpawn](t, c, "/v1/compute-spawns/"+id)
}

// waitForState polls the spawn until it is in state: the workflow records
// states asynchronously, as a user polling the API would see.
func waitForState(t *testing.T, c client, id, state string, within time.Duration) domain.ComputeSpawn {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		sp := getSpawn(t, c, id)
		if sp.State == state {
			return sp
		}
		if time.Now().After(deadline) {
			t.Fatalf("compute spawn %s is %s after %s, want %s; events: %+v", id, sp.State, within, state, listEvents(t, c, id))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func listEvents(t *testing.T, c client, id string) []domain.SpawnEvent {
	t.Helper()
	return getData[domain.Page[domain.SpawnEvent]](t, c, "/v1/compute-spawns/"+id+"/events").Items
}

func eventStates(evs []domain.SpawnEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.State
	}
	return out
}

var register = agentapi.RegisterRequest{AgentVersion: "1.2.3", Hostname: "box-1", HostCPUPct: 800, HostMemoryMB: 15990}

func ping(runs ...string) agentapi.PingRequest {
	if runs == nil {
		runs = []string{}
	}
	return agentapi.PingRequest{AgentVersion: "1.2.3", CapacityCPUPct: 800, CapacityMemoryMB: 12000, RunningRuns: runs}
}

func pingAnswer(t *testing.T, r response) agentapi.PingResponse {
	t.Helper()
	return dataOf[agentapi.PingResponse](t, r, http.StatusOK)
}

var tokenRE = regexp.MustCompile(`^dsa_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$`)

// The whole self-hosted path over real HTTP, Postgres and Temporal: create,
// start the agent (register, ping), idle, terminate, and the agent told to stop.
func TestComputeSpawnLifecycle(t *testing.T) {
	t.Parallel()
	a := newSpawnAPI(t, 0)
	c := a.newProject("acme")
	queueID, envID := selfHostedQueue(t, c, "etl")

	created := createSpawn(t, c, queueID, envID)
	sp := created.Spawn
	assert.Equal(t, domain.SpawnKindSelfHosted, sp.Kind)
	assert.Equal(t, domain.SpawnInitialized, sp.State)
	assert.Equal(t, domain.JobQueueRef{ID: queueID, Name: "etl"}, sp.JobQueue)
	assert.Equal(t, domain.ComputeEnvRef{ID: envID, Name: "etl-boxes"}, sp.ComputeEnv)
	assert.Equal(t, domain.SpawnCapacity{}, sp.Capacity, "no capacity until the agent reports it")
	assert.Nil(t, sp.LastPingAt)
	assert.Equal(t, []string{}, sp.RunningRuns)
	assert.Regexp(t, tokenRE, created.AgentToken)
	assert.Equal(t, "docker run -d --name daestro-agent -e DAESTRO_AUTH_TOKEN="+created.AgentToken+
		" -e DAESTRO_SERVER_URL="+testPublicURL+" -v /var/run/docker.sock:/var/run/docker.sock"+
		" -v daestro_agent_data:/var/lib/daestro-agent --network host "+testAgentImage, created.DockerRun)
	secret := created.AgentToken[len("dsa_000000000000_"):]
	assert.Equal(t, 1, countWhere(a, `SELECT count(*) FROM agent_tokens WHERE compute_spawn_id = $1 AND prefix = $2 AND secret_hash = sha256($3::text::bytea)`,
		sp.ID, created.AgentToken[:len("dsa_000000000000")], created.AgentToken), "the token is stored as its prefix and SHA-256 hash")
	assert.Equal(t, 0, countWhere(a, `SELECT count(*) FROM agent_tokens t WHERE t::text LIKE '%' || $1 || '%'`, secret), "and never in plain text")

	r := a.agent(created.AgentToken).do(http.MethodPost, agentapi.PathRegister, register)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	credential, _ := r.data(t)["credential"].(string)
	assert.Regexp(t, tokenRE, credential, "the bootstrap token is exchanged for the agent's credential")
	assert.NotEqual(t, created.AgentToken, credential)
	assert.JSONEq(t, `{"spawn_id":"`+sp.ID+`","task_queue":"spawn-`+sp.ID+`","credential":"`+credential+`",
		"gateway":{"namespace":"default"},
		"ping_interval_seconds":10,"usable_cpu_pct":400,"usable_memory_mb":4096}`, string(r.Data),
		"the agent learns the gateway's namespace, never Temporal's address")
	r = a.agent(created.AgentToken).do(http.MethodPost, agentapi.PathRegister, register)
	assert.Equal(t, http.StatusUnauthorized, r.Status, "a bootstrap token works once")
	assert.Contains(t, r.Message, "was already exchanged by an agent at")
	agent := a.agent(credential)
	got := getSpawn(t, c, sp.ID)
	assert.Equal(t, "box-1", got.Hostname)
	assert.Equal(t, "1.2.3", got.AgentVersion)
	assert.Equal(t, domain.SpawnInitialized, got.State, "registering alone does not make a spawn idle: the first ping does")

	assert.Equal(t, agentapi.PingResponse{State: domain.SpawnInitialized}, pingAnswer(t, agent.do(http.MethodPost, agentapi.PathPing, ping())))
	got = waitForState(t, c, sp.ID, domain.SpawnIdle, 20*time.Second)
	require.NotNil(t, got.LastPingAt)
	assert.Equal(t, domain.SpawnCapacity{TotalCPUPct: 400, TotalMemoryMB: 4096, FreeCPUPct: 400, FreeMemoryMB: 4096}, got.Capacity,
		"the offer is capped by the environment's usable CPU and memory: four cores of the host's eight, at most 4096 MB")
	assert.False(t, got.StateChangedAt.Before(got.CreatedAt))
	assert.Equal(t, agentapi.PingResponse{State: domain.SpawnIdle}, pingAnswer(t, agent.do(http.MethodPost, agentapi.PathPing, ping())))

	evs := listEvents(t, c, sp.ID)
	assert.Equal(t, []string{domain.SpawnInitialized, domain.SpawnIdle}, eventStates(evs))
	assert.Equal(t, "agent registered: first ping from agent 1.2.3", evs[1].Reason)

	r = c.do(http.MethodPost, "/v1/compute-spawns/"+sp.ID+"/terminate", nil)
	require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
	waitForState(t, c, sp.ID, domain.SpawnTerminated, 20*time.Second)
	evs = listEvents(t, c, sp.ID)
	assert.Equal(t, []string{domain.SpawnInitialized, domain.SpawnIdle, domain.SpawnTerminating, domain.SpawnTerminated}, eventStates(evs))
	assert.Equal(t, "terminate requested via API", evs[2].Reason)
	for i := 1; i < len(evs); i++ {
		assert.False(t, evs[i].At.Before(evs[i-1].At), "events are in order")
	}

	r = agent.do(http.MethodPost, agentapi.PathPing, ping())
	assert.Equal(t, http.StatusUnauthorized, r.Status, "a terminated spawn's credential no longer works")
	assert.Equal(t, domain.SpawnTerminated, r.Header.Get(agentapi.HeaderSpawnEnded), "and the agent learns that its spawn ended, so it stops cleanly")
	r = agent.do(http.MethodPost, agentapi.PathRegister, register)
	assert.Equal(t, http.StatusUnauthorized, r.Status, r.Raw)
	assert.Equal(t, "compute spawn "+sp.ID+" is terminated: its agent tokens no longer work; create a new compute spawn and start the agent with its token", r.Message)
	r = c.do(http.MethodPost, "/v1/compute-spawns/"+sp.ID+"/terminate", nil)
	assert.Equal(t, http.StatusConflict, r.Status)
	assert.Equal(t, "compute spawn "+sp.ID+" is already terminated: there is nothing to terminate", r.Message)

	// The workflow finished and is findable by its search attribute.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// (The workflow completes just after its last state write lands.)
	var status string
	desc, err := a.temporal.DescribeWorkflowExecution(ctx, contract.SpawnWorkflowID(sp.ID), "")
	for ; err == nil && ctx.Err() == nil; desc, err = a.temporal.DescribeWorkflowExecution(ctx, contract.SpawnWorkflowID(sp.ID), "") {
		if status = desc.WorkflowExecutionInfo.Status.String(); status != "Running" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, err)
	assert.Equal(t, "Completed", status)
	var tagged string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(
		desc.WorkflowExecutionInfo.SearchAttributes.IndexedFields[contract.SearchAttrSpawnID], &tagged))
	assert.Equal(t, sp.ID, tagged)
}

// A spawn without pings turns unreachable (the timeout is shortened to a few
// seconds) and comes back at the next ping.
func TestComputeSpawnUnreachableWithoutPingsAndBack(t *testing.T) {
	t.Parallel()
	a := newSpawnAPI(t, 3*time.Second)
	c := a.newProject("acme")
	queueID, envID := selfHostedQueue(t, c, "etl")
	created := createSpawn(t, c, queueID, envID)
	id := created.Spawn.ID
	agent := a.registeredAgent(created.AgentToken)
	pingAnswer(t, agent.do(http.MethodPost, agentapi.PathPing, ping()))

	waitForState(t, c, id, domain.SpawnUnreachable, 30*time.Second)
	evs := listEvents(t, c, id)
	assert.Equal(t, []string{domain.SpawnInitialized, domain.SpawnIdle, domain.SpawnUnreachable}, eventStates(evs))
	assert.Equal(t, "no ping for 3s", evs[2].Reason)
	assert.GreaterOrEqual(t, evs[2].At.Sub(*getSpawn(t, c, id).LastPingAt), 3*time.Second, "not before the timeout")

	assert.Equal(t, domain.SpawnUnreachable, pingAnswer(t, agent.do(http.MethodPost, agentapi.PathPing, ping())).State)
	waitForState(t, c, id, domain.SpawnIdle, 20*time.Second)
	evs = listEvents(t, c, id)
	assert.Equal(t, []string{domain.SpawnInitialized, domain.SpawnIdle, domain.SpawnUnreachable, domain.SpawnIdle}, eventStates(evs[:4]))
	assert.Equal(t, "pings resumed", evs[3].Reason)

	r := c.do(http.MethodPost, "/v1/compute-spawns/"+id+"/terminate", nil)
	require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
	waitForState(t, c, id, domain.SpawnTerminated, 20*time.Second)

	// The history pages like every list.
	all := listEvents(t, c, id)
	paged, _ := pageThrough[domain.SpawnEvent](t, c, "/v1/compute-spawns/"+id+"/events", 2)
	assert.Equal(t, all, paged)
	assert.Equal(t, []string{domain.SpawnTerminating, domain.SpawnTerminated}, eventStates(all[len(all)-2:]))
}

func TestComputeSpawnCreateRules(t *testing.T) {
	t.Parallel()
	a := newSpawnAPI(t, 0)
	c, other := a.newProject("acme"), a.newProject("other")
	queueID, envID := selfHostedQueue(t, c, "etl")
	otherQueue, otherEnv := selfHostedQueue(t, other, "theirs")
	lonelyEnv := c.do(http.MethodPost, "/v1/compute-envs", map[string]any{"name": "lonely", "kind": "selfhosted"}).id(t)
	disabledEnv := c.do(http.MethodPost, "/v1/compute-envs", map[string]any{"name": "off", "kind": "selfhosted"}).id(t)
	require.Equal(t, http.StatusCreated, c.do(http.MethodPost, "/v1/job-queues/"+queueID+"/compute-envs", map[string]any{"compute_env_id": disabledEnv}).Status)
	require.Equal(t, http.StatusOK, c.do(http.MethodPatch, "/v1/compute-envs/"+disabledEnv, map[string]any{"enabled": false}).Status)
	authID := c.do(http.MethodPost, "/v1/cloud-auths", awsAuth("aws")).id(t)
	cloudEnv := c.do(http.MethodPost, "/v1/compute-envs", map[string]any{"name": "aws-big", "cloud_auth_id": authID, "instance_type": "t3.large", "region": "us-east-1"}).id(t)
	require.Equal(t, http.StatusCreated, c.do(http.MethodPost, "/v1/job-queues/"+queueID+"/compute-envs", map[string]any{"compute_env_id": cloudEnv}).Status)

	body := func(q, e string) map[string]any { return map[string]any{"job_queue_id": q, "compute_env_id": e} }
	tests := []struct {
		name string
		body any
		want string
	}{
		{"no queue", map[string]any{"compute_env_id": envID}, "job_queue_id: is required"},
		{"no env", map[string]any{"job_queue_id": queueID}, "compute_env_id: is required"},
		{"unknown queue", body("0190a5c2-0000-7000-8000-000000000000", envID), `job_queue_id: no job queue with id "0190a5c2-0000-7000-8000-000000000000" in this project`},
		{"bad queue id", body("etl", envID), `job_queue_id: no job queue with id "etl"`},
		{"unknown env", body(queueID, "0190a5c2-0000-7000-8000-000000000000"), "compute_env_id: no compute environment with id"},
		{"another project's queue", body(otherQueue, envID), "job_queue_id: no job queue with id"},
		{"another project's env", body(queueID, otherEnv), "compute_env_id: no compute environment with id"},
		{"cloud env", body(queueID, cloudEnv), "compute_env_id: compute environment 'aws-big' is a cloud environment: only a selfhosted environment takes a spawn created by hand"},
		{"disabled env", body(queueID, disabledEnv), "compute_env_id: compute environment 'off' is disabled: enable it"},
		{"env not in queue", body(queueID, lonelyEnv), "compute_env_id: compute environment 'lonely' is not one of job queue 'etl''s compute environments: add it (POST /v1/job-queues/" + queueID + "/compute-envs) first"},
		{"unknown field", `{"job_queue_id":"x","compute_env_id":"y","kind":"cloud"}`, `unknown field "kind"`},
		{"empty", ``, "request body is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.do(http.MethodPost, "/v1/compute-spawns", tt.body)
			assert.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
			assert.Contains(t, r.Message, tt.want)
		})
	}
	for _, tbl := range []string{"compute_spawns", "agent_tokens", "compute_spawn_events"} {
		assert.Equal(t, 0, a.count(tbl), "a rejected request wrote nothing to %s", tbl)
	}
}

func TestComputeSpawnRespectsMaxSpawnsAndDeleteRules(t *testing.T) {
	t.Parallel()
	a := newSpawnAPI(t, 0)
	c := a.newProject("acme")
	envID := c.do(http.MethodPost, "/v1/compute-envs", map[string]any{"name": "boxes", "kind": "selfhosted"}).id(t)
	queueID := c.do(http.MethodPost, "/v1/job-queues", map[string]any{"name": "etl", "priority": 10, "max_spawns": 1}).id(t)
	require.Equal(t, http.StatusCreated, c.do(http.MethodPost, "/v1/job-queues/"+queueID+"/compute-envs", map[string]any{"compute_env_id": envID}).Status)

	first := createSpawn(t, c, queueID, envID)
	r := c.do(http.MethodPost, "/v1/compute-spawns", map[string]any{"job_queue_id": queueID, "compute_env_id": envID})
	assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
	assert.Equal(t, "job queue 'etl' already has 1 active compute spawn, its max_spawns: terminate one first", r.Message)

	// An active spawn holds its queue and environment, as the catalog's delete rules say.
	require.Equal(t, http.StatusOK, c.do(http.MethodPatch, "/v1/compute-envs/"+envID, map[string]any{"enabled": false}).Status)
	r = c.do(http.MethodDelete, "/v1/compute-envs/"+envID, nil)
	assert.Equal(t, http.StatusConflict, r.Status)
	assert.Contains(t, r.Message, "has 1 active compute spawn")
	r = c.do(http.MethodDelete, "/v1/job-queues/"+queueID, nil)
	assert.Equal(t, http.StatusConflict, r.Status)
	assert.Contains(t, r.Message, "has 1 active compute spawn")

	require.Equal(t, http.StatusAccepted, c.do(http.MethodPost, "/v1/compute-spawns/"+first.Spawn.ID+"/terminate", nil).Status)
	waitForState(t, c, first.Spawn.ID, domain.SpawnTerminated, 20*time.Second)
	r = c.do(http.MethodDelete, "/v1/job-queues/"+queueID, nil)
	assert.Equal(t, http.StatusOK, r.Status, "a terminated spawn holds nothing: %s", r.Raw)
}

func TestComputeSpawnListFiltersAndPaginates(t *testing.T) {
	t.Parallel()
	a := newSpawnAPI(t, 0)
	c := a.newProject("acme")
	etl, etlEnv := selfHostedQueue(t, c, "etl")
	ml, mlEnv := selfHostedQueue(t, c, "ml")
	var etlIDs []string
	for range 3 {
		etlIDs = append(etlIDs, createSpawn(t, c, etl, etlEnv).Spawn.ID)
	}
	mlID := createSpawn(t, c, ml, mlEnv).Spawn.ID
	require.Equal(t, http.StatusAccepted, c.do(http.MethodPost, "/v1/compute-spawns/"+etlIDs[1]+"/terminate", nil).Status)
	waitForState(t, c, etlIDs[1], domain.SpawnTerminated, 20*time.Second)

	list := func(query string) []string {
		t.Helper()
		spawns, _ := pageThrough[domain.ComputeSpawn](t, c, withQuery("/v1/compute-spawns", query), 2)
		return itemKeys(spawns, func(sp domain.ComputeSpawn) string { return sp.ID })
	}
	assert.Equal(t, append(append([]string{}, etlIDs...), mlID), list(""), "every spawn once, in creation order")
	assert.Equal(t, etlIDs, list("job_queue_id="+etl))
	assert.Equal(t, []string{etlIDs[0], etlIDs[2], mlID}, list("state=initialized"))
	assert.Equal(t, []string{etlIDs[1]}, list("state=terminated&job_queue_id="+etl))

	for q, msg := range map[string]string{
		"state=sleeping":   `state: "sleeping" is not a compute spawn state: use one of failed, initialized, requested, idle, busy, unreachable, terminating, terminated, termination_failed`,
		"job_queue_id=etl": `job_queue_id: "etl" is not a job queue id`,
		"limit=0":          "limit:",
	} {
		r := c.do(http.MethodGet, "/v1/compute-spawns?"+q, nil)
		assert.Equal(t, http.StatusBadRequest, r.Status, q)
		assert.Equal(t, msg, r.Message[:min(len(msg), len(r.Message))], q)
	}
}

// Every spawn route answers another project's spawn with 404 and changes nothing.
func TestComputeSpawnTenantIsolation(t *testing.T) {
	t.Parallel()
	a := newSpawnAPI(t, 0)
	alpha, beta := a.newProject("alpha"), a.newProject("beta")
	queueID, envID := selfHostedQueue(t, alpha, "etl")
	sp := createSpawn(t, alpha, queueID, envID).Spawn

	for _, rt := range []struct{ method, path string }{
		{http.MethodGet, "/v1/compute-spawns/" + sp.ID},
		{http.MethodGet, "/v1/compute-spawns/" + sp.ID + "/events"},
		{http.MethodPost, "/v1/compute-spawns/" + sp.ID + "/terminate"},
	} {
		r := beta.do(rt.method, rt.path, nil)
		assert.Equal(t, http.StatusNotFound, r.Status, "%s %s: %s", rt.method, rt.path, r.Raw)
		assert.Equal(t, `no compute spawn with id "`+sp.ID+`" in this project`, r.Message)
	}
	r := beta.do(http.MethodGet, "/v1/compute-spawns", nil)
	require.Equal(t, http.StatusOK, r.Status)
	assert.NotContains(t, r.Raw, sp.ID)
	r = beta.do(http.MethodGet, "/v1/compute-spawns?job_queue_id="+queueID, nil)
	require.Equal(t, http.StatusOK, r.Status)
	assert.NotContains(t, r.Raw, sp.ID, "filtering by another project's queue shows nothing")
	r = beta.do(http.MethodPost, "/v1/compute-spawns", map[string]any{"job_queue_id": queueID, "compute_env_id": envID})
	assert.Equal(t, http.StatusBadRequest, r.Status, "another project's queue cannot be named")

	assert.Equal(t, domain.SpawnInitialized, getSpawn(t, alpha, sp.ID).State, "beta's terminate changed nothing")
	assert.Equal(t, 1, a.count("compute_spawns"))
}

// mockedTemporalAPI serves the API with a mocked Temporal client, for the
// failures a real server does not produce on demand.
func mockedTemporalAPI(t *testing.T) (*api, *mocks.Client) {
	t.Helper()
	tc := &mocks.Client{}
	return serveAPI(t, newTestStore(t), apiserver.Options{Temporal: tc, PublicURL: testPublicURL}), tc
}

func TestComputeSpawnCreateWritesNothingWhenTemporalIsDown(t *testing.T) {
	t.Parallel()
	a, tc := mockedTemporalAPI(t)
	tc.On("ExecuteWorkflow", mock.Anything, mock.Anything, mock.Anything, mock.Anything).
		Return(nil, serviceerror.NewUnavailable("connection refused"))
	c := a.newProject("acme")
	queueID, envID := selfHostedQueue(t, c, "etl")

	r := c.do(http.MethodPost, "/v1/compute-spawns", map[string]any{"job_queue_id": queueID, "compute_env_id": envID})
	assert.Equal(t, http.StatusServiceUnavailable, r.Status, r.Raw)
	assert.Equal(t, "cannot start the compute spawn's workflow: Temporal did not answer; nothing was created, try again (GET /readyz shows what is down)", r.Message)
	for _, tbl := range []string{"compute_spawns", "agent_tokens", "compute_spawn_events"} {
		assert.Equal(t, 0, a.count(tbl), "nothing half-written in %s", tbl)
	}
}

func TestComputeSpawnStartsItsWorkflowOnTheControlQueue(t *testing.T) {
	t.Parallel()
	a, tc := mockedTemporalAPI(t)
	tc.On("ExecuteWorkflow", mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(&mocks.WorkflowRun{}, nil).Once()
	c := a.newProject("acme")
	queueID, envID := selfHostedQueue(t, c, "etl")
	created := createSpawn(t, c, queueID, envID)

	require.Len(t, tc.Calls, 1)
	opts := tc.Calls[0].Arguments.Get(1).(temporalclient.StartWorkflowOptions)
	input := tc.Calls[0].Arguments.Get(3).(contract.SpawnWorkflowInput)
	assert.Equal(t, "spawn/"+created.Spawn.ID, opts.ID)
	assert.Equal(t, contract.ControlTaskQueue, opts.TaskQueue, "the default control task queue")
	assert.Equal(t, contract.SpawnWorkflowInput{SpawnID: created.Spawn.ID, ProjectID: c.project.ID, Kind: domain.SpawnKindSelfHosted,
		UnreachableAfter: 5 * time.Minute}, input)
	assert.NotContains(t, fmt.Sprintf("%+v %+v", opts, input), created.AgentToken[len("dsa_000000000000_"):],
		"no secret enters a Temporal payload")
	assert.True(t, strings.HasPrefix(created.DockerRun, "docker run -d --name daestro-agent -e DAESTRO_AUTH_TOKEN=dsa_"))
	assert.Contains(t, created.DockerRun, " daestro-agent:latest", "the default agent image")
}

func TestComputeSpawnTerminateWithoutAWorkflowStillEndsIt(t *testing.T) {
	t.Parallel()
	a, tc := mockedTemporalAPI(t)
	tc.On("ExecuteWorkflow", mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(&mocks.WorkflowRun{}, nil)
	c := a.newProject("acme")
	queueID, envID := selfHostedQueue(t, c, "etl")
	lost := createSpawn(t, c, queueID, envID).Spawn.ID
	down := createSpawn(t, c, queueID, envID).Spawn.ID
	tc.On("SignalWorkflow", mock.Anything, contract.SpawnWorkflowID(lost), "", contract.SignalTerminateSpawn, mock.Anything).
		Return(serviceerror.NewNotFound("workflow not found"))
	tc.On("SignalWorkflow", mock.Anything, contract.SpawnWorkflowID(down), "", contract.SignalTerminateSpawn, mock.Anything).
		Return(serviceerror.NewUnavailable("connection refused"))

	r := c.do(http.MethodPost, "/v1/compute-spawns/"+lost+"/terminate", nil)
	require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
	assert.Equal(t, domain.SpawnTerminated, r.data(t)["state"], "a spawn whose workflow is gone is ended by the API itself")
	evs := listEvents(t, c, lost)
	assert.Equal(t, "terminate requested via API; the spawn's workflow no longer ran", evs[len(evs)-1].Reason)

	r = c.do(http.MethodPost, "/v1/compute-spawns/"+down+"/terminate", nil)
	assert.Equal(t, http.StatusServiceUnavailable, r.Status)
	assert.Equal(t, "cannot reach the compute spawn's workflow: Temporal did not answer; the spawn is unchanged, try again", r.Message)
	assert.Equal(t, domain.SpawnInitialized, getSpawn(t, c, down).State)
}

// countWhere runs a count query with args.
func countWhere(a *api, sql string, args ...any) int {
	a.t.Helper()
	var n int
	require.NoError(a.t, a.st.Pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}
