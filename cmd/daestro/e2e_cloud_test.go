package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"go.temporal.io/sdk/client"

	"daestro/activities"
	"daestro/internal/config"
	"daestro/internal/store"
	"daestro/internal/testenv"
	"daestro/workflows"
)

// localDockerQueue creates a localdocker cloud auth, a cloud compute env of
// instanceType and an enabled queue on it with no spawn.
func (s *e2e) localDockerQueue(name, instanceType string, queue map[string]any) (queueID string) {
	t := s.t
	status, auth := s.call(http.MethodPost, "/v1/cloud-auths", map[string]any{"name": name + "-local", "provider": "localdocker"})
	require.Equal(t, http.StatusCreated, status, auth)
	status, env := s.call(http.MethodPost, "/v1/compute-envs", map[string]any{"name": name + "-vms", "kind": "cloud",
		"cloud_auth_id": auth["id"], "region": "local", "instance_type": instanceType})
	require.Equal(t, http.StatusCreated, status, env)
	body := map[string]any{"name": name, "priority": 10}
	for k, v := range queue {
		body[k] = v
	}
	status, q := s.call(http.MethodPost, "/v1/job-queues", body)
	require.Equal(t, http.StatusCreated, status, q)
	status, resp := s.call(http.MethodPost, fmt.Sprintf("/v1/job-queues/%s/compute-envs", q["id"]), map[string]any{"compute_env_id": env["id"]})
	require.Equal(t, http.StatusCreated, status, resp)
	status, resp = s.call(http.MethodPatch, fmt.Sprintf("/v1/job-queues/%s", q["id"]), map[string]any{"enabled": true})
	require.Equal(t, http.StatusOK, status, resp)
	return q["id"].(string)
}

