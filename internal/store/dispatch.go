package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"daestro/internal/domain"
)

// JobRunFacts are the scheduling facts of a run: what JobWorkflow needs, no secrets.
type JobRunFacts struct {
	JobID, ProjectID, QueueID, QueueName string
	ScheduleAt                           *time.Time
	TimeoutSeconds                       int
	CPUQuotaPct, MemoryMB                int
}

// JobRunInfo reads a run's scheduling facts.
func (s *Store) JobRunInfo(ctx context.Context, runID string) (JobRunFacts, error) {
	var f JobRunFacts
	var cpu, mem *int
	err := s.Pool.QueryRow(ctx, `SELECT j.id, j.project_id, q.id, q.name, j.schedule_at, d.timeout_seconds, d.cpu_quota_pct, d.memory_mb
		FROM job_runs r JOIN jobs j ON j.id = r.job_id JOIN job_queues q ON q.id = j.job_queue_id
		JOIN job_definitions d ON d.id = j.job_definition_id WHERE r.id = $1`, runID).
		Scan(&f.JobID, &f.ProjectID, &f.QueueID, &f.QueueName, &f.ScheduleAt, &f.TimeoutSeconds, &cpu, &mem)
	if isNoRows(err) {
		return f, domain.Errorf(domain.ENOTFOUND, "no job run %s", runID)
	}
	if cpu != nil {
		f.CPUQuotaPct, f.MemoryMB = *cpu, *mem
	}
	return f, err
}

// ReleaseAllocation frees a run's allocation. It returns the spawn it was on
// ("" when there was none: already released, or never placed) and how many
// runs that spawn still holds. Idempotent.
func (s *Store) ReleaseAllocation(ctx context.Context, runID string) (spawnID string, remaining int, err error) {
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `DELETE FROM allocations WHERE run_id = $1 RETURNING compute_spawn_id`, runID).Scan(&spawnID)
		if isNoRows(err) {
			spawnID = ""
			return nil
		}
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT count(*) FROM allocations WHERE compute_spawn_id = $1`, spawnID).Scan(&remaining)
	})
	return spawnID, remaining, err
}

// PlanQueue is a queue as the placement function sees it.
type PlanQueue struct {
	ID, Name                            string
	Priority, MaxConcurrency, MaxSpawns int
	Enabled                             bool
	Allocated, LiveSpawns               int
	// ComputeEnvIDs and ComputeEnvKinds are the queue's environments in
	// round-robin order, and whether each is "cloud" or "selfhosted".
	ComputeEnvIDs, ComputeEnvKinds []string
}

// PlanSpawn is a spawn with its capacity and what is allocated on it.
type PlanSpawn struct {
	ID, QueueID, ComputeEnvID, State                               string
	TotalCPUPct, TotalMemoryMB, AllocatedCPUPct, AllocatedMemoryMB int
	WholeTaken                                                     bool
	Allocations                                                    int
}

// PlanJob is a runnable job's run without an allocation.
type PlanJob struct {
	JobID, RunID, QueueID string
	RunnableAt            time.Time
	CPUQuotaPct, MemoryMB int
}

// PlanSnapshot is everything one round of placement decides over.
type PlanSnapshot struct {
	Queues []PlanQueue
	Spawns []PlanSpawn
	Jobs   []PlanJob
}

// PlanAssignment puts a run on a spawn.
type PlanAssignment struct {
	JobID, RunID, SpawnID string
	CPUPct, MemoryMB      int
	WholeSpawn            bool
}

// PlanPending says why a job waits, for "why pending".
type PlanPending struct {
	Code, Detail string
	Position     int
}

// PlanDecision is the placement function's answer.
type PlanDecision struct {
	Assign  []PlanAssignment
	Pending map[string]PlanPending // by job ID
}

// PlanOutcome is what the dispatcher must tell workflows after a round.
type PlanOutcome struct {
	// Assigned are every allocated run whose job is still runnable: this
	// round's and any an earlier, interrupted round did not get to signal.
	Assigned []PlanAssignment
	// SpawnCounts are the allocation counts of the spawns this round placed on.
	SpawnCounts map[string]int
	// Waiting is how many runnable jobs are still without a spawn.
	Waiting int
}

// dispatchLockKey serialises a project's rounds: two dispatcher attempts
// (a retry racing a timed-out first try) never double-book capacity.
const dispatchLockKey = 0x64697370 // "disp"

// PlanRound runs one placement round for a project in one transaction: load
// the snapshot, let place decide, persist the allocations and the pending
// reasons. Capacity is never double-booked: allocations are committed with
// the snapshot they were computed from, under the project's lock.
func (s *Store) PlanRound(ctx context.Context, projectID string, place func(PlanSnapshot) PlanDecision) (PlanOutcome, error) {
	var out PlanOutcome
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, dispatchLockKey, projectID); err != nil {
			return err
		}
		snap, err := loadSnapshot(ctx, tx, projectID)
		if err != nil {
			return err
		}
		decision := place(snap)
		touched := map[string]bool{}
		for _, as := range decision.Assign {
			if _, err := tx.Exec(ctx, `INSERT INTO allocations (run_id, compute_spawn_id, job_queue_id, cpu_pct, memory_mb, whole_spawn)
				SELECT $1, $2, j.job_queue_id, $3, $4, $5 FROM jobs j WHERE j.id = $6`,
				as.RunID, as.SpawnID, as.CPUPct, as.MemoryMB, as.WholeSpawn, as.JobID); err != nil {
				return fmt.Errorf("allocate run %s on spawn %s: %w", as.RunID, as.SpawnID, err)
			}
			touched[as.SpawnID] = true
		}
		for jobID, p := range decision.Pending {
			if _, err := tx.Exec(ctx, `UPDATE jobs SET pending_reason = $2, pending_detail = $3 WHERE id = $1`,
				jobID, p.Code, fmt.Sprintf("%s (position %d in the queue)", p.Detail, p.Position)); err != nil {
				return err
			}
		}
		out.Waiting = len(snap.Jobs) - len(decision.Assign)
		rows, err := tx.Query(ctx, `SELECT j.id, r.id, a.compute_spawn_id, a.cpu_pct, a.memory_mb, a.whole_spawn
			FROM allocations a JOIN job_runs r ON r.id = a.run_id JOIN jobs j ON j.id = r.job_id
			WHERE j.project_id = $1 AND r.state = 'runnable' ORDER BY r.id`, projectID)
		if err != nil {
			return err
		}
		out.Assigned, err = pgx.CollectRows(rows, pgx.RowToStructByPos[PlanAssignment])
		if err != nil {
			return err
		}
		out.SpawnCounts = map[string]int{}
		for id := range touched {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM allocations WHERE compute_spawn_id = $1`, id).Scan(&n); err != nil {
				return err
			}
			out.SpawnCounts[id] = n
		}
		return nil
	})
	return out, err
}

