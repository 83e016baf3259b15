package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"daestro/internal/agentapi"
	"daestro/internal/contract"
	"daestro/internal/testenv"
)

// waitJob polls the client API until the job reaches a final state.
func (s *e2e) waitJob(id string, within time.Duration) map[string]any {
	var job map[string]any
	require.Eventually(s.t, func() bool {
		_, job = s.call(http.MethodGet, "/v1/client/job/"+id, nil)
		switch job["state"] {
		case "completed", "failed", "timeout", "cancelled", "error":
			return true
		}
		return false
	}, within, 250*time.Millisecond, "job %s never finished; last: %v", id, job)
	return job
}

// A job submitted through Daestro's client API runs as a container on a
// self-hosted agent, and its outcome and logs come back — the product's
// whole path, with every process as a user runs it.
func TestJobRunsOnAnAgentEndToEnd(t *testing.T) {
	image := agentTestImage(t)
	s := startSystem(t)
	ar := s.startAgent(image)
	s.waitIdle(ar.spawnID)

	status, def := s.call(http.MethodPost, "/v1/job-definitions", map[string]any{
		"name": "greet", "type": "docker", "image": testenv.TestImage(),
		"command":       []string{"sh", "-c", "echo hello Param::who; echo job=$DAESTRO_JOB_ID; echo secret=$TOKEN; exit Param::code"},
		"parameters":    map[string]string{"who": "world", "code": "0"},
		"env":           map[string]any{"TOKEN": map[string]any{"value": "s3cr3t-value", "sensitive": true}},
		"cpu_quota_pct": 50, "memory_mb": 64, "timeout_seconds": 60,
	})
	require.Equal(t, http.StatusCreated, status, def)

	status, sub := s.call(http.MethodPost, "/v1/client/job", map[string]any{
		"job_definition": "e2e::greet", "job_queue": "e2e::etl",
		"container_cmd_parameter": map[string]string{"who": "daestro"},
	})
	require.Equal(t, http.StatusAccepted, status, sub)
	jobID := sub["id"].(string)
	job := s.waitJob(jobID, 120*time.Second)
	assert.Equal(t, "completed", job["state"], "%v", job)

	assert.Equal(t, []string{"hello daestro", "job=" + jobID, "secret=***"}, s.logTexts(jobID),
		"every line, in order; params substituted; env injected (the container saw the sensitive value: it is masked where it was printed)")

	// A failing command fails the job with its exit code.
	status, sub = s.call(http.MethodPost, "/v1/client/job", map[string]any{
		"job_definition": "e2e::greet", "job_queue": "e2e::etl", "container_cmd_parameter": map[string]string{"code": "3"},
	})
	require.Equal(t, http.StatusAccepted, status, sub)
	job = s.waitJob(sub["id"].(string), 120*time.Second)
	assert.Equal(t, "failed", job["state"])
	assert.Contains(t, fmt.Sprint(job["system_note"]), "3")

	// A quota above what any spawn offers takes the whole (empty) spawn and runs on all of it.
	status, def = s.call(http.MethodPost, "/v1/job-definitions", map[string]any{"name": "huge", "type": "docker",
		"image": testenv.TestImage(), "command": []string{"echo", "big"}, "cpu_quota_pct": 6400, "memory_mb": 64})
	require.Equal(t, http.StatusCreated, status, def)
	status, sub = s.call(http.MethodPost, "/v1/client/job", map[string]any{"job_definition": "e2e::huge", "job_queue": "e2e::etl"})
	require.Equal(t, http.StatusAccepted, status, sub)
	job = s.waitJob(sub["id"].(string), 120*time.Second)
	assert.Equal(t, "completed", job["state"], "an oversize job runs capped to the spawn: %v", job)

	// A job that runs 12 s: its lines stream live over SSE while it runs, and
	// it has CPU and memory samples (the agent takes one every 5 s).
	status, sub = s.call(http.MethodPost, "/v1/client/job", map[string]any{
		"job_definition": "e2e::greet", "job_queue": "e2e::etl",
		"container_cmd": []string{"sh", "-c", "for i in $(seq 1 12); do echo tick-$i; sleep 1; done"},
	})
	require.Equal(t, http.StatusAccepted, status, sub)
	slow := sub["id"].(string)
	s.waitRunning(slow)
	req, _ := http.NewRequest(http.MethodGet, s.baseURL+"/v1/jobs/"+slow+"/logs?follow=true", nil)
	req.Header.Set("Authorization", "Bearer "+s.key)
	resp, err := s.http.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "text/event-stream", strings.Split(resp.Header.Get("Content-Type"), ";")[0])
	var streamed []string
	stateAtFirstLine := ""
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		// "field:value", one optional space after the colon (the SSE spec).
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		if field == "event" && value == "end" {
			break
		}
		if data := value; field == "data" && strings.Contains(data, "tick-") {
			var l struct{ Text string }
			require.NoError(t, json.Unmarshal([]byte(data), &l), data)
			if len(streamed) == 0 {
				_, j := s.call(http.MethodGet, "/v1/client/job/"+slow, nil)
				stateAtFirstLine = fmt.Sprint(j["state"])
			}
			streamed = append(streamed, l.Text)
		}
	}
	assert.Equal(t, "running", stateAtFirstLine, "lines arrive while the job runs, not after")
	var ticks []string
	for i := 1; i <= 12; i++ {
		ticks = append(ticks, fmt.Sprintf("tick-%d", i))
	}
	assert.Equal(t, ticks, streamed, "the stream delivers every line in order and ends when the run ends")
	assert.Equal(t, "completed", s.waitJob(slow, 120*time.Second)["state"])
	status, metrics := s.call(http.MethodGet, "/v1/jobs/"+slow+"/metrics", nil)
	require.Equal(t, http.StatusOK, status, metrics)
	assert.NotEmpty(t, metrics["samples"], "%v", metrics)
	summary, _ := metrics["summary"].(map[string]any)
	assert.Greater(t, summary["memory_bytes_max"], 0.0, "%v", metrics)

	// A cancel reaches a running container.
	status, sub = s.call(http.MethodPost, "/v1/client/job", map[string]any{
		"job_definition": "e2e::greet", "job_queue": "e2e::etl", "container_cmd": []string{"sleep", "300"},
	})
	require.Equal(t, http.StatusAccepted, status, sub)
	id := sub["id"].(string)
	s.waitRunning(id)
	// The job's workflow owns its state: its query and the search
	// attribute the README's `temporal workflow list` uses say running too.
	tc := testenv.Temporal(t)
	v, err := tc.QueryWorkflow(context.Background(), contract.JobWorkflowID(id), "", contract.QueryJobState)
	require.NoError(t, err)
	var wfState string
	require.NoError(t, v.Get(&wfState))
	assert.Equal(t, "running", wfState)
	require.Eventually(t, func() bool {
		list, err := tc.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("WorkflowId = '%s' AND %s = 'running'", contract.JobWorkflowID(id), contract.SearchAttrJobState)})
		return err == nil && len(list.GetExecutions()) == 1
	}, 15*time.Second, 200*time.Millisecond, "DaestroJobState='running' finds the running job")
	_, running := s.call(http.MethodGet, "/v1/jobs/"+id, nil)
	runningRun := running["runs"].([]any)[0].(map[string]any)["id"]
	_, spawn := s.call(http.MethodGet, "/v1/compute-spawns/"+ar.spawnID, nil)
	assert.Contains(t, spawn["running_runs"], runningRun, "the spawn lists the run it runs: %v", spawn)
	require.Eventually(t, func() bool {
		_, spawn = s.call(http.MethodGet, "/v1/compute-spawns/"+ar.spawnID, nil)
		runs, _ := spawn["agent_runs"].([]any)
		return slices.Contains(runs, runningRun)
	}, 30*time.Second, 200*time.Millisecond, "the agent's pings report the run it follows: %v", spawn)
	assert.Equal(t, 50.0, spawn["capacity"].(map[string]any)["allocated_cpu_pct"], "the run holds its quota on the spawn")
	// The spawn's workflow hears of the allocation by a signal: under load
	// it may turn busy a moment after the job turned running.
	require.Eventually(t, func() bool {
		_, spawn = s.call(http.MethodGet, "/v1/compute-spawns/"+ar.spawnID, nil)
		return spawn["state"] == "busy"
	}, 15*time.Second, 200*time.Millisecond, "a spawn running a job is busy: %v", spawn)
	status, body := s.call(http.MethodPost, "/v1/client/job/"+id+"/cancel", nil)
	require.Equal(t, http.StatusAccepted, status, body)
	job = s.waitJob(id, 60*time.Second)
	assert.Equal(t, "cancelled", job["state"])
	_, detail := s.call(http.MethodGet, "/v1/jobs/"+id, nil)
	runs, _ := detail["runs"].([]any)
	require.NotEmpty(t, runs, "%v", detail)
	runID := runs[0].(map[string]any)["id"].(string)
	require.Eventually(t, func() bool {
		return docker(t, "ps", "-a", "--filter", "name=daestro-run-"+runID, "--format", "{{.Names}}") == ""
	}, 30*time.Second, 500*time.Millisecond, "the cancelled run's container is removed")
}

