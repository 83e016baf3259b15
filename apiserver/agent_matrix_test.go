package apiserver_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/apiserver"
	"daestro/internal/agentapi"
	"daestro/internal/domain"
	"daestro/internal/store"
)

// Canaries: values that must never show in a body an agent is refused with.
const (
	canaryEnv      = "canary-env-7f3a9c"
	canaryPassword = "canary-registry-password-51d2"
)

// secretRun is a running job whose definition carries a sensitive env value
// and registry credentials, placed on a spawn of its own.
type secretRun struct {
	spawn, job, run string
	agent           client
}

func newSecretRun(t *testing.T, c client, name string) secretRun {
	t.Helper()
	env := c.do(http.MethodPost, "/v1/compute-envs", map[string]any{"name": name + "-boxes", "kind": "selfhosted"}).id(t)
	queue := c.do(http.MethodPost, "/v1/job-queues", map[string]any{"name": name, "priority": 10}).id(t)
	r := c.do(http.MethodPost, "/v1/job-queues/"+queue+"/compute-envs", map[string]any{"compute_env_id": env})
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	auth := c.do(http.MethodPost, "/v1/registry-auths", map[string]any{"name": name + "-reg", "registry_url": "ghcr.io", "username": "bot", "password": canaryPassword}).id(t)
	def := c.do(http.MethodPost, "/v1/job-definitions", map[string]any{"name": name, "type": "docker", "image": "ghcr.io/acme/etl:1",
		"registry_auth_id": auth, "env": map[string]any{"API_TOKEN": map[string]any{"value": canaryEnv, "sensitive": true}}}).id(t)
	p := secretRun{job: store.NewID(), run: store.NewID()}
	p.spawn, p.agent = newSpawnAgent(t, c, queue, env)
	outputSQL(t, c.a, `INSERT INTO jobs (id, project_id, job_queue_id, job_definition_id, name, state, current_run_id)
		VALUES ($1, $2, $3, $4, $5, 'running', $6)`, p.job, c.project.ID, queue, def, name+"-job", p.run)
	outputSQL(t, c.a, `INSERT INTO job_runs (id, job_id, project_id, attempt, state, compute_spawn_id, started_at)
		VALUES ($1, $2, $3, 1, 'running', $4, now())`, p.run, p.job, c.project.ID, p.spawn)
	return p
}

// agentRoute is one agent call on a run.
type agentRoute struct {
	name   string
	method string
	path   string
	body   any
}

func agentRunRoutes(runID string) []agentRoute {
	return []agentRoute{
		{"spec", http.MethodGet, agentapi.RunPath(agentapi.PathRunSpec, runID), nil},
		{"logs", http.MethodPost, agentapi.RunPath(agentapi.PathRunLogs, runID), agentapi.LogsRequest{Lines: logLines(1, 1)}},
		{"metrics", http.MethodPost, agentapi.RunPath(agentapi.PathRunMetrics, runID), agentapi.MetricsRequest{Samples: []agentapi.MetricSample{{Time: logEpoch, CPUPct: 1}}}},
	}
}