// loadSnapshot reads queues, live spawns and unplaced runnable runs of a project.
func loadSnapshot(ctx context.Context, tx pgx.Tx, projectID string) (PlanSnapshot, error) {
	var snap PlanSnapshot
	rows, err := tx.Query(ctx, `SELECT q.id, q.name, q.priority, q.max_concurrency, q.max_spawns, q.enabled,
			(SELECT count(*) FROM allocations a WHERE a.job_queue_id = q.id),
			(SELECT count(*) FROM compute_spawns s WHERE s.job_queue_id = q.id AND s.state NOT IN ('failed', 'terminated')),
			COALESCE((SELECT array_agg(m.compute_env_id::text ORDER BY m.added_at) FROM job_queue_compute_envs m WHERE m.job_queue_id = q.id), '{}'),
			COALESCE((SELECT array_agg(e.kind ORDER BY m.added_at) FROM job_queue_compute_envs m
				JOIN compute_envs e ON e.id = m.compute_env_id WHERE m.job_queue_id = q.id), '{}')
		FROM job_queues q WHERE q.project_id = $1 AND q.deleted_at IS NULL`, projectID)
	if err != nil {
		return snap, err
	}
	if snap.Queues, err = pgx.CollectRows(rows, pgx.RowToStructByPos[PlanQueue]); err != nil {
		return snap, err
	}
	rows, err = tx.Query(ctx, `SELECT s.id, s.job_queue_id, s.compute_env_id, s.state, s.capacity_cpu_pct, s.capacity_memory_mb,
			COALESCE(sum(a.cpu_pct), 0)::int, COALESCE(sum(a.memory_mb), 0)::int, COALESCE(bool_or(a.whole_spawn), false), count(a.run_id)::int
		FROM compute_spawns s LEFT JOIN allocations a ON a.compute_spawn_id = s.id
		WHERE s.project_id = $1 AND s.state NOT IN ('failed', 'terminated', 'terminating', 'termination_failed')
		GROUP BY s.id`, projectID)
	if err != nil {
		return snap, err
	}
	if snap.Spawns, err = pgx.CollectRows(rows, pgx.RowToStructByPos[PlanSpawn]); err != nil {
		return snap, err
	}
	rows, err = tx.Query(ctx, `SELECT j.id, r.id, j.job_queue_id, COALESCE(j.runnable_at, j.created_at),
			COALESCE(d.cpu_quota_pct, 0), COALESCE(d.memory_mb, 0)
		FROM jobs j JOIN job_runs r ON r.id = j.current_run_id JOIN job_definitions d ON d.id = j.job_definition_id
		WHERE j.project_id = $1 AND r.state = 'runnable'
		  AND NOT EXISTS (SELECT 1 FROM allocations a WHERE a.run_id = r.id)`, projectID)
	if err != nil {
		return snap, err
	}
	snap.Jobs, err = pgx.CollectRows(rows, pgx.RowToStructByPos[PlanJob])
	return snap, err
}

// queueWaitingShown bounds the jobs a queue's detail lists by name.
const queueWaitingShown = 20

// QueueWaiting says why the queue's runnable jobs wait, as the dispatcher
// last recorded it.
func (s *Store) QueueWaiting(ctx context.Context, projectID, queueID string) (domain.QueueWaiting, error) {
	w := domain.QueueWaiting{Reasons: map[string]int{}, Jobs: []domain.WaitingJob{}}
	rows, err := s.Pool.Query(ctx, `SELECT id, name, pending_reason, pending_detail FROM jobs
		WHERE project_id = $1 AND job_queue_id = $2 AND state = 'runnable' ORDER BY runnable_at, id`, projectID, queueID)
	if err != nil {
		return w, err
	}
	jobs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[domain.WaitingJob])
	if err != nil {
		return w, err
	}
	w.Runnable = len(jobs)
	for _, j := range jobs {
		w.Reasons[j.Reason]++
	}
	w.Jobs = jobs[:min(len(jobs), queueWaitingShown)]
	return w, nil
}
