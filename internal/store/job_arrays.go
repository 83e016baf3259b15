package store

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/jackc/pgx/v5"

	"daestro/internal/domain"
)

// insertArrayChildren writes the children of array job parentID (its row is
// written): size jobs of the parent's name, definition and overrides, each
// with its first run and event, and what each waits for: its parent's
// success and completion dependencies, child i of an N_TO_N array job, and
// child i-1 when SEQUENTIAL. COPY keeps 10,000 children one round trip per table.
func (s *Store) insertArrayChildren(ctx context.Context, tx pgx.Tx, projectID, parentID string, queue domain.JobQueue, defID string,
	command []string, in domain.SubmitJob, via string) error {
	cmdJSON, err := json.Marshal(command)
	if err != nil {
		return err
	}
	params, err := json.Marshal(in.Parameters)
	if err != nil {
		return err
	}
	var name string
	if err := tx.QueryRow(ctx, `SELECT name FROM jobs WHERE id = $1`, parentID).Scan(&name); err != nil {
		return err
	}
	var retry []byte
	if in.RetryStrategy != nil {
		if retry, err = json.Marshal(in.RetryStrategy); err != nil {
			return err
		}
	}
	n := in.ArraySize
	jobs, runs, events := make([][]any, n), make([][]any, n), make([][]any, n)
	for i := 0; i < n; i++ {
		id, runID := domain.ArrayChildID(parentID, i), NewID()
		env, err := s.sealEnv(envOfJob, in.Env, id)
		if err != nil {
			return err
		}
		jobs[i] = []any{id, projectID, queue.ID, defID, name, string(domain.JobSubmitted), in.ScheduleAt, cmdJSON, params, env, runID,
			in.CronJobID, retry, parentID, i}
		runs[i] = []any{runID, id, projectID, 1, string(domain.JobSubmitted)}
		events[i] = []any{id, runID, string(domain.JobSubmitted), "submitted via " + via + " as child " + domain.ArrayChildRef(parentID, i)}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"jobs"}, []string{"id", "project_id", "job_queue_id", "job_definition_id", "name", "state",
		"schedule_at", "command", "parameters", "env", "current_run_id", "cron_job_id", "retry_strategy", "array_parent_id", "array_index"},
		pgx.CopyFromRows(jobs)); err != nil {
		return err
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"job_runs"}, []string{"id", "job_id", "project_id", "attempt", "state"}, pgx.CopyFromRows(runs)); err != nil {
		return err
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"job_events"}, []string{"job_id", "run_id", "state", "reason"}, pgx.CopyFromRows(events)); err != nil {
		return err
	}
	return s.insertArrayDependencies(ctx, tx, projectID, parentID, in)
}

// insertArrayDependencies writes what each child of parentID waits for.
func (s *Store) insertArrayDependencies(ctx context.Context, tx pgx.Tx, projectID, parentID string, in domain.SubmitJob) error {
	var deps [][]any
	for di, d := range in.DependsOn {
		other, _ := domain.ResolveJobID(d.JobID)
		switch d.Type {
		case domain.DependencySequential:
			for i := 1; i < in.ArraySize; i++ {
				deps = append(deps, []any{domain.ArrayChildID(parentID, i), domain.ArrayChildID(parentID, i-1), domain.DependencySuccess, di})
			}
		case domain.DependencyNToN:
			var size *int
			if err := tx.QueryRow(ctx, `SELECT array_size FROM jobs WHERE id = $1 AND project_id = $2`, other, projectID).Scan(&size); err != nil {
				return err // it exists: insertDependencies checked
			}
			if size == nil || *size != in.ArraySize {
				return domain.Errorf(domain.EINVALID, "depends_on[%d]: an N_TO_N dependency needs an array job of the same size (%d children); job %s %s",
					di, in.ArraySize, d.JobID, map[bool]string{true: "is not an array job", false: "has another size"}[size == nil])
			}
			for i := 0; i < in.ArraySize; i++ {
				deps = append(deps, []any{domain.ArrayChildID(parentID, i), domain.ArrayChildID(other, i), domain.DependencySuccess, di})
			}
		default:
			for i := 0; i < in.ArraySize; i++ {
				deps = append(deps, []any{domain.ArrayChildID(parentID, i), other, d.Type, di})
			}
		}
	}
	if len(deps) == 0 {
		return nil
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"job_dependencies"}, []string{"job_id", "depends_on_job_id", "type", "position"}, pgx.CopyFromRows(deps))
	return err
}

