package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"daestro/internal/domain"
)

// RetryJobRun ends a run that did not complete and starts the job's next
// attempt, in one transaction, so no reader ever sees the job final while
// a retry is due: the next run (attempt + 1) is written pending and becomes
// the job's current run, with the pending reason "waiting to retry (attempt
// N of M at hh:mm:ss)"; then the old run takes its final state, fields and
// reason (it is no longer current, so the job keeps `pending`). It returns
// the new run's ID. A run that is no longer the job's current one (the job
// was resubmitted meanwhile) is ECONFLICT.
func (s *Store) RetryJobRun(ctx context.Context, runID string, state domain.JobState, reason string, f RunFields,
	attempts int, retryAt time.Time) (string, error) {
	if !validUUID(runID) {
		return "", jobRunNotFound(runID)
	}
	if !state.IsFinal() {
		return "", domain.Errorf(domain.EINVALID, "a run is retried from a final state, not %s", state)
	}
	next := NewID()
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		var jobID, projectID string
		var attempt int
		if err := tx.QueryRow(ctx, `SELECT r.job_id, r.project_id, r.attempt FROM job_runs r WHERE r.id = $1`, runID).
			Scan(&jobID, &projectID, &attempt); err != nil {
			if isNoRows(err) {
				return jobRunNotFound(runID)
			}
			return err
		}
		var current *string
		if err := tx.QueryRow(ctx, `SELECT current_run_id FROM jobs WHERE id = $1 FOR UPDATE`, jobID).Scan(&current); err != nil {
			return err
		}
		if current == nil || *current != runID {
			return domain.Errorf(domain.ECONFLICT, "job run %s is no longer its job's current run: not retrying it", runID)
		}
		detail := domain.RetryWaitSentence(attempt+1, attempts, retryAt)
		if _, err := tx.Exec(ctx, `INSERT INTO job_runs (id, job_id, project_id, attempt, state) VALUES ($1, $2, $3, $4, $5)`,
			next, jobID, projectID, attempt+1, domain.JobPending); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE jobs SET state = $2, current_run_id = $3, system_note = '', runnable_at = NULL,
				pending_reason = 'retry_wait', pending_detail = $4, pending_in_queue = false, updated_at = now() WHERE id = $1`,
			jobID, domain.JobPending, next, detail); err != nil {
			return err
		}
		if err := s.setJobRunState(ctx, tx, runID, state, reason, f, nil, nil); err != nil {
			return err
		}
		return insertJobEvent(ctx, tx, jobID, next, domain.JobPending, detail)
	})
	if err != nil {
		return "", err
	}
	return next, nil
}

// SpawnRun is a run placed on a spawn.
type SpawnRun struct {
	RunID string `db:"run_id"`
	JobID string `db:"job_id"`
}

// OpenRunsOnSpawn lists the runs on spawnID that started or run there:
// the ones its machine going away interrupts.
func (s *Store) OpenRunsOnSpawn(ctx context.Context, spawnID string) ([]SpawnRun, error) {
	if !validUUID(spawnID) {
		return nil, domain.Errorf(domain.ENOTFOUND, "no compute spawn with id %q", spawnID)
	}
	rows, err := s.Pool.Query(ctx, `SELECT id AS run_id, job_id FROM job_runs
		WHERE compute_spawn_id = $1 AND state IN ('starting', 'running')`, spawnID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByName[SpawnRun])
}
