package store

import (
	"context"

	"github.com/jackc/pgx/v5"

	"daestro/internal/domain"
)

// insertDependencies records what a new job waits for. Every job named
// must be one of the project's (another project's is refused as unknown,
// DESIGN.md §9), and not the job itself.
func insertDependencies(ctx context.Context, tx pgx.Tx, projectID, jobID string, deps []domain.JobDependency) error {
	for i, d := range deps {
		if d.Type == domain.DependencySequential {
			continue // jobs.array_sequential; the children's rows say the rest
		}
		ref := d.JobID
		d.JobID, _ = domain.ResolveJobID(ref) // checked by Normalize
		if d.JobID == jobID {
			return domain.Errorf(domain.EINVALID, "depends_on[%d].job_id: a job cannot depend on itself", i)
		}
		var ok bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM jobs WHERE id = $1 AND project_id = $2)`, d.JobID, projectID).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return domain.Errorf(domain.EINVALID, "depends_on[%d].job_id: no job %s in this project", i, ref)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO job_dependencies (job_id, depends_on_job_id, type, position) VALUES ($1, $2, $3, $4)`,
			jobID, d.JobID, d.Type, i); err != nil {
			return err
		}
	}
	return nil
}

// dependencyStateRow is one row of DependencyStates.
type dependencyStateRow struct {
	JobID string          `db:"job_id"`
	Type  string          `db:"type"`
	Name  string          `db:"name"`
	State domain.JobState `db:"state"`
}

// DependencyStates lists the jobs jobID waits for with their states now, in
// the order the submission gave them.
func (s *Store) DependencyStates(ctx context.Context, ref string) ([]domain.DependencyState, error) {
	jobID, ok := domain.ResolveJobID(ref)
	if !ok {
		return nil, jobNotFound(ref)
	}
	rows, err := s.Pool.Query(ctx, `SELECT `+publicJobID("j")+` AS job_id, d.type, j.name, j.state
		FROM job_dependencies d JOIN jobs j ON j.id = d.depends_on_job_id
		WHERE d.job_id = $1 ORDER BY d.position`, jobID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.DependencyState, error) {
		r, err := pgx.RowToStructByName[dependencyStateRow](row)
		return domain.DependencyState{JobDependency: domain.JobDependency{JobID: r.JobID, Type: r.Type}, Name: r.Name, State: r.State}, err
	})
}

// Dependents lists the jobs that wait for jobID.
func (s *Store) Dependents(ctx context.Context, ref string) ([]string, error) {
	jobID, ok := domain.ResolveJobID(ref)
	if !ok {
		return nil, jobNotFound(ref)
	}
	rows, err := s.Pool.Query(ctx, `SELECT job_id FROM job_dependencies WHERE depends_on_job_id = $1 ORDER BY job_id`, jobID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
