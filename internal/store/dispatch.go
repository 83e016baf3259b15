package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"daestro/internal/domain"
)

// jobRunFactsRow is a run's scheduling facts as JobRunInfo reads them.
type jobRunFactsRow struct {
	JobID          string                `db:"job_id"`
	ProjectID      string                `db:"project_id"`
	QueueID        string                `db:"queue_id"`
	QueueName      string                `db:"queue_name"`
	ScheduleAt     *time.Time            `db:"schedule_at"`
	TimeoutSeconds int                   `db:"timeout_seconds"`
	CPUQuotaPct    *int                  `db:"cpu_quota_pct"`
	MemoryMB       *int                  `db:"memory_mb"`
	Attempt        int                   `db:"attempt"`
	JobRetry       *domain.RetryStrategy `db:"job_retry_strategy"`
	DefRetry       *domain.RetryStrategy `db:"definition_retry_strategy"`
	Dependencies   int                   `db:"dependencies"`
}

func (r jobRunFactsRow) jobRunFacts() domain.JobRunFacts {
	f := domain.JobRunFacts{JobID: r.JobID, ProjectID: r.ProjectID, QueueID: r.QueueID, QueueName: r.QueueName,
		ScheduleAt: r.ScheduleAt, TimeoutSeconds: r.TimeoutSeconds, Attempt: r.Attempt, RetryStrategy: domain.Effective(r.JobRetry, r.DefRetry),
		Dependencies: r.Dependencies}
	if r.CPUQuotaPct != nil {
		f.CPUQuotaPct, f.MemoryMB = *r.CPUQuotaPct, *r.MemoryMB
	}
	return f
}

// JobRunInfo reads a run's scheduling facts.
func (s *Store) JobRunInfo(ctx context.Context, runID string) (domain.JobRunFacts, error) {
	rows, err := s.Pool.Query(ctx, `SELECT j.id AS job_id, j.project_id, q.id AS queue_id, q.name AS queue_name, j.schedule_at,
			d.timeout_seconds, d.cpu_quota_pct, d.memory_mb, r.attempt,
			j.retry_strategy AS job_retry_strategy, d.retry_strategy AS definition_retry_strategy,
			(SELECT count(*) FROM job_dependencies dd WHERE dd.job_id = j.id) AS dependencies
		FROM job_runs r JOIN jobs j ON j.id = r.job_id JOIN job_queues q ON q.id = j.job_queue_id
		JOIN job_definitions d ON d.id = j.job_definition_id WHERE r.id = $1`, runID)
	if err != nil {
		return domain.JobRunFacts{}, err
	}
	f, err := pgx.CollectOneRow(rows, byName(jobRunFactsRow.jobRunFacts))
	if isNoRows(err) {
		return f, domain.Errorf(domain.ENOTFOUND, "no job run %s", runID)
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

// waitingJobRow is a runnable job with the reason the dispatcher recorded.
type waitingJobRow struct {
	ID       string `db:"id"`
	Name     string `db:"name"`
	Reason   string `db:"reason"`
	Detail   string `db:"detail"`
	Position *int   `db:"queue_position"`
}

func (r waitingJobRow) waitingJob() domain.WaitingJob {
	return domain.WaitingJob{ID: r.ID, Name: r.Name, Reason: r.Reason, Detail: withQueuePosition(r.Detail, r.Position)}
}

// queueWaitingShown bounds the jobs a queue's detail lists by name.
const queueWaitingShown = 20

// QueueWaiting says why the queue's runnable jobs wait, as the dispatcher
// last recorded it: the count by reason in one grouped query, and the first
// queueWaitingShown jobs in the queue's order (whatever the backlog, it
// reads no more rows than that).
func (s *Store) QueueWaiting(ctx context.Context, projectID, queueID string) (domain.QueueWaiting, error) {
	w := domain.QueueWaiting{Reasons: map[string]int{}, Jobs: []domain.WaitingJob{}}
	rows, err := s.Pool.Query(ctx, `SELECT pending_reason, count(*)::int FROM jobs
		WHERE project_id = $1 AND job_queue_id = $2 AND state = 'runnable' GROUP BY pending_reason`, projectID, queueID)
	if err != nil {
		return w, err
	}
	var reason string
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&reason, &n}, func() error {
		w.Reasons[reason] = n
		w.Runnable += n
		return nil
	}); err != nil {
		return w, err
	}
	rows, err = s.Pool.Query(ctx, `SELECT j.id, j.name, j.pending_reason AS reason, j.pending_detail AS detail,
			`+queuePosition("j")+` AS queue_position
		FROM jobs j WHERE j.project_id = $1 AND j.job_queue_id = $2 AND j.state = 'runnable'
		ORDER BY COALESCE(j.runnable_at, j.created_at), j.id LIMIT $3`, projectID, queueID, queueWaitingShown)
	if err != nil {
		return w, err
	}
	jobs, err := pgx.CollectRows(rows, byName(waitingJobRow.waitingJob))
	if err != nil {
		return w, err
	}
	if len(jobs) > 0 {
		w.Jobs = jobs
	}
	return w, nil
}
