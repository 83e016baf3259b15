package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// PlanQueue is a queue as the placement function sees it.
type PlanQueue struct {
	ID, Name                            string
	Priority, MaxConcurrency, MaxSpawns int
	Enabled                             bool
	Allocated                           int
	// ComputeEnvs are the queue's enabled environments in round-robin order.
	ComputeEnvs []PlanEnv
}

// PlanEnv is one environment of a queue with what a new spawn of it offers.
type PlanEnv struct {
	ID, Name, Kind   string
	CPUPct, MemoryMB int
	HourlyPrice      float64
	// NoNewSpawns: disabled, or resting after a spawn of it failed.
	NoNewSpawns bool
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

// PlanSpawnRequest asks for a new cloud spawn of an environment.
type PlanSpawnRequest struct {
	QueueID, ComputeEnvID string
	// ForJobID is the job whose unmet need caused the request.
	ForJobID string
}

// PlanDecision is the placement function's answer.
type PlanDecision struct {
	Assign   []PlanAssignment
	Requests []PlanSpawnRequest
	Pending  map[string]PlanPending // by job ID
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
	// Requested are the project's cloud spawns in state requested (this
	// round's and any earlier one's), whose SpawnWorkflows the dispatcher
	// starts if they are not running.
	Requested []string
}

// failedEnvCooldown is how long a compute environment whose spawn failed
// is not asked for another.
const failedEnvCooldown = 5 * time.Minute

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
		for _, rq := range decision.Requests {
			if err := insertSpawnRequest(ctx, tx, projectID, rq); err != nil {
				return err
			}
		}
		// Every spawn still requested, not only this round's: a round whose
		// workflow starts were lost (a crash after this commit) leaves
		// spawns the next round must start.
		rows, err := tx.Query(ctx, `SELECT id::text FROM compute_spawns
			WHERE project_id = $1 AND kind = 'cloud' AND state = 'requested' ORDER BY id`, projectID)
		if err != nil {
			return err
		}
		if out.Requested, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		out.Waiting = len(snap.Jobs) - len(decision.Assign)
		// In placement's order (queue priority, then submit order), so a
		// higher-priority queue's jobs are told first and start first.
		rows, err = tx.Query(ctx, `SELECT j.id, r.id, a.compute_spawn_id, a.cpu_pct, a.memory_mb, a.whole_spawn
			FROM allocations a JOIN job_runs r ON r.id = a.run_id JOIN jobs j ON j.id = r.job_id
			JOIN job_queues q ON q.id = j.job_queue_id
			WHERE j.project_id = $1 AND r.state = 'runnable'
			ORDER BY q.priority, q.id, COALESCE(j.runnable_at, j.created_at), j.id`, projectID)
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
			(SELECT count(*) FROM allocations a WHERE a.job_queue_id = q.id)
		FROM job_queues q WHERE q.project_id = $1 AND q.deleted_at IS NULL ORDER BY q.id`, projectID)
	if err != nil {
		return snap, err
	}
	type queueRow struct {
		ID, Name                            string
		Priority, MaxConcurrency, MaxSpawns int
		Enabled                             bool
		Allocated                           int
	}
	queues, err := pgx.CollectRows(rows, pgx.RowToStructByPos[queueRow])
	if err != nil {
		return snap, err
	}
	index := map[string]int{}
	for i, q := range queues {
		index[q.ID] = i
		snap.Queues = append(snap.Queues, PlanQueue{ID: q.ID, Name: q.Name, Priority: q.Priority, MaxConcurrency: q.MaxConcurrency,
			MaxSpawns: q.MaxSpawns, Enabled: q.Enabled, Allocated: q.Allocated})
	}
	// Disabled environments spawn nothing new, nor does one whose spawn
	// failed lately (no capacity, quota, a machine that never came up): it
	// rests, so the queue tries its next one instead of failing on the
	// same one in a loop. Their spawns still take work, and the ones being
	// created keep their projected size.
	rows, err = tx.Query(ctx, `SELECT m.job_queue_id, e.id, e.name, e.kind,
			COALESCE(e.instance_vcpu, 0) * 100, COALESCE(e.instance_memory_mb, 0), COALESCE(e.hourly_price, 0),
			NOT e.enabled OR e.deleted_at IS NOT NULL
				OR EXISTS (SELECT 1 FROM compute_spawns f WHERE f.compute_env_id = e.id AND f.state = 'failed'
					AND f.state_changed_at > now() - make_interval(secs => $2))
		FROM job_queue_compute_envs m JOIN job_queues q ON q.id = m.job_queue_id JOIN compute_envs e ON e.id = m.compute_env_id
		WHERE q.project_id = $1 AND q.deleted_at IS NULL
		ORDER BY m.job_queue_id, m.added_at`, projectID, failedEnvCooldown.Seconds())
	if err != nil {
		return snap, err
	}
	for rows.Next() {
		var (
			queueID string
			e       PlanEnv
		)
		if err := rows.Scan(&queueID, &e.ID, &e.Name, &e.Kind, &e.CPUPct, &e.MemoryMB, &e.HourlyPrice, &e.NoNewSpawns); err != nil {
			rows.Close()
			return snap, err
		}
		q := &snap.Queues[index[queueID]]
		q.ComputeEnvs = append(q.ComputeEnvs, e)
	}
	if err := rows.Err(); err != nil {
		return snap, err
	}
	rows, err = tx.Query(ctx, `SELECT s.id, s.job_queue_id, s.compute_env_id, s.state, s.capacity_cpu_pct, s.capacity_memory_mb,
			COALESCE(sum(a.cpu_pct), 0)::int, COALESCE(sum(a.memory_mb), 0)::int, COALESCE(bool_or(a.whole_spawn), false), count(a.run_id)::int
		FROM compute_spawns s LEFT JOIN allocations a ON a.compute_spawn_id = s.id
		WHERE s.project_id = $1 AND s.state NOT IN ('failed', 'terminated', 'termination_failed')
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

// insertSpawnRequest writes a cloud spawn the round asked for, state
// requested, with its machine's provider facts copied from the environment
// (a later edit of the environment does not change a machine being made).
func insertSpawnRequest(ctx context.Context, tx pgx.Tx, projectID string, rq PlanSpawnRequest) error {
	id := NewID()
	tag, err := tx.Exec(ctx, `INSERT INTO compute_spawns (id, project_id, job_queue_id, compute_env_id, kind, state,
			provider, cloud_auth_id, region, instance_type)
		SELECT $1, $2, $3, e.id, 'cloud', 'requested', a.provider, a.id, e.region, e.instance_type
		FROM compute_envs e JOIN cloud_auths a ON a.id = e.cloud_auth_id
		WHERE e.id = $4 AND e.project_id = $2 AND e.kind = 'cloud'`, id, projectID, rq.QueueID, rq.ComputeEnvID)
	if err != nil {
		return fmt.Errorf("request a spawn of compute environment %s: %w", rq.ComputeEnvID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("request a spawn of compute environment %s: not a cloud environment of project %s", rq.ComputeEnvID, projectID)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO compute_spawn_events (id, compute_spawn_id, state, reason, at, transition_key)
		VALUES ($1, $2, 'requested', $3, now(), $4)`, NewID(), id,
		fmt.Sprintf("requested by the dispatcher: job %s needs capacity the queue's spawns do not have", rq.ForJobID), "request/"+id); err != nil {
		return err
	}
	return nil
}