// waitRunning polls the client API until the job's container runs.
func (s *e2e) waitRunning(id string) {
	s.t.Helper()
	require.Eventually(s.t, func() bool {
		_, j := s.call(http.MethodGet, "/v1/client/job/"+id, nil)
		return j["state"] == "running"
	}, 90*time.Second, 100*time.Millisecond, "job %s never ran", id)
}

// logTexts is the text of every log line of the job's current run, in order.
func (s *e2e) logTexts(id string) []string {
	s.t.Helper()
	status, logs := s.call(http.MethodGet, "/v1/jobs/"+id+"/logs", nil)
	require.Equal(s.t, http.StatusOK, status, logs)
	var out []string
	for _, l := range logs["lines"].([]any) {
		out = append(out, l.(map[string]any)["text"].(string))
	}
	return out
}

// projectID is the key's project.
func (s *e2e) projectID() string {
	_, p := s.call(http.MethodGet, "/v1/project", nil)
	return p["id"].(string)
}

// The agent is killed while a job runs and started again: the retried
// WaitJob re-attaches to the same container and the job completes once, its
// log complete and without duplicates.
func TestAgentKilledMidRunReattaches(t *testing.T) {
	image := agentTestImage(t)
	s := startSystem(t)
	ar := s.startAgent(image)
	s.waitIdle(ar.spawnID)
	status, def := s.call(http.MethodPost, "/v1/job-definitions", map[string]any{
		"name": "count", "type": "docker", "image": testenv.TestImage(),
		"command": []string{"sh", "-c", "for i in $(seq 1 40); do echo $i; sleep 0.5; done"},
	})
	require.Equal(t, http.StatusCreated, status, def)
	status, sub := s.call(http.MethodPost, "/v1/client/job", map[string]any{"job_definition": "e2e::count", "job_queue": "e2e::etl"})
	require.Equal(t, http.StatusAccepted, status, sub)
	jobID := sub["id"].(string)
	s.waitRunning(jobID)
	time.Sleep(3 * time.Second) // some lines shipped, some not yet

	docker(t, "kill", ar.container)
	// Away long enough for the container to exit meanwhile (it runs about
	// 20 s): the restarted agent collects an exited container.
	time.Sleep(40 * time.Second)
	docker(t, "start", ar.container)

	job := s.waitJob(jobID, 4*time.Minute)
	assert.Equal(t, "completed", job["state"], "%v", job)
	got := s.logTexts(jobID)
	var want []string
	for i := 1; i <= 40; i++ {
		want = append(want, fmt.Sprint(i))
	}
	assert.Equal(t, want, got, "every line exactly once, in order, across the agent restart")
	_, detail := s.call(http.MethodGet, "/v1/jobs/"+jobID, nil)
	require.Len(t, detail["runs"], 1, "one run: the restart did not re-run the job")
	// The container exits about 20 s after its start, long before the
	// restarted agent takes the run back: the run's times are the
	// container's, not the report's.
	r := detail["runs"].([]any)[0].(map[string]any)
	startedAt, err := time.Parse(time.RFC3339Nano, fmt.Sprint(r["started_at"]))
	require.NoError(t, err, "%v", r)
	finishedAt, err := time.Parse(time.RFC3339Nano, fmt.Sprint(r["finished_at"]))
	require.NoError(t, err, "%v", r)
	assert.Less(t, finishedAt.Sub(startedAt), 35*time.Second, "the runtime is the container's (about 20 s): %v", r)
	assert.Greater(t, finishedAt.Sub(startedAt), 15*time.Second, "%v", r)

}

