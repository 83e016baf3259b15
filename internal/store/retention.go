package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"daestro/internal/domain"
)

// SetProjectLogRetention sets how many days the project keeps a run's logs
// and metrics after the run ended. Runs already purged stay purged; the
// others are kept (or purged at the next pass) by the new setting.
func (s *Store) SetProjectLogRetention(ctx context.Context, projectID string, days int) (domain.Project, error) {
	if err := domain.ValidateLogRetentionDays(days); err != nil {
		return domain.Project{}, err
	}
	rows, err := s.Pool.Query(ctx, `UPDATE projects SET log_retention_days = $2,
			updated_at = CASE WHEN log_retention_days <> $2 THEN now() ELSE updated_at END
		WHERE id = $1 RETURNING `+projectCols, projectID, days)
	if err != nil {
		return domain.Project{}, err
	}
	p, err := pgx.CollectExactlyOneRow(rows, byName(projectRow.project))
	if isNoRows(err) {
		return domain.Project{}, domain.Errorf(domain.ENOTFOUND, "no project with id %q", projectID)
	}
	return p, err
}

// DefaultPurgeBatchRows is how many log lines and metric samples one
// PurgeRunOutput transaction deletes at most: small enough that no purge
// holds its locks (or bloats a transaction) for long.
const DefaultPurgeBatchRows = 5000

// purgeRunsPerBatch bounds the runs one batch looks at.
const purgeRunsPerBatch = 1000

// PurgeBatch is what one PurgeRunOutput transaction did.
type PurgeBatch struct {
	// Runs is how many runs had the last of their output deleted (their
	// logs_purged_at is now set).
	Runs int
	// LogLines and MetricSamples are the rows deleted.
	LogLines, MetricSamples int
	// More says that runs due for a purge remain: call again.
	More bool
}

// PurgeRunOutput deletes, in one transaction, at most limit rows of the
// logs and metrics of runs that ended more than their project's
// log_retention_days before now, oldest runs first, and stamps
// logs_purged_at on each run left with neither. Every project is one range
// scan of job_runs_purge_idx. Called until More is false, it purges all
// that is due at now and nothing else.
func (s *Store) PurgeRunOutput(ctx context.Context, now time.Time, limit int) (PurgeBatch, error) {
	if limit <= 0 {
		limit = DefaultPurgeBatchRows
	}
	var b PurgeBatch
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT r.id::text FROM projects p CROSS JOIN LATERAL (
				SELECT id, finished_at FROM job_runs r
				WHERE r.project_id = p.id AND r.logs_purged_at IS NULL AND r.finished_at IS NOT NULL
					AND r.finished_at < $1::timestamptz - make_interval(days => p.log_retention_days)
				ORDER BY r.finished_at LIMIT $2) r
			ORDER BY r.finished_at LIMIT $2`, now, purgeRunsPerBatch)
		if err != nil {
			return err
		}
		due, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(due) == 0 {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM run_logs l USING (
				SELECT run_id, seq FROM run_logs WHERE run_id = ANY($1::text[]::uuid[]) LIMIT $2) d
			WHERE l.run_id = d.run_id AND l.seq = d.seq`, due, limit)
		if err != nil {
			return err
		}
		b.LogLines = int(tag.RowsAffected())
		if left := limit - b.LogLines; left > 0 {
			tag, err = tx.Exec(ctx, `DELETE FROM run_metrics m USING (
					SELECT run_id, at FROM run_metrics WHERE run_id = ANY($1::text[]::uuid[]) LIMIT $2) d
				WHERE m.run_id = d.run_id AND m.at = d.at`, due, left)
			if err != nil {
				return err
			}
			b.MetricSamples = int(tag.RowsAffected())
		}
		tag, err = tx.Exec(ctx, `UPDATE job_runs r SET logs_purged_at = now()
			WHERE r.id = ANY($1::text[]::uuid[])
				AND NOT EXISTS (SELECT 1 FROM run_logs WHERE run_id = r.id)
				AND NOT EXISTS (SELECT 1 FROM run_metrics WHERE run_id = r.id)`, due)
		if err != nil {
			return err
		}
		b.Runs = int(tag.RowsAffected())
		b.More = len(due) == purgeRunsPerBatch || b.Runs < len(due)
		return nil
	})
	return b, err
}

// runOutputKept answers whether the run has finished, or EGONE with when
// and why its output was deleted.
func runOutputKept(ctx context.Context, q querier, runID string) (finished bool, err error) {
	var (
		purgedAt *time.Time
		days     int
	)
	err = q.QueryRow(ctx, `SELECT r.finished_at IS NOT NULL, r.logs_purged_at, p.log_retention_days
		FROM job_runs r JOIN projects p ON p.id = r.project_id WHERE r.id = $1`, runID).Scan(&finished, &purgedAt, &days)
	if isNoRows(err) {
		return false, domain.Errorf(domain.ENOTFOUND, "run %s no longer exists", runID)
	}
	if err == nil && purgedAt != nil {
		return finished, domain.Errorf(domain.EGONE, "the logs and metrics of run %s were deleted at %s, past the project's retention "+
			"(now %d days after a run ends; log_retention_days: PATCH /v1/project changes it for the runs still kept)",
			runID, purgedAt.UTC().Format(time.RFC3339), days)
	}
	return finished, err
}
