package activities

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"daestro/internal/placement"
	"daestro/internal/testenv"
)

// BenchmarkPlanRound1000Jobs50Spawns measures one dispatcher round as it runs
// in production: one transaction that loads 1,000 runnable jobs (mixed
// quotas) and 50 spawns in 5 queues, runs the placement function, and writes
// the allocations and every waiting job's reason.
func BenchmarkPlanRound1000Jobs50Spawns(b *testing.B) {
	benchPlanRound(b, 1000, 5, 10, false)
}

// BenchmarkPlanRound10000Jobs500Spawns10Queues is the backlog #15 names:
// 10,000 runnable jobs over 500 busy spawns in 10 queues, the dispatcher's
// steady state: each spawn runs 15 jobs and has room for one more, so a
// round places 500 and explains the rest. A round loads only the first jobs
// of each queue that could fill its free capacity, so its time does not
// grow with the backlog; p50 and p99 are the figures (goal ≤ 200 ms on the
// 2-core CI machine).
func BenchmarkPlanRound10000Jobs500Spawns10Queues(b *testing.B) {
	benchPlanRound(b, 10000, 10, 50, true)
}

// BenchmarkPlanRound10000Jobs500EmptySpawns10Queues is the same backlog the
// moment 500 empty spawns came up: one round places 7,250 jobs at once,
// whose allocations (one row each, three foreign keys checked) are most of
// its time. It happens once per burst of new capacity.
func BenchmarkPlanRound10000Jobs500EmptySpawns10Queues(b *testing.B) {
	benchPlanRound(b, 10000, 10, 50, false)
}

// benchPlanRound seeds a project with jobs runnable jobs (one in ten
// without quotas, so they want a spawn of their own) spread over queues
// queues of spawnsPerQueue self-hosted spawns each (busy: running 15 jobs
// of 50 % CPU each, room for one more), then times PlanRound, the round's
// allocations cleared before each round so every round places the same
// jobs.
func benchPlanRound(b *testing.B, jobs, queues, spawnsPerQueue int, busy bool) {
	st := testenv.Store(b)
	ctx := context.Background()
	p, err := st.CreateProject(ctx, "bench", "")
	require.NoError(b, err)
	exec := func(sql string, args ...any) {
		_, err := st.Pool.Exec(ctx, sql, args...)
		require.NoError(b, err, sql)
	}
	exec(`INSERT INTO compute_envs (id, project_id, name, kind) VALUES (gen_random_uuid(), $1, 'boxes', 'selfhosted')`, p.ID)
	exec(`INSERT INTO job_queues (id, project_id, name, priority, enabled)
		SELECT gen_random_uuid(), $1, 'q' || i, i * 10, true FROM generate_series(1, $2::int) i`, p.ID, queues)
	exec(`INSERT INTO job_queue_compute_envs (job_queue_id, compute_env_id)
		SELECT q.id, e.id FROM job_queues q, compute_envs e WHERE q.project_id = $1`, p.ID)
	exec(`INSERT INTO compute_spawns (id, project_id, job_queue_id, compute_env_id, kind, state, capacity_cpu_pct, capacity_memory_mb)
		SELECT gen_random_uuid(), $1, q.id, e.id, 'selfhosted', 'idle', 800, 16000
		FROM job_queues q, compute_envs e, generate_series(1, $2::int) WHERE q.project_id = $1`, p.ID, spawnsPerQueue)
	exec(`INSERT INTO job_definitions (id, project_id, name, version, type, image, cpu_quota_pct, memory_mb)
		VALUES (gen_random_uuid(), $1, 'small', 1, 'docker', 'x', 50, 256), (gen_random_uuid(), $1, 'whole', 1, 'docker', 'x', NULL, NULL)`, p.ID)
	exec(`INSERT INTO jobs (id, project_id, job_queue_id, job_definition_id, name, state, runnable_at)
		SELECT gen_random_uuid(), $1, (SELECT id FROM job_queues WHERE project_id = $1 AND name = 'q' || (1 + i % $2::int)),
			(SELECT id FROM job_definitions WHERE project_id = $1 AND name = CASE WHEN i % 10 = 0 THEN 'whole' ELSE 'small' END),
			'job-' || i, 'runnable', now() + i * interval '1 ms'
		FROM generate_series(1, $3::int) i`, p.ID, queues, jobs)
	exec(`INSERT INTO job_runs (id, job_id, project_id, attempt, state) SELECT gen_random_uuid(), id, project_id, 1, 'runnable' FROM jobs WHERE project_id = $1`, p.ID)
	exec(`UPDATE jobs j SET current_run_id = r.id FROM job_runs r WHERE r.job_id = j.id AND j.project_id = $1`, p.ID)
	if busy {
		exec(`INSERT INTO jobs (id, project_id, job_queue_id, job_definition_id, name, state)
			SELECT gen_random_uuid(), $1, s.job_queue_id, (SELECT id FROM job_definitions WHERE project_id = $1 AND name = 'small'),
				'busy-' || s.id || '-' || g, 'running'
			FROM compute_spawns s, generate_series(1, 15) g WHERE s.project_id = $1`, p.ID)
		exec(`INSERT INTO job_runs (id, job_id, project_id, attempt, state)
			SELECT gen_random_uuid(), id, project_id, 1, 'running' FROM jobs WHERE project_id = $1 AND state = 'running'`, p.ID)
		exec(`UPDATE jobs j SET current_run_id = r.id FROM job_runs r WHERE r.job_id = j.id AND j.project_id = $1 AND j.state = 'running'`, p.ID)
		exec(`INSERT INTO allocations (run_id, compute_spawn_id, job_queue_id, cpu_pct, memory_mb)
			SELECT j.current_run_id, substring(j.name from 6 for 36)::uuid, j.job_queue_id, 50, 256
			FROM jobs j WHERE j.project_id = $1 AND j.state = 'running'`, p.ID)
	}
	exec(`ANALYZE`)

	// One round untimed: the first writes every waiting job's reason, the
	// later ones only the reasons that changed, which is the steady state.
	_, err = st.PlanRound(ctx, p.ID, placement.Place)
	require.NoError(b, err)
	var rounds []time.Duration
	assigned, explained := 0, 0
	for b.Loop() {
		b.StopTimer()
		exec(`DELETE FROM allocations a USING job_runs r WHERE r.id = a.run_id AND r.project_id = $1 AND r.state = 'runnable'`, p.ID)
		b.StartTimer()
		start := time.Now()
		out, err := st.PlanRound(ctx, p.ID, placement.Place)
		rounds = append(rounds, time.Since(start))
		require.NoError(b, err)
		assigned, explained = len(out.Assigned), out.Waiting
	}
	require.NotZero(b, assigned, "a round with free spawns places jobs")
	slices.Sort(rounds)
	quantile := func(q float64) float64 {
		return float64(rounds[min(len(rounds)-1, int(q*float64(len(rounds))))].Microseconds()) / 1000
	}
	b.ReportMetric(quantile(0.5), "round-p50-ms")
	b.ReportMetric(quantile(0.99), "round-p99-ms")
	b.ReportMetric(float64(assigned), "assigned/round")
	b.ReportMetric(float64(explained), "waiting-explained/round")
}