// Every agent route on a run × whose agent asks × the run's and spawn's
// state. Only the run's own agent, while the run lives and its spawn has
// not ended, gets an answer; everyone else a refusal that carries no secret.
// (The outcome travels through the Temporal gateway, whose own test checks
// that only the agent the task was handed to can answer it.)
func TestAgentRouteMatrix(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	alpha, beta := a.newProject("alpha"), a.newProject("beta")

	type caller struct {
		name  string
		agent func(own secretRun) client
	}
	sibling := newSecretRun(t, alpha, "sibling") // another spawn of the same project
	stranger := newSecretRun(t, beta, "stranger")
	callers := []caller{
		{"own spawn", func(own secretRun) client { return own.agent }},
		{"other spawn same project", func(secretRun) client { return sibling.agent }},
		{"other project", func(secretRun) client { return stranger.agent }},
	}
	phases := []struct {
		name  string
		setup func(t *testing.T, p secretRun)
		// own is the status the run's own agent gets, per route.
		own map[string]int
	}{
		{"active run", func(*testing.T, secretRun) {}, map[string]int{"spec": 200, "logs": 200, "metrics": 200}},
		{"finished run", func(t *testing.T, p secretRun) {
			require.NoError(t, a.st.SetJobRunState(context.Background(), p.run, domain.JobCompleted, "test", store.RunFields{}))
		}, map[string]int{"spec": 409, "logs": 409, "metrics": 409}},
		{"terminated spawn", func(t *testing.T, p secretRun) {
			setState(t, a, p.spawn, domain.SpawnTerminated)
		}, map[string]int{"spec": 401, "logs": 401, "metrics": 401}},
	}
	for i, phase := range phases {
		own := newSecretRun(t, alpha, fmt.Sprintf("own%d", i))
		phase.setup(t, own)
		for _, who := range callers {
			for _, rt := range agentRunRoutes(own.run) {
				t.Run(phase.name+"/"+who.name+"/"+rt.name, func(t *testing.T) {
					r := who.agent(own).do(rt.method, rt.path, rt.body)
					want := phase.own[rt.name]
					if who.name != "own spawn" {
						want = http.StatusNotFound
					}
					assert.Equal(t, want, r.Status, r.Raw)
					if r.Status == http.StatusOK && rt.name == "spec" {
						assert.Contains(t, r.Raw, canaryEnv, "the run's own agent gets its secrets")
						assert.Contains(t, r.Raw, canaryPassword)
						assert.Contains(t, r.Raw, `"SpawnID":"`+own.spawn+`"`, "the spec names the spawn the container is labelled with")
						return
					}
					assert.NotContains(t, r.Raw, canaryEnv, "no env value in a refusal or an acknowledgement")
					assert.NotContains(t, r.Raw, canaryPassword, "no registry password either")
					if r.Status == http.StatusNotFound {
						assert.Regexp(t, `^no run `+own.run+` on (this compute spawn|compute spawn [0-9a-f-]+)$`, r.Message)
					}
				})
			}
		}
	}
	assert.Equal(t, 1, countWhere(a, `SELECT count(*) FROM run_logs`), "only the own agent's line of the active run was stored")
}

// A privileged container on a localdocker machine is root on the control
// plane's own engine: outside `daestro dev` its spec is refused with a
// sentence (the job fails with it), in dev it runs.
func TestPrivilegedJobsNeverRunOnLocalDockerOutsideDev(t *testing.T) {
	t.Parallel()
	for _, dev := range []bool{false, true} {
		a := serveAPI(t, newTestStore(t), apiserver.Options{DevMode: dev})
		c := a.newProject("acme")
		p := newPlacedRun(t, c, "etl")
		outputSQL(t, a, `UPDATE job_definitions SET privileged = true WHERE id = $1`, p.definition)
		// The spawn as a localdocker machine records it.
		outputSQL(t, a, `UPDATE compute_spawns SET kind = 'cloud', provider = 'localdocker', instance_id = 'daestro-vm-1' WHERE id = $1`, p.spawn)
		r := p.agent.do(http.MethodGet, agentapi.RunPath(agentapi.PathRunSpec, p.run), nil)
		if dev {
			assert.Equal(t, http.StatusOK, r.Status, "daestro dev allows it: %s", r.Raw)
			continue
		}
		assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
		assert.Equal(t, "job definition of run "+p.run+" is privileged, and privileged jobs never run on localdocker machines (the daestro server's own Docker engine) outside `daestro dev`: run it on a cloud or self-hosted compute environment", r.Message)

		// The same job on a self-hosted spawn runs privileged: the user's own machine.
		outputSQL(t, a, `UPDATE compute_spawns SET kind = 'selfhosted', provider = '', instance_id = '' WHERE id = $1`, p.spawn)
		assert.Equal(t, http.StatusOK, p.agent.do(http.MethodGet, agentapi.RunPath(agentapi.PathRunSpec, p.run), nil).Status)
	}
}

// A container that prints a sensitive env value has it masked before the
// line is stored: no reader (page, follow, export) ever sees it.
func TestSensitiveValuesAreMaskedInStoredLogs(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	p := newSecretRun(t, c, "etl")
	lines := []agentapi.LogLine{
		{Seq: 1, Stream: agentapi.StreamStdout, Time: logEpoch, Text: "API_TOKEN=" + canaryEnv},
		{Seq: 2, Stream: agentapi.StreamStdout, Time: logEpoch, Text: "nothing secret"},
	}
	assert.Equal(t, int64(2), ackOf(t, p.agent, p.run, lines))
	r := c.do(http.MethodGet, "/v1/jobs/"+p.job+"/logs", nil)
	page := dataOf[domain.RunLogs](t, r, http.StatusOK)
	assert.NotContains(t, r.Raw, canaryEnv)
	require.Len(t, page.Lines, 2)
	assert.Equal(t, "API_TOKEN=***", page.Lines[0].Text)
	assert.Equal(t, "nothing secret", page.Lines[1].Text)
}
