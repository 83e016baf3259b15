package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/stretchr/testify/require"

	"daestro/internal/testenv"
)

// throughputConcurrency is how many trivial jobs fit the benchmark's agent at
// once (two cores offered, a quarter of a core per job), and so how many
// containers the bare-Docker baseline runs side by side, with the same
// limits.
const (
	throughputConcurrency = 8
	throughputOfferPct    = 200
	throughputJobCPUPct   = throughputOfferPct / throughputConcurrency
	throughputJobMemoryMB = 16
)

// BenchmarkSustainedThroughput is #15's end-to-end figure: a backlog of
// trivial jobs (`true`) submitted at once through the client API to one
// agent that takes throughputConcurrency of them at a time, timed from the
// first submission to the last job's final state; and, in the same run, the
// Docker engine's own rate for the same image at the same concurrency
// (create, start and wait for exit, through the SDK, nothing else). The ratio
// of the two says what the orchestration costs over what the engine can do
// (goal ≥ 0.8). Every job must complete, each with exactly one run.
func BenchmarkSustainedThroughput(b *testing.B) {
	image := agentTestImage(b)
	s := startSystem(b)
	envID, queueID := s.selfHostedQueueOffering("flow", throughputOfferPct, map[string]any{})
	ar := s.addAgent(image, envID, queueID, fmt.Sprintf("DAESTRO_AGENT_CPU_PCT=%d", throughputOfferPct), "DAESTRO_AGENT_MEMORY_MB=4096")
	s.waitIdle(ar.spawnID)
	status, def := s.call(http.MethodPost, "/v1/job-definitions", map[string]any{
		"name": "noop", "type": "docker", "image": testenv.TestImage(), "command": []string{"true"},
		"cpu_quota_pct": throughputJobCPUPct, "memory_mb": throughputJobMemoryMB})
	require.Equal(b, http.StatusCreated, status, def)
	st := testenv.OpenStore(b, os.Getenv("DAESTRO_DATABASE_URL"))
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	require.NoError(b, err)
	b.Cleanup(func() { _ = cli.Close() })
	ctx := context.Background()

	const jobs = 200
	var system, engine time.Duration
	for b.Loop() {
		start := time.Now()
		for range jobs {
			status, sub := s.call(http.MethodPost, "/v1/client/job", map[string]any{"job_definition": "e2e::noop", "job_queue": "e2e::flow"})
			require.Equal(b, http.StatusAccepted, status, sub)
		}
		var open int
		require.Eventually(b, func() bool {
			err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM jobs
				WHERE job_queue_id = $1 AND state NOT IN ('completed', 'failed', 'timeout', 'cancelled', 'error')`, queueID).Scan(&open)
			return err == nil && open == 0
		}, 10*time.Minute, 50*time.Millisecond, "jobs still open: %d", open)
		system += time.Since(start)

		engine += dockerRate(b, cli, jobs)
	}

	var completed, runs int
	require.NoError(b, st.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'completed'),
			(SELECT count(*) FROM job_runs r JOIN jobs j ON j.id = r.job_id WHERE j.job_queue_id = $1)
		FROM jobs WHERE job_queue_id = $1`, queueID).Scan(&completed, &runs))
	require.Equal(b, jobs*b.N, completed, "every job completed")
	require.Equal(b, jobs*b.N, runs, "every job ran once")

	systemRate := float64(jobs*b.N) / system.Seconds()
	engineRate := float64(jobs*b.N) / engine.Seconds()
	b.ReportMetric(systemRate, "jobs/s")
	b.ReportMetric(engineRate, "docker-create-start/s")
	b.ReportMetric(systemRate/engineRate, "ratio")

	// Where a job's time goes: the mean time it spent in each state.
	rows, err := st.Pool.Query(ctx, `SELECT state, avg(extract(epoch FROM next - at)) FROM (
			SELECT e.state, e.at, lead(e.at) OVER (PARTITION BY e.job_id ORDER BY e.id) AS next
			FROM job_events e JOIN jobs j ON j.id = e.job_id WHERE j.job_queue_id = $1) x
		WHERE next IS NOT NULL GROUP BY state`, queueID)
	require.NoError(b, err)
	for rows.Next() {
		var state string
		var mean float64
		require.NoError(b, rows.Scan(&state, &mean))
		b.ReportMetric(mean, "s-"+state)
	}
	require.NoError(b, rows.Err())
}

// dockerRate runs n containers of the test image doing `true`,
// throughputConcurrency at a time, straight through the Docker SDK (create,
// start, wait for exit) with a job's CPU and memory limits, and returns the
// wall time; the containers are
// removed after the clock stops.
func dockerRate(b *testing.B, cli *client.Client, n int) time.Duration {
	ctx := context.Background()
	ids := make([]string, n)
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range throughputConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				created, err := cli.ContainerCreate(ctx, &container.Config{Image: testenv.TestImage(), Cmd: []string{"true"},
					Labels: map[string]string{"daestro.bench": "engine-rate"}},
					&container.HostConfig{Resources: container.Resources{
						NanoCPUs: throughputJobCPUPct * 1e7, Memory: throughputJobMemoryMB << 20}}, nil, nil, "")
				if err != nil {
					errs[i] = err
					continue
				}
				ids[i] = created.ID
				if errs[i] = cli.ContainerStart(ctx, created.ID, container.StartOptions{}); errs[i] != nil {
					continue
				}
				waitC, errC := cli.ContainerWait(ctx, created.ID, container.WaitConditionNotRunning)
				select {
				case <-waitC:
				case errs[i] = <-errC:
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	took := time.Since(start)
	for _, id := range ids {
		if id != "" {
			_ = cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true})
		}
	}
	for _, err := range errs {
		require.NoError(b, err)
	}
	return took
}
