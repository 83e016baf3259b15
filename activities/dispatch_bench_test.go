package activities

import (
	"context"
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
		SELECT gen_random_uuid(), $1, 'q' || i, i * 10, true FROM generate_series(1, 5) i`, p.ID)
	exec(`INSERT INTO job_queue_compute_envs (job_queue_id, compute_env_id)
		SELECT q.id, e.id FROM job_queues q, compute_envs e WHERE q.project_id = $1`, p.ID)
	exec(`INSERT INTO compute_spawns (id, project_id, job_queue_id, compute_env_id, kind, state, capacity_cpu_pct, capacity_memory_mb)
		SELECT gen_random_uuid(), $1, q.id, e.id, 'selfhosted', 'idle', 800, 16000
		FROM job_queues q, compute_envs e, generate_series(1, 10) WHERE q.project_id = $1`, p.ID)
	exec(`INSERT INTO job_definitions (id, project_id, name, version, type, image, cpu_quota_pct, memory_mb)
		VALUES (gen_random_uuid(), $1, 'small', 1, 'docker', 'x', 50, 256), (gen_random_uuid(), $1, 'whole', 1, 'docker', 'x', NULL, NULL)`, p.ID)
	exec(`INSERT INTO jobs (id, project_id, job_queue_id, job_definition_id, name, state, runnable_at)
		SELECT gen_random_uuid(), $1, (SELECT id FROM job_queues WHERE name = 'q' || (1 + i % 5)),
			(SELECT id FROM job_definitions WHERE name = CASE WHEN i % 10 = 0 THEN 'whole' ELSE 'small' END),
			'job-' || i, 'runnable', now() + i * interval '1 ms'
		FROM generate_series(1, 1000) i`, p.ID)
	exec(`INSERT INTO job_runs (id, job_id, project_id, attempt, state) SELECT gen_random_uuid(), id, project_id, 1, 'runnable' FROM jobs`)
	exec(`UPDATE jobs j SET current_run_id = r.id FROM job_runs r WHERE r.job_id = j.id`)

	var elapsed time.Duration
	assigned := 0
	for b.Loop() {
		b.StopTimer()
		exec(`DELETE FROM allocations`)
		b.StartTimer()
		start := time.Now()
		out, err := st.PlanRound(ctx, p.ID, placement.Place)
		elapsed += time.Since(start)
		require.NoError(b, err)
		assigned = len(out.Assigned)
	}
	b.ReportMetric(float64(b.N*1000)/elapsed.Seconds(), "jobs-placed-or-explained/s")
	b.ReportMetric(float64(assigned), "assigned/round")
}
