package apiserver_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/apiserver"
	"daestro/internal/domain"
	"daestro/internal/testenv"
)

// catalogTables are every table an API request may write.
var catalogTables = []string{"projects", "api_keys", "cloud_auths", "compute_envs", "job_queues", "job_queue_compute_envs",
	"registry_auths", "job_definitions", "compute_spawns", "compute_spawn_events", "agent_tokens", "jobs", "job_runs", "job_events", "cron_jobs", "cron_job_events"}

// fixture is one of every catalog resource in a project.
type fixture struct {
	cloudAuth, computeEnv, jobQueue, registryAuth, jobDefinition, apiKey, computeSpawn, job, cronJob string
}

// seed creates one of every resource through the API.
func seed(t testing.TB, c client, definition string) fixture {
	t.Helper()
	var f fixture
	f.cloudAuth = c.do(http.MethodPost, "/v1/cloud-auths", awsAuth("aws-main")).id(t)
	f.computeEnv = c.do(http.MethodPost, "/v1/compute-envs", map[string]any{"name": "own-boxes", "kind": "selfhosted"}).id(t)
	f.jobQueue = c.do(http.MethodPost, "/v1/job-queues", map[string]any{"name": "etl", "priority": 10}).id(t)
	r := c.do(http.MethodPost, "/v1/job-queues/"+f.jobQueue+"/compute-envs", map[string]any{"compute_env_id": f.computeEnv})
	require.Less(t, r.Status, 300, r.Raw)
	f.registryAuth = c.do(http.MethodPost, "/v1/registry-auths", map[string]any{"name": "ghcr", "registry_url": "ghcr.io", "username": "bot", "password": "ghp_secretsecretsecret"}).id(t)
	c.do(http.MethodPost, "/v1/job-definitions", map[string]any{"name": definition, "type": "docker", "image": "ghcr.io/acme/etl:1",
		"registry_auth_id": f.registryAuth, "command": []string{"run", "Param::day"}}).id(t)
	f.jobDefinition = definition
	f.apiKey = c.do(http.MethodPost, "/v1/api-keys", map[string]any{"name": "second"}).id(t)
	// Through the store: the API would start a workflow, and these servers
	// have no Temporal. The row is what the routes read.
	sp, _, err := c.a.st.CreateSelfHostedSpawn(context.Background(), c.project.ID,
		domain.ComputeSpawnInput{ComputeEnvID: f.computeEnv, JobQueueID: f.jobQueue},
		func(context.Context, domain.ComputeSpawn) error { return nil })
	require.NoError(t, err)
	f.computeSpawn = sp.ID
	// A job needs an enabled queue; through the store for the same reason.
	r = c.do(http.MethodPatch, "/v1/job-queues/"+f.jobQueue, map[string]any{"enabled": true})
	require.Less(t, r.Status, 300, r.Raw)
	j, err := c.a.st.SubmitJob(context.Background(), c.project.ID, domain.SubmitJob{DefinitionName: definition, QueueName: "etl",
		Parameters: map[string]string{"day": "2025-05-17"}}, func(string, string) error { return nil })
	require.NoError(t, err)
	f.job = j.ID
	// A cron job through the store too: the API would create its schedule.
	spec, err := domain.CronJobInput{Name: "hourly", Expression: "0 0 * * * ?", JobDefinition: definition, JobQueue: "etl",
		ContainerCmdParameter: map[string]string{"day": "today"}}.Normalize(c.project.Code)
	require.NoError(t, err)
	cj, err := c.a.st.CreateCronJob(context.Background(), c.project.ID, spec,
		func(domain.CronJob) (domain.CronScheduleState, error) { return domain.CronScheduleState{}, nil })
	require.NoError(t, err)
	f.cronJob = cj.ID
	return f
}