// BenchmarkAgentRestartReattach kills the agent of a spawn running 10 jobs
// (kill -9, as a crash would), starts it again at once, and reports the time
// from the kill until each run's WaitJob is running again on the restarted
// agent (its attempt moved on and started), p50 and max: the product's goal
// is within 10 s.
func BenchmarkAgentRestartReattach(b *testing.B) {
	image := agentTestImage(b)
	s := startSystem(b)
	ar := s.startAgent(image)
	s.waitIdle(ar.spawnID)
	status, def := s.call(http.MethodPost, "/v1/job-definitions", map[string]any{
		"name": "long", "type": "docker", "image": testenv.TestImage(), "command": []string{"sleep", "600"}, "cpu_quota_pct": 10, "memory_mb": 16})
	require.Equal(b, http.StatusCreated, status, def)
	tc := testenv.Temporal(b)
	const runs = 10
	var took []time.Duration
	for b.Loop() {
		var ids []string
		for range runs {
			status, sub := s.call(http.MethodPost, "/v1/client/job", map[string]any{"job_definition": "e2e::long", "job_queue": "e2e::etl"})
			require.Equal(b, http.StatusAccepted, status, sub)
			ids = append(ids, sub["id"].(string))
		}
		waitAttempt := func(id string) int32 {
			var attempt int32
			require.Eventually(b, func() bool {
				d, err := tc.DescribeWorkflowExecution(context.Background(), contract.JobWorkflowID(id), "")
				if err != nil {
					return false
				}
				for _, pa := range d.GetPendingActivities() {
					if pa.GetActivityType().GetName() == agentapi.WaitJobActivity && pa.GetState() == enumspb.PENDING_ACTIVITY_STATE_STARTED {
						attempt = pa.GetAttempt()
						return true
					}
				}
				return false
			}, 2*time.Minute, 50*time.Millisecond, "job %s never waited on its container", id)
			return attempt
		}
		before := map[string]int32{}
		for _, id := range ids {
			before[id] = waitAttempt(id)
		}
		killed := time.Now()
		docker(b, "kill", ar.container)
		docker(b, "start", ar.container)
		// Every run is polled in each pass, so each is timed when it is back.
		back := map[string]bool{}
		for deadline := time.Now().Add(3 * time.Minute); len(back) < len(ids); {
			require.True(b, time.Now().Before(deadline), "runs never taken back: %d of %d", len(back), len(ids))
			for _, id := range ids {
				if back[id] {
					continue
				}
				d, err := tc.DescribeWorkflowExecution(context.Background(), contract.JobWorkflowID(id), "")
				if err != nil {
					continue
				}
				for _, pa := range d.GetPendingActivities() {
					if pa.GetActivityType().GetName() == agentapi.WaitJobActivity && pa.GetState() == enumspb.PENDING_ACTIVITY_STATE_STARTED &&
						pa.GetAttempt() > before[id] {
						back[id] = true
						took = append(took, time.Since(killed))
					}
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, id := range ids {
			status, body := s.call(http.MethodPost, "/v1/client/job/"+id+"/cancel", nil)
			require.Equal(b, http.StatusAccepted, status, body)
		}
		for _, id := range ids {
			s.waitJob(id, 2*time.Minute)
		}
	}
	slices.Sort(took)
	b.ReportMetric(took[len(took)/2].Seconds(), "reattach-p50-s")
	b.ReportMetric(took[len(took)-1].Seconds(), "reattach-max-s")
}

// BenchmarkSubmitToRunning submits jobs one after another to a warm, idle
// spawn and reports the time from submission (the job row's created_at) to
// the container start the agent reported (the run's started_at), p50 and
// p99, next to a bare `docker run` of the same image; and the Temporal
// history events one simple job costs.
func BenchmarkSubmitToRunning(b *testing.B) {
	image := agentTestImage(b)
	s := startSystem(b)
	ar := s.startAgent(image)
	s.waitIdle(ar.spawnID)
	status, def := s.call(http.MethodPost, "/v1/job-definitions", map[string]any{
		"name": "noop", "type": "docker", "image": testenv.TestImage(), "command": []string{"true"}, "cpu_quota_pct": 10, "memory_mb": 16})
	require.Equal(b, http.StatusCreated, status, def)

	const jobs = 50
	var latencies, bare []time.Duration
	var lastJob string
	for b.Loop() {
		latencies, bare = latencies[:0], bare[:0]
		for range jobs {
			status, sub := s.call(http.MethodPost, "/v1/client/job", map[string]any{"job_definition": "e2e::noop", "job_queue": "e2e::etl"})
			require.Equal(b, http.StatusAccepted, status, sub)
			lastJob = sub["id"].(string)
			s.waitJob(lastJob, time.Minute)
			_, d := s.call(http.MethodGet, "/v1/jobs/"+lastJob, nil)
			created, _ := time.Parse(time.RFC3339Nano, d["created_at"].(string))
			run := d["runs"].([]any)[0].(map[string]any)
			started, err := time.Parse(time.RFC3339Nano, fmt.Sprint(run["started_at"]))
			require.NoError(b, err, "run without started_at: %v", run)
			latencies = append(latencies, started.Sub(created))

			t0 := time.Now()
			docker(b, "run", "--rm", testenv.TestImage(), "true")
			bare = append(bare, time.Since(t0))
		}
	}
	p := func(ds []time.Duration, q float64) time.Duration {
		sorted := slices.Clone(ds)
		slices.Sort(sorted)
		return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
	}
	b.ReportMetric(float64(p(latencies, 0.5).Milliseconds()), "submit-to-start-p50-ms")
	b.ReportMetric(float64(p(latencies, 0.99).Milliseconds()), "submit-to-start-p99-ms")
	b.ReportMetric(float64(p(bare, 0.5).Milliseconds()), "bare-docker-run-p50-ms")
	b.ReportMetric(float64(p(latencies, 0.5))/float64(p(bare, 0.5)), "p50-ratio-to-bare")

	events := 0
	iter := testenv.Temporal(b).GetWorkflowHistory(context.Background(), "job/"+lastJob, "", false, 0)
	for iter.HasNext() {
		_, err := iter.Next()
		require.NoError(b, err)
		events++
	}
	b.ReportMetric(float64(events), "history-events/job")
}

// Fifty jobs, with and without quotas, over two agents: all finish, and at no
// sampled moment is a spawn over its capacity, a whole-spawn job sharing its
// spawn, or the queue over its max concurrency.
func TestFiftyMixedJobsOnTwoAgents(t *testing.T) {
	image := agentTestImage(t)
	s := startSystem(t)
	const maxConcurrency = 5
	envID, queueID := s.selfHostedQueue("batch", map[string]any{"max_concurrency": maxConcurrency})
	// Each agent offers 2 cores and 512 MB, whatever the host has.
	a1 := s.addAgent(image, envID, queueID, "DAESTRO_AGENT_CPU_PCT=200", "DAESTRO_AGENT_MEMORY_MB=512")
	a2 := s.addAgent(image, envID, queueID, "DAESTRO_AGENT_CPU_PCT=200", "DAESTRO_AGENT_MEMORY_MB=512")
	s.waitIdle(a1.spawnID)
	s.waitIdle(a2.spawnID)
	for name, quota := range map[string]map[string]any{
		"small": {"cpu_quota_pct": 50, "memory_mb": 100}, // four fit a spawn
		"big":   {"cpu_quota_pct": 150, "memory_mb": 300},
		"whole": {}, // no quota: a spawn of its own
	} {
		body := map[string]any{"name": name, "type": "docker", "image": testenv.TestImage(), "command": []string{"sleep", "1"}}
		for k, v := range quota {
			body[k] = v
		}
		status, def := s.call(http.MethodPost, "/v1/job-definitions", body)
		require.Equal(t, http.StatusCreated, status, def)
	}

	// Sample the allocations the dispatcher holds while the jobs run.
	st := testenv.OpenStore(t, os.Getenv("DAESTRO_DATABASE_URL"))
	ctx, stopSampling := context.WithCancel(context.Background())
	var violations []string
	var samples int
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for ctx.Err() == nil {
			rows, err := st.Pool.Query(ctx, `SELECT s.id, s.capacity_cpu_pct, s.capacity_memory_mb,
					COALESCE(sum(a.cpu_pct), 0), COALESCE(sum(a.memory_mb), 0), count(a.run_id), COALESCE(bool_or(a.whole_spawn), false)
				FROM compute_spawns s LEFT JOIN allocations a ON a.compute_spawn_id = s.id GROUP BY s.id`)
			if err == nil {
				total := 0
				for rows.Next() {
					var id string
					var capCPU, capMem, cpu, mem, n int
					var whole bool
					_ = rows.Scan(&id, &capCPU, &capMem, &cpu, &mem, &n, &whole)
					total += n
					if (!whole && (cpu > capCPU || mem > capMem)) || (whole && n > 1) {
						violations = append(violations, fmt.Sprintf("spawn %s: %d runs, %d%% cpu, %d MB (capacity %d%%, %d MB, whole=%v)", id, n, cpu, mem, capCPU, capMem, whole))
					}
				}
				rows.Close()
				if total > maxConcurrency {
					violations = append(violations, fmt.Sprintf("%d runs allocated in a queue limited to %d", total, maxConcurrency))
				}
				samples++
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()

	var ids []string
	for i := range 50 {
		def := []string{"small", "small", "small", "big", "whole"}[i%5]
		status, sub := s.call(http.MethodPost, "/v1/client/job", map[string]any{"job_definition": "e2e::" + def, "job_queue": "e2e::batch"})
		require.Equal(t, http.StatusAccepted, status, sub)
		ids = append(ids, sub["id"].(string))
	}
	// While they wait, the queue and the jobs say why.
	seen := map[string]bool{}
	require.Eventually(t, func() bool {
		_, q := s.call(http.MethodGet, "/v1/job-queues/"+queueID, nil)
		reasons, _ := q["waiting"].(map[string]any)["reasons"].(map[string]any)
		for r := range reasons {
			seen[r] = true
		}
		return reasons["queue_concurrency_limit"] != nil || reasons["no_capacity"] != nil
	}, 60*time.Second, 100*time.Millisecond, "the queue's detail says why its jobs wait; seen %v", seen)
	_, last := s.call(http.MethodGet, "/v1/jobs/"+ids[len(ids)-1], nil)
	if last["state"] == "runnable" {
		pending, _ := last["pending"].(map[string]any)
		assert.NotEmpty(t, pending["reason"], "a runnable job says why it waits: %v", last)
	}

	for _, id := range ids {
		job := s.waitJob(id, 5*time.Minute)
		assert.Equal(t, "completed", job["state"], "job %s: %v", id, job)
	}
	stopSampling()
	<-sampled
	assert.Empty(t, violations, "capacity or concurrency exceeded")
	assert.Greater(t, samples, 20, "the allocations were sampled while the jobs ran")
}
