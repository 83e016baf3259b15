package main

import (
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/testenv"
)

// runsOf is a job's runs as its detail shows them, in attempt order.
func (s *e2e) runsOf(id string) []map[string]any {
	status, d := s.call(http.MethodGet, "/v1/jobs/"+id, nil)
	require.Equal(s.t, http.StatusOK, status, d)
	var out []map[string]any
	for _, r := range d["runs"].([]any) {
		out = append(out, r.(map[string]any))
	}
	return out
}

// The retry strategy on the real system (#14): exit code 3 with a rule
// "3 → retry" runs again (attempt 2 sees DAESTRO_JOB_ATTEMPT=2 and
// succeeds), exit code 4 with "4 → exit" does not; between the attempts the
// job is pending with the retry's reason, never failed.
func TestRetryStrategyEndToEnd(t *testing.T) {
	image := agentTestImage(t)
	s := startSystem(t)
	ar := s.startAgent(image)
	s.waitIdle(ar.spawnID)
	status, def := s.call(http.MethodPost, "/v1/job-definitions", map[string]any{
		"name": "flaky", "type": "docker", "image": testenv.TestImage(),
		"command":        []string{"sh", "-c", `echo attempt=$DAESTRO_JOB_ATTEMPT; [ "$DAESTRO_JOB_ATTEMPT" -ge 2 ] && exit 0; exit Param::code`},
		"parameters":     map[string]string{"code": "3"},
		"retry_strategy": map[string]any{"attempts": 3, "evaluate_on_exit": []map[string]any{{"on_exit_code": "3", "action": "retry"}, {"on_exit_code": "4", "action": "exit"}}},
	})
	require.Equal(t, http.StatusCreated, status, def)

	status, sub := s.call(http.MethodPost, "/v1/client/job", map[string]any{"job_definition": "e2e::flaky", "job_queue": "e2e::etl"})
	require.Equal(t, http.StatusAccepted, status, sub)
	retried := sub["id"].(string)
	// Between the attempts: pending, waiting to retry, with the sentence
	// naming the next attempt and when it is due.
	var waiting map[string]any
	require.Eventually(t, func() bool {
		_, j := s.call(http.MethodGet, "/v1/jobs/"+retried, nil)
		assert.NotEqual(t, "failed", j["state"], "never final while a retry is due")
		waiting, _ = j["pending"].(map[string]any)
		return j["state"] == "pending" && waiting != nil && waiting["reason"] == "retry_wait"
	}, 60*time.Second, 200*time.Millisecond)
	assert.Regexp(t, `^waiting to retry \(attempt 2 of 3 at \d\d:\d\d:\d\d\)$`, waiting["detail"])
	job := s.waitJob(retried, 120*time.Second)
	assert.Equal(t, "completed", job["state"], "%v", job)
	runs := s.runsOf(retried)
	require.Len(t, runs, 2)
	assert.Equal(t, "failed", runs[0]["state"])
	assert.EqualValues(t, 3, runs[0]["exit_code"])
	assert.Contains(t, fmt.Sprint(runs[0]["system_note"]), "retrying as attempt 2 of 3")
	assert.Equal(t, "completed", runs[1]["state"])
	assert.EqualValues(t, 2, runs[1]["attempt"])

	status, sub = s.call(http.MethodPost, "/v1/client/job", map[string]any{"job_definition": "e2e::flaky", "job_queue": "e2e::etl",
		"container_cmd_parameter": map[string]string{"code": "4"}})
	require.Equal(t, http.StatusAccepted, status, sub)
	exited := sub["id"].(string)
	job = s.waitJob(exited, 120*time.Second)
	assert.Equal(t, "failed", job["state"], "%v", job)
	assert.Len(t, s.runsOf(exited), 1, "4 → exit: no retry")
}