// fill replaces a route's {params} with the fixture's IDs.
func (f fixture) fill(path string) string {
	var id string
	switch {
	case strings.HasPrefix(path, "/v1/cloud-auths/"):
		id = f.cloudAuth
	case strings.HasPrefix(path, "/v1/compute-envs/"):
		id = f.computeEnv
	case strings.HasPrefix(path, "/v1/job-queues/"):
		id = f.jobQueue
	case strings.HasPrefix(path, "/v1/registry-auths/"):
		id = f.registryAuth
	case strings.HasPrefix(path, "/v1/api-keys/"):
		id = f.apiKey
	case strings.HasPrefix(path, "/v1/compute-spawns/"):
		id = f.computeSpawn
	case strings.HasPrefix(path, "/v1/jobs/"), strings.HasPrefix(path, "/v1/client/job/"):
		id = f.job
	case strings.HasPrefix(path, "/v1/cron-jobs/"):
		id = f.cronJob
	}
	return strings.NewReplacer("{id}", id, "{ref}", f.jobDefinition, "{envId}", f.computeEnv).Replace(path)
}

// Project B's key gets 404 — not 403, existence is not leaked — for every
// route that names one of project A's resources, and changes nothing of A's.
func TestTenantIsolationOnEveryRoute(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	alpha, beta := a.newProject("alpha"), a.newProject("beta")
	f := seed(t, alpha, "nightly")
	betaOwn := seed(t, beta, "beta-nightly") // A's definition name does not exist in B

	before := map[string]int{}
	for _, tbl := range catalogTables {
		before[tbl] = a.count(tbl)
	}
	snapshot := func() map[string]string {
		out := map[string]string{}
		for _, p := range []string{"/v1/cloud-auths/{id}", "/v1/compute-envs/{id}", "/v1/job-queues/{id}", "/v1/registry-auths/{id}",
			"/v1/job-definitions/{ref}", "/v1/job-queues/{id}/compute-envs", "/v1/compute-spawns/{id}", "/v1/compute-spawns/{id}/events",
			"/v1/jobs/{id}", "/v1/client/job/{id}", "/v1/cron-jobs/{id}"} {
			r := alpha.do(http.MethodGet, f.fill(p), nil)
			require.Equal(t, http.StatusOK, r.Status, "%s: %s", p, r.Raw)
			out[p] = r.Raw
		}
		return out
	}
	alphaBefore := snapshot()

	// The agent routes (/v1/agent/*) take an agent token, not an API key: the
	// token names the spawn, and agent_api_test.go, run_output_test.go and
	// the e2e tests cover who may reach what through them.
	routes := apiserver.New(apiserver.Options{Logger: testenv.Logger(t)}).Routes()
	checked := 0
	for _, rt := range routes {
		if !strings.Contains(rt.Path, "{") || strings.HasPrefix(rt.Path, "/v1/agent/") {
			continue
		}
		path := f.fill(rt.Path)
		if rt.Path == "/v1/job-definitions/{ref}" && rt.Method == http.MethodDelete {
			path += ":1" // delete takes name:version
		}
		var body any
		switch rt.Method {
		case http.MethodPost, http.MethodPatch, http.MethodPut:
			body = map[string]any{}
			if strings.HasSuffix(rt.Path, "/compute-envs") {
				body = map[string]any{"compute_env_id": betaOwn.computeEnv}
			}
		}
		r := beta.do(rt.Method, path, body)
		assert.Equal(t, http.StatusNotFound, r.Status, "%s %s with another project's key: %s", rt.Method, path, r.Raw)
		checked++
	}
	assert.GreaterOrEqual(t, checked, 18, "every route with a resource in its path was tried")

	for _, tbl := range catalogTables {
		assert.Equal(t, before[tbl], a.count(tbl), "table %s changed", tbl)
	}
	assert.Equal(t, alphaBefore, snapshot(), "project A's resources are unchanged")

	// B's lists show only B's resources.
	for _, rt := range routes {
		if rt.Method != http.MethodGet || strings.Contains(rt.Path, "{") || !strings.HasPrefix(rt.Path, "/v1/") || rt.Path == apiserver.PathOpenAPI {
			continue
		}
		r := beta.do(http.MethodGet, rt.Path, nil)
		require.Equal(t, http.StatusOK, r.Status, "%s: %s", rt.Path, r.Raw)
		for _, id := range []string{f.cloudAuth, f.computeEnv, f.jobQueue, f.registryAuth, f.apiKey, f.computeSpawn, f.job, f.cronJob, alpha.project.ID} {
			assert.NotContains(t, r.Raw, id, "%s shows a resource of another project", rt.Path)
		}
	}
}