// ArrayChildRun is a child of an array job and its current run.
type ArrayChildRun struct {
	JobID string          `db:"id"`
	RunID string          `db:"current_run_id"`
	Index int             `db:"array_index"`
	State domain.JobState `db:"state"`
}

// ArrayChildRuns lists the children of parentID with indexes from..to-1.
func (s *Store) ArrayChildRuns(ctx context.Context, parentID string, from, to int) ([]ArrayChildRun, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id, current_run_id, array_index, state FROM jobs
		WHERE array_parent_id = $1 AND array_index >= $2 AND array_index < $3 ORDER BY array_index`, parentID, from, to)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByName[ArrayChildRun])
}

// ArrayStatus is an array job's children as its workflow sees them.
type ArrayStatus struct {
	Size   int
	Counts map[domain.JobState]int
	State  domain.JobState
}

// UpdateArrayJob counts the children of array job parentID by state and
// records the state they give the parent (domain.ArrayState), with an event
// when it changed.
func (s *Store) UpdateArrayJob(ctx context.Context, parentID string, cancelRequested bool) (ArrayStatus, error) {
	var st ArrayStatus
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		var current domain.JobState
		if err := tx.QueryRow(ctx, `SELECT array_size, state FROM jobs WHERE id = $1 AND array_size IS NOT NULL FOR UPDATE`, parentID).
			Scan(&st.Size, &current); err != nil {
			if isNoRows(err) {
				return jobNotFound(parentID)
			}
			return err
		}
		rows, err := tx.Query(ctx, `SELECT state, count(*) FROM jobs WHERE array_parent_id = $1 GROUP BY state`, parentID)
		if err != nil {
			return err
		}
		st.Counts = map[domain.JobState]int{}
		var state domain.JobState
		var n int
		if _, err := pgx.ForEachRow(rows, []any{&state, &n}, func() error { st.Counts[state] = n; return nil }); err != nil {
			return err
		}
		st.State = domain.ArrayState(st.Counts, st.Size, cancelRequested)
		if st.State == current {
			return nil
		}
		note := arrayNote(st)
		if _, err := tx.Exec(ctx, `UPDATE jobs SET state = $2, system_note = $3, updated_at = now() WHERE id = $1`, parentID, st.State, note); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO job_events (job_id, state, reason) VALUES ($1, $2, $3)`, parentID, st.State, note)
		return err
	})
	return st, err
}

// arrayNote is an array job's system note for its state.
func arrayNote(st ArrayStatus) string {
	switch st.State {
	case domain.JobCompleted:
		return "all children completed"
	case domain.JobFailed, domain.JobCancelled:
		return jsonCounts(st.Counts) + " of " + strconv.Itoa(st.Size) + " children"
	}
	return ""
}

func jsonCounts(c map[domain.JobState]int) string {
	out := ""
	for _, s := range domain.JobStates {
		if c[s] > 0 {
			if out != "" {
				out += ", "
			}
			out += strconv.Itoa(c[s]) + " " + string(s)
		}
	}
	return out
}

// CancelUnstartedArrayChildren ends cancelled the children of parentID from
// index from on, whose workflows were never started (the parent was
// cancelled before it started them).
func (s *Store) CancelUnstartedArrayChildren(ctx context.Context, parentID string, from int, note string) error {
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE job_runs r SET state = 'cancelled', system_note = $3, finished_at = now()
			FROM jobs j WHERE j.array_parent_id = $1 AND j.array_index >= $2 AND r.id = j.current_run_id AND r.state = 'submitted'`,
			parentID, from, note); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO job_events (job_id, run_id, state, reason)
			SELECT id, current_run_id, 'cancelled', $3 FROM jobs WHERE array_parent_id = $1 AND array_index >= $2 AND state = 'submitted'`,
			parentID, from, note); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE jobs SET state = 'cancelled', system_note = $3, updated_at = now()
			WHERE array_parent_id = $1 AND array_index >= $2 AND state = 'submitted'`, parentID, from, note)
		return err
	})
}