// spawns lists the queue's spawns (every state).
func (s *e2e) spawns(queueID string) []map[string]any {
	status, page := s.call(http.MethodGet, "/v1/compute-spawns?job_queue_id="+queueID+"&limit=100", nil)
	require.Equal(s.t, http.StatusOK, status, page)
	var out []map[string]any
	for _, it := range page["items"].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

// projectContainers lists the containers (agents and jobs) of the project's
// localdocker machines and of jobs on them.
func projectContainers(t testing.TB, projectID string, spawnIDs []string) []string {
	out := docker(t, "ps", "-a", "--format", "{{.Names}}", "--filter", "label=daestro.localdocker.tag."+store.ProjectTag(projectID))
	names := strings.Fields(out)
	for _, id := range spawnIDs {
		names = append(names, strings.Fields(docker(t, "ps", "-a", "--format", "{{.Names}}", "--filter", "label=daestro.spawn-id="+id))...)
	}
	return names
}

// A queue with a localdocker environment and no spawn: ten jobs make spawns
// appear (never more than max_spawns), the jobs run on them, and the spawns
// terminate after the idle time, leaving no container behind.
func TestCloudSpawnsScaleUpRunJobsAndTerminateWhenIdle(t *testing.T) {
	t.Setenv(config.EnvAgentImage, agentTestImage(t))
	t.Setenv(config.EnvEnableLocalDocker, "true") // the operator allows it: this machine is the test's own
	s := startSystem(t)
	const maxSpawns = 2
	queueID := s.localDockerQueue("burst", "local-1c-1g", map[string]any{"max_spawns": maxSpawns, "max_idle_seconds": 0})
	status, def := s.call(http.MethodPost, "/v1/job-definitions", map[string]any{"name": "half", "type": "docker",
		"image": testenv.TestImage(), "command": []string{"sh", "-c", "echo on $DAESTRO_COMPUTE_SPAWN_ID; env | grep ^DAESTRO_ | sort; sleep 2"},
		"cpu_quota_pct": 50, "memory_mb": 128})
	require.Equal(t, http.StatusCreated, status, def)

	// Sample the queue's live spawns while the burst runs.
	ctx, stopSampling := context.WithCancel(context.Background())
	var (
		mu        sync.Mutex
		maxLive   int
		sawSpawns = map[string]bool{}
		samplerWG sync.WaitGroup
	)
	samplerWG.Add(1)
	go func() {
		defer samplerWG.Done()
		for ctx.Err() == nil {
			live := 0
			for _, sp := range s.spawns(queueID) {
				mu.Lock()
				sawSpawns[sp["id"].(string)] = true
				mu.Unlock()
				if st := sp["state"]; st != "terminated" && st != "failed" {
					live++
				}
			}
			mu.Lock()
			maxLive = max(maxLive, live)
			mu.Unlock()
			time.Sleep(200 * time.Millisecond)
		}
	}()

	var ids []string
	for range 10 {
		status, sub := s.call(http.MethodPost, "/v1/client/job", map[string]any{"job_definition": "e2e::half", "job_queue": "e2e::burst"})
		require.Equal(t, http.StatusAccepted, status, sub)
		ids = append(ids, sub["id"].(string))
	}
	ranOn := map[string]int{}
	for _, id := range ids {
		job := s.waitJob(id, 4*time.Minute)
		require.Equal(t, "completed", job["state"], job)
		lines := s.logTexts(id)
		require.NotEmpty(t, lines)
		spawnID := strings.TrimPrefix(lines[0], "on ")
		ranOn[spawnID]++
		// Every injected variable, with the cloud machine's own facts.
		_, detail := s.call(http.MethodGet, "/v1/jobs/"+id, nil)
		runID := detail["runs"].([]any)[0].(map[string]any)["id"]
		assert.Equal(t, []string{
			"DAESTRO_CLOUD_PROVIDER=localdocker",
			"DAESTRO_COMPUTE_ENV_NAME=burst-vms",
			"DAESTRO_COMPUTE_SPAWN_ID=" + spawnID,
			"DAESTRO_INSTANCE_TYPE=local-1c-1g", "DAESTRO_JOB_ATTEMPT=1",
			"DAESTRO_JOB_ID=" + id,
			"DAESTRO_JOB_QUEUE_NAME=burst",
			"DAESTRO_JOB_RUN_ID=" + fmt.Sprint(runID),
			"DAESTRO_PUBLIC_IPV4=127.0.0.1",
			"DAESTRO_PUBLIC_IPV6=::1",
		}, lines[1:], "the job's environment")
	}
	// Every spawn terminates once idle (max idle 0, the minimum idle time
	// after that), and every machine and job container is gone.
	require.Eventually(t, func() bool {
		for _, sp := range s.spawns(queueID) {
			if sp["state"] != "terminated" {
				return false
			}
		}
		return true
	}, 3*time.Minute, time.Second, "spawns never terminated: %v", s.spawns(queueID))
	stopSampling()
	samplerWG.Wait()

	spawns := s.spawns(queueID)
	var spawnIDs []string
	for _, sp := range spawns {
		spawnIDs = append(spawnIDs, sp["id"].(string))
	}
	assert.LessOrEqual(t, maxLive, maxSpawns, "never more live spawns than the queue's max_spawns")
	assert.GreaterOrEqual(t, len(spawns), 1)
	assert.LessOrEqual(t, len(spawns), maxSpawns, "a burst of 10 jobs asks for one spawn per unmet need, not one per job")
	for spawnID := range ranOn {
		assert.Contains(t, spawnIDs, spawnID, "jobs ran on the queue's spawns")
	}
	assert.Empty(t, projectContainers(t, s.projectID(), spawnIDs), "no container left behind")
	status, events := s.call(http.MethodGet, "/v1/compute-spawns/"+spawnIDs[0]+"/events", nil)
	require.Equal(t, http.StatusOK, status, events)
	var states []string
	for _, e := range events["items"].([]any) {
		states = append(states, e.(map[string]any)["state"].(string))
	}
	require.GreaterOrEqual(t, len(states), 5, states)
	assert.Equal(t, []string{"requested", "idle"}, states[:2], "requested, then idle at the agent's first ping")
	assert.Equal(t, []string{"terminating", "terminated"}, states[len(states)-2:])
	assert.Contains(t, states, "busy")
	for _, st := range states[2 : len(states)-2] {
		assert.Contains(t, []string{"idle", "busy"}, st)
	}
}

// reconcileNow runs one reconciliation pass on the control worker, with no
// grace period, and returns what it did.
func reconcileNow(t testing.TB) activities.ReconcileResult {
	tc := testenv.Temporal(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "reconcile-" + testenv.RandomName("e2e"), TaskQueue: os.Getenv(config.EnvControlTaskQueue)},
		workflows.ReconcileWorkflow, workflows.ReconcileWorkflowInput{Grace: time.Millisecond})
	require.NoError(t, err)
	var res activities.ReconcileResult
	require.NoError(t, run.Get(ctx, &res))
	return res
}

