package store

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"daestro/internal/domain"
	"daestro/internal/placement"
)

// PlanOutcome is what the dispatcher must tell workflows after a round.
type PlanOutcome struct {
	// Assigned are every allocated run whose job is still runnable: this
	// round's and any an earlier, interrupted round did not get to signal.
	Assigned []AllocatedRun
	// SpawnCounts are the allocation counts of the spawns this round placed on.
	SpawnCounts map[string]int
	// Waiting is how many runnable jobs are still without a spawn.
	Waiting int
	// Requested are the project's cloud spawns in state requested (this
	// round's and any earlier one's), whose SpawnWorkflows the dispatcher
	// starts if they are not running.
	Requested []string
}

// AllocatedRun is a runnable job's run and the spawn its allocation is on,
// read by name from the allocations a round reports.
type AllocatedRun struct {
	// JobID is the job whose run the allocation holds room for.
	JobID string `db:"job_id"`
	// RunID is that run.
	RunID string `db:"run_id"`
	// SpawnID is the spawn the run is allocated on.
	SpawnID string `db:"spawn_id"`
}

// failedEnvCooldown is how long a compute environment whose spawn failed
// is not asked for another.
const failedEnvCooldown = 5 * time.Minute

// dispatchLockKey serialises a project's rounds: two dispatcher attempts
// (a retry racing a timed-out first try) never double-book capacity.
const dispatchLockKey = 0x64697370 // "disp"

// PlanRound runs one placement round for a project in one transaction: load
// the project's placement.Input (at most a bound of each queue's runnable
// jobs: placement.Bounds), let place (placement.Place) decide, persist the
// Result's allocations, pending reasons and spawn requests, and give the jobs
// past the bound a reason too. Capacity is never double-booked: allocations
// are committed with the snapshot they were computed from, under the
// project's lock.
func (s *Store) PlanRound(ctx context.Context, projectID string, place func(placement.Input) placement.Result) (PlanOutcome, error) {
	var out PlanOutcome
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, dispatchLockKey, projectID); err != nil {
			return err
		}
		in, loaded, err := loadPlacementInput(ctx, tx, projectID, s.roundJobsFloor())
		if err != nil {
			return err
		}
		res := place(in)
		touched, err := insertAllocations(ctx, tx, res.Assignments, loaded.runOf)
		if err != nil {
			return err
		}
		if err := writePendingReasons(ctx, tx, res.Pending); err != nil {
			return err
		}
		past, err := explainPastBound(ctx, tx, in, res, loaded)
		if err != nil {
			return err
		}
		for _, rq := range res.SpawnRequests {
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
		out.Waiting = len(in.Jobs) - len(res.Assignments) + past
		// In placement's order (queue priority, then submit order), so a
		// higher-priority queue's jobs are told first and start first.
		rows, err = tx.Query(ctx, `SELECT j.id AS job_id, r.id AS run_id, a.compute_spawn_id AS spawn_id
			FROM allocations a JOIN job_runs r ON r.id = a.run_id JOIN jobs j ON j.id = r.job_id
			JOIN job_queues q ON q.id = j.job_queue_id
			WHERE j.project_id = $1 AND r.state = 'runnable'
			ORDER BY q.priority, q.id, COALESCE(j.runnable_at, j.created_at), j.id`, projectID)
		if err != nil {
			return err
		}
		out.Assigned, err = pgx.CollectRows(rows, pgx.RowToStructByName[AllocatedRun])
		if err != nil {
			return err
		}
		out.SpawnCounts = map[string]int{}
		rows, err = tx.Query(ctx, `SELECT compute_spawn_id::text, count(*)::int FROM allocations
			WHERE compute_spawn_id = ANY($1::text[]::uuid[]) GROUP BY compute_spawn_id`, touched)
		if err != nil {
			return err
		}
		var id string
		var n int
		_, err = pgx.ForEachRow(rows, []any{&id, &n}, func() error {
			out.SpawnCounts[id] = n
			return nil
		})
		return err
	})
	return out, err
}

