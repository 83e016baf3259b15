package store

import (
	"context"

	"github.com/jackc/pgx/v5"

	"daestro/internal/domain"
)

// JobRunInfo reads a run's scheduling facts.
func (s *Store) JobRunInfo(ctx context.Context, runID string) (domain.JobRunFacts, error) {
	var f domain.JobRunFacts
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