// An agent killed for good mid-run (#14): its spawn goes unreachable, the
// run ends interrupted at once, and the default strategy runs the job again
// as attempt 2 — on the other agent of the queue, where it completes.
func TestInterruptedJobCompletesOnAnotherAgent(t *testing.T) {
	image := agentTestImage(t)
	s := startSystem(t, systemOptions{unreachableAfter: "30s"})
	envID, queueID := s.selfHostedQueue("etl", map[string]any{})
	first := s.addAgent(image, envID, queueID)
	s.waitIdle(first.spawnID)
	status, def := s.call(http.MethodPost, "/v1/job-definitions", map[string]any{
		"name": "long-first", "type": "docker", "image": testenv.TestImage(),
		"command": []string{"sh", "-c", `echo attempt=$DAESTRO_JOB_ATTEMPT on $DAESTRO_COMPUTE_SPAWN_ID; [ "$DAESTRO_JOB_ATTEMPT" = 1 ] && sleep 600; echo done`},
	})
	require.Equal(t, http.StatusCreated, status, def)
	status, sub := s.call(http.MethodPost, "/v1/client/job", map[string]any{"job_definition": "e2e::long-first", "job_queue": "e2e::etl"})
	require.Equal(t, http.StatusAccepted, status, sub)
	id := sub["id"].(string)
	s.waitRunning(id)

	second := s.addAgent(image, envID, queueID)
	s.waitIdle(second.spawnID)
	docker(t, "rm", "-f", first.container) // the agent dies for good (its job container stays, as on a lost machine)
	t.Cleanup(func() { removeRunContainers(t, first.spawnID) })

	job := s.waitJob(id, 3*time.Minute)
	assert.Equal(t, "completed", job["state"], "%v", job)
	runs := s.runsOf(id)
	require.Len(t, runs, 2)
	assert.Equal(t, "error", runs[0]["state"])
	assert.Equal(t, "interrupted", runs[0]["reason"])
	assert.Contains(t, fmt.Sprint(runs[0]["system_note"]), "interrupted: compute spawn "+first.spawnID+" became unreachable (no ping for 30s)")
	assert.Equal(t, first.spawnID, runs[0]["compute_spawn_id"])
	assert.Equal(t, "completed", runs[1]["state"])
	assert.Equal(t, second.spawnID, runs[1]["compute_spawn_id"], "attempt 2 ran on the other agent")
	assert.Contains(t, s.logTexts(id), "attempt=2 on "+second.spawnID)
}

// removeRunContainers removes the job containers a spawn's agent started
// (an agent removed by force leaves them behind).
func removeRunContainers(t *testing.T, spawnID string) {
	out, err := exec.Command("docker", "ps", "-aq", "--filter", "label=daestro.spawn-id="+spawnID).Output()
	if err != nil {
		t.Logf("list the run containers of spawn %s: %v", spawnID, err)
		return
	}
	for _, id := range strings.Fields(string(out)) {
		_ = exec.Command("docker", "rm", "-f", id).Run()
	}
}

// Dependencies on the real system (#14): a job waits pending for the job it
// depends on ("waiting for job X (running)") and runs once it completed; a
// job that needs a failed one to succeed is cancelled with a note naming it.
func TestDependenciesEndToEnd(t *testing.T) {
	image := agentTestImage(t)
	s := startSystem(t)
	ar := s.startAgent(image)
	s.waitIdle(ar.spawnID)
	status, def := s.call(http.MethodPost, "/v1/job-definitions", map[string]any{
		"name": "step", "type": "docker", "image": testenv.TestImage(),
		"command": []string{"sh", "-c", "echo Param::name; sleep Param::sleep; exit Param::code"}, "parameters": map[string]string{"sleep": "0", "code": "0"},
	})
	require.Equal(t, http.StatusCreated, status, def)
	submit := func(params map[string]string, deps ...map[string]any) string {
		body := map[string]any{"job_definition": "step", "job_queue": "etl", "container_cmd_parameter": params}
		if len(deps) > 0 {
			body["depends_on"] = deps
		}
		status, sub := s.call(http.MethodPost, "/v1/jobs", body)
		require.Equal(t, http.StatusAccepted, status, sub)
		return sub["id"].(string)
	}
	first := submit(map[string]string{"name": "first", "sleep": "4"})
	then := submit(map[string]string{"name": "then"}, map[string]any{"job_id": first})
	require.Eventually(t, func() bool {
		_, j := s.call(http.MethodGet, "/v1/jobs/"+then, nil)
		p, _ := j["pending"].(map[string]any)
		return j["state"] == "pending" && p != nil && p["detail"] == "waiting for job "+first+" (running)"
	}, 60*time.Second, 200*time.Millisecond, "the dependent waits, saying for which job")
	assert.Equal(t, "completed", s.waitJob(then, 120*time.Second)["state"])
	assert.Equal(t, "completed", s.waitJob(first, 5*time.Second)["state"])
	firstRuns, thenRuns := s.runsOf(first), s.runsOf(then)
	assert.False(t, parseTime(t, thenRuns[0]["started_at"]).Before(parseTime(t, firstRuns[0]["finished_at"])), "it ran after the job it depends on ended")

	failing := submit(map[string]string{"name": "failing", "code": "2"})
	after := submit(map[string]string{"name": "after"}, map[string]any{"job_id": failing})
	anyway := submit(map[string]string{"name": "anyway"}, map[string]any{"job_id": failing, "type": "completion"})
	job := s.waitJob(after, 120*time.Second)
	assert.Equal(t, "cancelled", job["state"])
	assert.Equal(t, "dependency "+failing+" failed", job["system_note"])
	assert.Equal(t, "completed", s.waitJob(anyway, 120*time.Second)["state"], "a completion dependency runs however the other ended")
}

func parseTime(t *testing.T, v any) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(v))
	require.NoError(t, err, "%v", v)
	return at
}