// The worker is killed right after it asked for a machine: the restarted
// worker adopts the machine (found by its tag) instead of creating a
// second, the job runs, and after the idle termination and a
// reconciliation pass no container is left.
func TestWorkerKilledAfterCreateLeaksNoMachine(t *testing.T) {
	t.Setenv(config.EnvAgentImage, agentTestImage(t))
	t.Setenv(config.EnvEnableLocalDocker, "true") // the operator allows it: this machine is the test's own
	s := startSystem(t)
	queueID := s.localDockerQueue("kill", "local-1c-512m", map[string]any{"max_spawns": 1})
	status, def := s.call(http.MethodPost, "/v1/job-definitions", map[string]any{"name": "short", "type": "docker",
		"image": testenv.TestImage(), "command": []string{"echo", "ran"}})
	require.Equal(t, http.StatusCreated, status, def)
	status, sub := s.call(http.MethodPost, "/v1/client/job", map[string]any{"job_definition": "e2e::short", "job_queue": "e2e::kill"})
	require.Equal(t, http.StatusAccepted, status, sub)
	projectID := s.projectID()

	require.Eventually(t, func() bool { return len(projectContainers(t, projectID, nil)) > 0 }, time.Minute, 50*time.Millisecond,
		"no machine was created")
	require.NoError(t, s.worker.stop(), "the worker stops")
	s.worker = startRole("worker")

	job := s.waitJob(sub["id"].(string), 3*time.Minute)
	require.Equal(t, "completed", job["state"], job)
	assert.Equal(t, []string{"ran"}, s.logTexts(sub["id"].(string)))
	spawns := s.spawns(queueID)
	require.Len(t, spawns, 1, "one spawn: the restarted worker did not ask for another")
	require.Eventually(t, func() bool { return s.spawns(queueID)[0]["state"] == "terminated" }, 3*time.Minute, time.Second)

	// Reconciliation finds nothing of ours left to delete, and no container remains.
	res := reconcileNow(t)
	assert.Empty(t, res.Errors)
	assert.Empty(t, projectContainers(t, projectID, []string{spawns[0]["id"].(string)}))
}

// BenchmarkColdStartLocalDocker measures submit → container running on a
// queue with no spawn: the dispatcher requests a spawn, the SpawnWorkflow
// creates a localdocker machine, its agent registers and the job starts.
// Each cold start uses a queue of its own, so no warm spawn helps.
func BenchmarkColdStartLocalDocker(b *testing.B) {
	b.Setenv(config.EnvAgentImage, agentTestImage(b))
	b.Setenv(config.EnvEnableLocalDocker, "true")
	s := startSystem(b)
	status, def := s.call(http.MethodPost, "/v1/job-definitions", map[string]any{"name": "noop", "type": "docker",
		"image": testenv.TestImage(), "command": []string{"true"}})
	require.Equal(b, http.StatusCreated, status, def)
	const starts = 5
	var latencies []time.Duration
	n := 0
	for b.Loop() {
		for range starts {
			n++
			name := fmt.Sprintf("cold%d", n)
			s.localDockerQueue(name, "local-1c-512m", map[string]any{"max_spawns": 1})
			status, sub := s.call(http.MethodPost, "/v1/client/job", map[string]any{"job_definition": "e2e::noop", "job_queue": "e2e::" + name})
			require.Equal(b, http.StatusAccepted, status, sub)
			id := sub["id"].(string)
			s.waitJob(id, 3*time.Minute)
			_, d := s.call(http.MethodGet, "/v1/jobs/"+id, nil)
			created, _ := time.Parse(time.RFC3339Nano, d["created_at"].(string))
			run := d["runs"].([]any)[0].(map[string]any)
			started, err := time.Parse(time.RFC3339Nano, fmt.Sprint(run["started_at"]))
			require.NoError(b, err, "run without started_at: %v", run)
			latencies = append(latencies, started.Sub(created))
		}
	}
	slices.Sort(latencies)
	b.ReportMetric(float64(latencies[len(latencies)/2].Milliseconds()), "cold-submit-to-start-p50-ms")
	b.ReportMetric(float64(latencies[len(latencies)-1].Milliseconds()), "cold-submit-to-start-max-ms")
}
