package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// RunnableCount is how many runnable jobs one queue holds for one pending reason.
type RunnableCount struct {
	// Queue is the job queue as code::name (the client API's spelling).
	Queue string `db:"queue"`
	// PendingReason is the code the dispatcher's last round gave ("" before one).
	PendingReason string `db:"pending_reason"`
	Count         int    `db:"count"`
}

// SpawnStateCount is how many compute spawns of one kind are in one state.
type SpawnStateCount struct {
	Kind  string `db:"kind"`
	State string `db:"state"`
	Count int    `db:"count"`
}

// RunnableJobCounts counts the runnable jobs of every project by queue and
// pending reason: one grouped query over the runnable jobs' partial index,
// for the metrics' gauges.
func (s *Store) RunnableJobCounts(ctx context.Context) ([]RunnableCount, error) {
	rows, err := s.Pool.Query(ctx, `SELECT p.code || '::' || q.name AS queue, j.pending_reason, count(*)::int AS count
		FROM jobs j JOIN job_queues q ON q.id = j.job_queue_id JOIN projects p ON p.id = j.project_id
		WHERE j.state = 'runnable' GROUP BY 1, 2 ORDER BY 1, 2`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByName[RunnableCount])
}

// SpawnStateCounts counts every project's compute spawns by kind and state.
func (s *Store) SpawnStateCounts(ctx context.Context) ([]SpawnStateCount, error) {
	rows, err := s.Pool.Query(ctx, `SELECT kind, state, count(*)::int AS count FROM compute_spawns GROUP BY 1, 2 ORDER BY 1, 2`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByName[SpawnStateCount])
}
