package main

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/contract"
	"daestro/internal/testenv"
)

// An operator's cancellation of a job's workflow in Temporal itself (the Web
// UI's Cancel, `temporal workflow cancel`: the SDK's CancelWorkflow is the
// same request) ends the job cancelled in Postgres in every phase, and
// stops and removes a running container.
func TestOperatorCancelInTemporalEndsTheJobInEveryPhase(t *testing.T) {
	image := agentTestImage(t)
	s := startSystem(t)
	ar := s.startAgent(image)
	s.selfHostedQueue("empty", map[string]any{}) // no spawn: its jobs wait
	s.waitIdle(ar.spawnID)
	status, def := s.call(http.MethodPost, "/v1/job-definitions", map[string]any{
		"name": "sleeper", "type": "docker", "image": testenv.TestImage(), "command": []string{"sleep", "300"}, "cpu_quota_pct": 50, "memory_mb": 64,
	})
	require.Equal(t, http.StatusCreated, status, def)
	tc := testenv.Temporal(t)
	submit := func(body map[string]any) string {
		body["job_definition"] = "e2e::sleeper"
		status, sub := s.call(http.MethodPost, "/v1/client/job", body)
		require.Equal(t, http.StatusAccepted, status, sub)
		return sub["id"].(string)
	}
	cancelInTemporal := func(id string) map[string]any {
		require.NoError(t, tc.CancelWorkflow(context.Background(), contract.JobWorkflowID(id), ""))
		return s.waitJob(id, 90*time.Second)
	}

	pending := submit(map[string]any{"job_queue": "e2e::etl", "schedule_at": time.Now().Add(time.Hour).Unix()})
	require.Eventually(t, func() bool {
		_, j := s.call(http.MethodGet, "/v1/client/job/"+pending, nil)
		return j["state"] == "pending"
	}, 30*time.Second, 100*time.Millisecond)
	assert.Equal(t, "cancelled", cancelInTemporal(pending)["state"], "cancelled while waiting for schedule_at, not run early")

	queued := submit(map[string]any{"job_queue": "e2e::empty"})
	require.Eventually(t, func() bool {
		_, j := s.call(http.MethodGet, "/v1/client/job/"+queued, nil)
		return j["state"] == "runnable"
	}, 30*time.Second, 100*time.Millisecond)
	assert.Equal(t, "cancelled", cancelInTemporal(queued)["state"], "cancelled while waiting for capacity")

	running := submit(map[string]any{"job_queue": "e2e::etl"})
	s.waitRunning(running)
	_, detail := s.call(http.MethodGet, "/v1/jobs/"+running, nil)
	runID := detail["runs"].([]any)[0].(map[string]any)["id"].(string)
	assert.Equal(t, "cancelled", cancelInTemporal(running)["state"], "cancelled while running")
	require.Eventually(t, func() bool {
		return docker(t, "ps", "-a", "--filter", "name=daestro-run-"+runID, "--format", "{{.Names}}") == ""
	}, 30*time.Second, 500*time.Millisecond, "the container is stopped and removed")
	_, spawn := s.call(http.MethodGet, "/v1/compute-spawns/"+ar.spawnID, nil)
	assert.Equal(t, 0.0, spawn["capacity"].(map[string]any)["allocated_cpu_pct"], "the run's allocation is released: %v", spawn)
}

// An API outage of minutes while agents pick jobs up fails no job: the
// agent retries the spec fetch inside its attempt while the server is away,
// the attempts a lost heartbeat ends are retried, and a running container
// is left running for the next attempt to take back, not stopped.
func TestAPIOutageWhileJobsArePickedUpFailsNoJob(t *testing.T) {
	image := agentTestImage(t)
	s := startSystem(t)
	ar := s.startAgent(image)
	s.waitIdle(ar.spawnID)
	status, def := s.call(http.MethodPost, "/v1/job-definitions", map[string]any{
		"name": "hello", "type": "docker", "image": testenv.TestImage(), "command": []string{"sh", "-c", "echo hello; sleep 1"},
	})
	require.Equal(t, http.StatusCreated, status, def)
	// One job runs through the whole outage: its attempt's heartbeats time
	// out meanwhile, which must not stop its container.
	status, sub := s.call(http.MethodPost, "/v1/client/job", map[string]any{"job_definition": "e2e::hello", "job_queue": "e2e::etl",
		"container_cmd": []string{"sh", "-c", "echo long; sleep 200; echo done"}})
	require.Equal(t, http.StatusAccepted, status, sub)
	long := sub["id"].(string)
	s.waitRunning(long)
	var ids []string
	for range 5 {
		status, sub := s.call(http.MethodPost, "/v1/client/job", map[string]any{"job_definition": "e2e::hello", "job_queue": "e2e::etl"})
		require.Equal(t, http.StatusAccepted, status, sub)
		ids = append(ids, sub["id"].(string))
	}
	require.NoError(t, s.server.stop(), "the API goes away while the jobs are being picked up")
	time.Sleep(3 * time.Minute)
	s.server = startRole("server")
	s.waitReady()
	for _, id := range ids {
		job := s.waitJob(id, 5*time.Minute)
		assert.Equal(t, "completed", job["state"], "%v", job)
		assert.Equal(t, []string{"hello"}, s.logTexts(id))
	}
	job := s.waitJob(long, 5*time.Minute)
	assert.Equal(t, "completed", job["state"], "the job that ran through the outage was not stopped: %v", job)
	assert.Equal(t, []string{"long", "done"}, s.logTexts(long))
	_, detail := s.call(http.MethodGet, "/v1/jobs/"+long, nil)
	assert.Len(t, detail["runs"], 1, "one run: the outage did not re-run it")
}