// roundJobsFloor is the least number of each queue's runnable jobs a round
// considers.
func (s *Store) roundJobsFloor() int {
	if s.RoundJobsFloor > 0 {
		return s.RoundJobsFloor
	}
	return placement.DefaultJobsFloor
}

// insertAllocations persists a round's assignments in one statement and
// returns the spawns they are on.
func insertAllocations(ctx context.Context, tx pgx.Tx, as []placement.Assignment, runOf map[string]string) ([]string, error) {
	if len(as) == 0 {
		return nil, nil
	}
	var jobIDs, runIDs, spawnIDs, touched []string
	var cpus, mems []int
	var wholes []bool
	seen := map[string]bool{}
	for _, a := range as {
		jobIDs, runIDs, spawnIDs = append(jobIDs, a.JobID), append(runIDs, runOf[a.JobID]), append(spawnIDs, a.SpawnID)
		cpus, mems, wholes = append(cpus, a.CPUPct), append(mems, a.MemoryMB), append(wholes, a.WholeSpawn)
		if !seen[a.SpawnID] {
			seen[a.SpawnID] = true
			touched = append(touched, a.SpawnID)
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO allocations (run_id, compute_spawn_id, job_queue_id, cpu_pct, memory_mb, whole_spawn)
		SELECT u.run_id, u.spawn_id, j.job_queue_id, u.cpu, u.mem, u.whole
		FROM unnest($1::text[]::uuid[], $2::text[]::uuid[], $3::text[]::uuid[], $4::int[], $5::int[], $6::bool[]) AS u(job_id, run_id, spawn_id, cpu, mem, whole)
		JOIN jobs j ON j.id = u.job_id`, jobIDs, runIDs, spawnIDs, cpus, mems, wholes); err != nil {
		return nil, fmt.Errorf("allocate %d runs: %w", len(as), err)
	}
	return touched, nil
}

// writePendingReasons records why each job a round left waiting waits, in
// one statement that writes only the rows whose reason changed: a backlog
// that waits for the same reason round after round costs no writes. The
// position in the queue is not written (it changes with every job ahead
// that starts); the job's detail counts it when read.
func writePendingReasons(ctx context.Context, tx pgx.Tx, pending map[string]placement.Reason) error {
	if len(pending) == 0 {
		return nil
	}
	ids, codes, details := make([]string, 0, len(pending)), make([]string, 0, len(pending)), make([]string, 0, len(pending))
	for id, p := range pending {
		ids, codes, details = append(ids, id), append(codes, string(p.Code)), append(details, p.Detail)
	}
	_, err := tx.Exec(ctx, `UPDATE jobs j SET pending_reason = u.code, pending_detail = u.detail, pending_in_queue = true
		FROM unnest($1::text[]::uuid[], $2::text[], $3::text[]) AS u(id, code, detail)
		WHERE j.id = u.id AND (j.pending_reason, j.pending_detail, j.pending_in_queue) IS DISTINCT FROM (u.code, u.detail, true)`,
		ids, codes, details)
	return err
}

// explainPastBound gives the runnable jobs of each queue whose bound the
// round reached, and that it therefore did not read, a reason of the queue's
// (placement never saw them), and returns how many there are. When the last
// job the round read found no place they wait like it: same code, and a
// sentence about the queue rather than about that job, so that it does not
// change (and cost a write per job) while the queue's head moves. Otherwise
// a later round may place them: "queued".
func explainPastBound(ctx context.Context, tx pgx.Tx, in placement.Input, res placement.Result, loaded loadedJobs) (int, error) {
	names := make(map[string]string, len(in.Queues))
	for _, q := range in.Queues {
		names[q.ID] = cmp.Or(q.Name, q.ID)
	}
	total := 0
	for _, queueID := range slices.Sorted(maps.Keys(loaded.last)) {
		last := loaded.last[queueID]
		code, detail := domain.PendingQueued.Reason, domain.PendingQueued.Detail
		if p, ok := res.Pending[last.ID]; ok && p.Code != placement.CodeWaitingForSpawn {
			code = string(p.Code)
			detail = fmt.Sprintf("queue '%s' has no place for the jobs ahead of it either: the queue's waiting jobs say why", cmp.Or(names[queueID], queueID))
		}
		var n int
		if err := tx.QueryRow(ctx, `WITH past AS (
				SELECT j.id FROM jobs j
				WHERE j.job_queue_id = $1 AND j.state = 'runnable'
				  AND (COALESCE(j.runnable_at, j.created_at), j.id) > ($2, $3::uuid)
				  AND NOT EXISTS (SELECT 1 FROM allocations a WHERE a.run_id = j.current_run_id)),
			written AS (
				UPDATE jobs j SET pending_reason = $4, pending_detail = $5, pending_in_queue = true FROM past
				WHERE j.id = past.id AND (j.pending_reason, j.pending_detail, j.pending_in_queue) IS DISTINCT FROM ($4, $5, true)
				RETURNING 1)
			SELECT count(*)::int FROM past`, queueID, last.RunnableAt, last.ID, code, detail).Scan(&n); err != nil {
			return 0, fmt.Errorf("explain the jobs of queue %s past the round's bound: %w", queueID, err)
		}
		total += n
	}
	return total, nil
}

// The rows a round reads, each mapped to its placement type by one method.
// This is the one place the database's shape meets placement's.

// placementQueueRow is a live queue of the project with its allocations.
type placementQueueRow struct {
	ID             string `db:"id"`
	Name           string `db:"name"`
	Priority       int    `db:"priority"`
	MaxConcurrency int    `db:"max_concurrency"`
	MaxSpawns      int    `db:"max_spawns"`
	Enabled        bool   `db:"enabled"`
	Allocated      int    `db:"allocated"`
}

func (r placementQueueRow) queue() placement.Queue {
	return placement.Queue{ID: r.ID, Name: r.Name, Priority: r.Priority, MaxConcurrency: r.MaxConcurrency,
		MaxSpawns: r.MaxSpawns, Enabled: r.Enabled, Allocated: r.Allocated}
}

// placementEnvRow is one environment of a queue with what a new spawn of it offers.
type placementEnvRow struct {
	QueueID     string  `db:"queue_id"`
	ID          string  `db:"id"`
	Name        string  `db:"name"`
	Kind        string  `db:"kind"`
	CPUPct      int     `db:"cpu_pct"`
	MemoryMB    int     `db:"memory_mb"`
	HourlyPrice float64 `db:"hourly_price"`
	NoNewSpawns bool    `db:"no_new_spawns"`
}

func (r placementEnvRow) computeEnv() placement.ComputeEnv {
	return placement.ComputeEnv{ID: r.ID, Name: r.Name, SelfHosted: r.Kind == domain.ComputeEnvSelfHosted,
		CPUPct: r.CPUPct, MemoryMB: r.MemoryMB, HourlyPrice: r.HourlyPrice, NoNewSpawns: r.NoNewSpawns}
}

// placementSpawnRow is a live spawn with its capacity and what is allocated on it.
type placementSpawnRow struct {
	ID                string `db:"id"`
	QueueID           string `db:"queue_id"`
	ComputeEnvID      string `db:"compute_env_id"`
	State             string `db:"state"`
	TotalCPUPct       int    `db:"total_cpu_pct"`
	TotalMemoryMB     int    `db:"total_memory_mb"`
	AllocatedCPUPct   int    `db:"allocated_cpu_pct"`
	AllocatedMemoryMB int    `db:"allocated_memory_mb"`
	WholeSpawnTaken   bool   `db:"whole_spawn_taken"`
	Allocations       int    `db:"allocations"`
}

func (r placementSpawnRow) spawn() placement.Spawn {
	return placement.Spawn{ID: r.ID, QueueID: r.QueueID, ComputeEnvID: r.ComputeEnvID, State: r.State,
		TotalCPUPct: r.TotalCPUPct, TotalMemoryMB: r.TotalMemoryMB, AllocatedCPUPct: r.AllocatedCPUPct,
		AllocatedMemoryMB: r.AllocatedMemoryMB, WholeSpawnTaken: r.WholeSpawnTaken, Allocations: r.Allocations,
		Requested: r.State == domain.SpawnRequested || r.State == domain.SpawnInitialized}
}

// placementJobRow is a runnable job's current run without an allocation.
type placementJobRow struct {
	JobID       string    `db:"job_id"`
	RunID       string    `db:"run_id"`
	QueueID     string    `db:"queue_id"`
	RunnableAt  time.Time `db:"runnable_at"`
	CPUQuotaPct int       `db:"cpu_quota_pct"`
	MemoryMB    int       `db:"memory_mb"`
}

// job is the placement job; placement knows jobs, so the run ID stays
// with the caller (loadPlacementInput's runOf).
func (r placementJobRow) job() placement.Job {
	return placement.Job{ID: r.JobID, QueueID: r.QueueID, RunnableAt: r.RunnableAt, CPUQuotaPct: r.CPUQuotaPct, MemoryMB: r.MemoryMB}
}

// loadedJobs is what the round read of the runnable jobs besides the
// placement jobs.
type loadedJobs struct {
	// runOf is the run each job's allocation is for, by job ID.
	runOf map[string]string
	// last is, for each queue whose bound the round reached (so more of its
	// jobs may wait), the last job read in the queue's order.
	last map[string]placement.Job
}

// loadPlacementInput reads queues, live spawns and unplaced runnable runs of
// a project: of each queue only the first placement.Bounds(…, floor) runs in
// the queue's order, in one query that walks the queue-order index per queue.
func loadPlacementInput(ctx context.Context, tx pgx.Tx, projectID string, floor int) (placement.Input, loadedJobs, error) {
	var loaded loadedJobs
	var in placement.Input
	rows, err := tx.Query(ctx, `SELECT q.id, q.name, q.priority, q.max_concurrency, q.max_spawns, q.enabled,
			(SELECT count(*) FROM allocations a WHERE a.job_queue_id = q.id) AS allocated
		FROM job_queues q WHERE q.project_id = $1 AND q.deleted_at IS NULL ORDER BY q.id`, projectID)
	if err != nil {
		return in, loaded, err
	}
	if in.Queues, err = pgx.CollectRows(rows, byName(placementQueueRow.queue)); err != nil {
		return in, loaded, err
	}
	index := map[string]int{}
	for i, q := range in.Queues {
		index[q.ID] = i
	}
	// Disabled environments spawn nothing new, nor does one whose spawn
	// failed lately (no capacity, quota, a machine that never came up): it
	// rests, so the queue tries its next one instead of failing on the
	// same one in a loop. Their spawns still take work, and the ones being
	// created keep their projected size.
	rows, err = tx.Query(ctx, `SELECT m.job_queue_id AS queue_id, e.id, e.name, e.kind,
			COALESCE(e.instance_vcpu, 0) * 100 AS cpu_pct, COALESCE(e.instance_memory_mb, 0) AS memory_mb,
			COALESCE(e.hourly_price, 0) AS hourly_price,
			NOT e.enabled OR e.deleted_at IS NOT NULL
				OR EXISTS (SELECT 1 FROM compute_spawns f WHERE f.compute_env_id = e.id AND f.state = 'failed'
					AND f.state_changed_at > now() - make_interval(secs => $2)) AS no_new_spawns
		FROM job_queue_compute_envs m JOIN job_queues q ON q.id = m.job_queue_id JOIN compute_envs e ON e.id = m.compute_env_id
		WHERE q.project_id = $1 AND q.deleted_at IS NULL
		ORDER BY m.job_queue_id, m.added_at`, projectID, failedEnvCooldown.Seconds())
	if err != nil {
		return in, loaded, err
	}
	envs, err := pgx.CollectRows(rows, pgx.RowToStructByName[placementEnvRow])
	if err != nil {
		return in, loaded, err
	}
	for _, e := range envs {
		q := &in.Queues[index[e.QueueID]]
		q.ComputeEnvs = append(q.ComputeEnvs, e.computeEnv())
	}
	rows, err = tx.Query(ctx, `SELECT s.id, s.job_queue_id AS queue_id, s.compute_env_id, s.state,
			s.capacity_cpu_pct AS total_cpu_pct, s.capacity_memory_mb AS total_memory_mb,
			COALESCE(sum(a.cpu_pct), 0)::int AS allocated_cpu_pct, COALESCE(sum(a.memory_mb), 0)::int AS allocated_memory_mb,
			COALESCE(bool_or(a.whole_spawn), false) AS whole_spawn_taken, count(a.run_id)::int AS allocations
		FROM compute_spawns s LEFT JOIN allocations a ON a.compute_spawn_id = s.id
		WHERE s.project_id = $1 AND s.state NOT IN ('failed', 'terminated')
		GROUP BY s.id`, projectID)
	if err != nil {
		return in, loaded, err
	}
	if in.Spawns, err = pgx.CollectRows(rows, byName(placementSpawnRow.spawn)); err != nil {
		return in, loaded, err
	}
	// Jobs of a deleted queue are read too (with the floor as their bound):
	// placement says why they wait.
	bounds := placement.Bounds(in, floor)
	queueIDs, limits := make([]string, 0, len(bounds)), make([]int, 0, len(bounds))
	for id, k := range bounds {
		queueIDs, limits = append(queueIDs, id), append(limits, k)
	}
	rows, err = tx.Query(ctx, `SELECT x.* FROM job_queues q
		LEFT JOIN unnest($2::text[]::uuid[], $3::int[]) AS b(queue_id, k) ON b.queue_id = q.id
		CROSS JOIN LATERAL (
			SELECT j.id AS job_id, r.id AS run_id, j.job_queue_id AS queue_id,
				COALESCE(j.runnable_at, j.created_at) AS runnable_at,
				COALESCE(d.cpu_quota_pct, 0) AS cpu_quota_pct, COALESCE(d.memory_mb, 0) AS memory_mb
			FROM jobs j JOIN job_runs r ON r.id = j.current_run_id JOIN job_definitions d ON d.id = j.job_definition_id
			WHERE j.job_queue_id = q.id AND j.state = 'runnable' AND r.state = 'runnable'
			  AND NOT EXISTS (SELECT 1 FROM allocations a WHERE a.run_id = r.id)
			ORDER BY COALESCE(j.runnable_at, j.created_at), j.id
			LIMIT COALESCE(b.k, $4)) x
		WHERE q.project_id = $1`, projectID, queueIDs, limits, floor)
	if err != nil {
		return in, loaded, err
	}
	jobs, err := pgx.CollectRows(rows, pgx.RowToStructByName[placementJobRow])
	if err != nil {
		return in, loaded, err
	}
	loaded.runOf = make(map[string]string, len(jobs))
	read := map[string]int{}
	last := map[string]placement.Job{}
	for _, j := range jobs {
		pj := j.job()
		in.Jobs = append(in.Jobs, pj)
		loaded.runOf[j.JobID] = j.RunID
		read[j.QueueID]++
		if l, ok := last[j.QueueID]; !ok || cmp.Or(pj.RunnableAt.Compare(l.RunnableAt), cmp.Compare(pj.ID, l.ID)) > 0 {
			last[j.QueueID] = pj
		}
	}
	loaded.last = map[string]placement.Job{}
	for id, n := range read {
		k, ok := bounds[id]
		if !ok {
			k = floor
		}
		if n >= k {
			loaded.last[id] = last[id]
		}
	}
	return in, loaded, nil
}

// insertSpawnRequest writes a cloud spawn the round asked for, state
// requested, with its machine's provider facts copied from the environment
// (a later edit of the environment does not change a machine being made),
// and the account its cloud auth's keys belong to now.
func insertSpawnRequest(ctx context.Context, tx pgx.Tx, projectID string, rq placement.SpawnRequest) error {
	id := NewID()
	tag, err := tx.Exec(ctx, `INSERT INTO compute_spawns (id, project_id, job_queue_id, compute_env_id, kind, state,
			provider, cloud_auth_id, region, instance_type, account_id)
		SELECT $1, $2, $3, e.id, 'cloud', 'requested', a.provider, a.id, e.region, e.instance_type, a.account_id
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