// A job without quotas on a spawn that offers less than its machine is held
// to the offer by cgroup limits, and an OOM kill says what the limit was.
func TestJobWithoutQuotasIsHeldToTheSpawnsOffer(t *testing.T) {
	image := agentTestImage(t)
	s := startSystem(t)
	envID, queueID := s.selfHostedQueue("small", map[string]any{})
	ar := s.addAgent(image, envID, queueID, "DAESTRO_AGENT_MEMORY_MB=64")
	s.waitIdle(ar.spawnID)
	status, def := s.call(http.MethodPost, "/v1/job-definitions", map[string]any{
		"name": "hungry", "type": "docker", "image": testenv.TestImage(),
		"command": []string{"dd", "if=/dev/zero", "of=/dev/null", "bs=200M", "count=1"},
	})
	require.Equal(t, http.StatusCreated, status, def)
	status, sub := s.call(http.MethodPost, "/v1/client/job", map[string]any{"job_definition": "e2e::hungry", "job_queue": "e2e::small"})
	require.Equal(t, http.StatusAccepted, status, sub)
	job := s.waitJob(sub["id"].(string), 2*time.Minute)
	assert.Equal(t, "failed", job["state"], "%v", job)
	assert.Equal(t, "killed: out of memory at 64 MB", job["system_note"], "the limit that held is the spawn's offer, not 0 MB")
}

// Restarting an agent never removes a running job container that an open
// run owns, however old, and agents sharing an engine leave each other's
// containers alone. (DAESTRO_AGENT_REAP_AFTER=1s makes every container
// "older than the limit", as a job of 20 minutes would be.)
func TestAgentRestartKeepsLongRunningContainersOfItsOwnAndOthers(t *testing.T) {
	image := agentTestImage(t)
	s := startSystem(t)
	envA, queueA := s.selfHostedQueue("alpha", map[string]any{})
	envB, queueB := s.selfHostedQueue("beta", map[string]any{})
	a := s.addAgent(image, envA, queueA, "DAESTRO_AGENT_REAP_AFTER=1s")
	b := s.addAgent(image, envB, queueB, "DAESTRO_AGENT_REAP_AFTER=1s")
	s.waitIdle(a.spawnID)
	s.waitIdle(b.spawnID)
	status, def := s.call(http.MethodPost, "/v1/job-definitions", map[string]any{
		"name": "count", "type": "docker", "image": testenv.TestImage(),
		"command": []string{"sh", "-c", "for i in $(seq 1 25); do echo $i; sleep 1; done"},
	})
	require.Equal(t, http.StatusCreated, status, def)
	var ids []string
	for _, q := range []string{"e2e::alpha", "e2e::beta"} {
		status, sub := s.call(http.MethodPost, "/v1/client/job", map[string]any{"job_definition": "e2e::count", "job_queue": q})
		require.Equal(t, http.StatusAccepted, status, sub)
		ids = append(ids, sub["id"].(string))
	}
	for _, id := range ids {
		s.waitRunning(id)
	}
	time.Sleep(3 * time.Second) // both containers are older than the limit now
	// Restart both: each reaps at start, with the other's job running on the same engine.
	for _, ar := range []agentRun{a, b} {
		docker(t, "restart", "-t", "0", ar.container)
	}
	var want []string
	for i := 1; i <= 25; i++ {
		want = append(want, strconv.Itoa(i))
	}
	for _, id := range ids {
		job := s.waitJob(id, 3*time.Minute)
		assert.Equal(t, "completed", job["state"], "%v", job)
		assert.Equal(t, want, s.logTexts(id), "the container ran to its end: every line")
	}
}
