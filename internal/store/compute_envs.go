package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"daestro/internal/domain"
)

const computeEnvCols = `id, name, kind, cloud_auth_id, instance_type, region, usable_cpu_pct, usable_memory_mb,
	instance_vcpu, instance_memory_mb, hourly_price, enabled, created_at, updated_at`

// computeEnvRow is one row of compute_envs read with computeEnvCols.
type computeEnvRow struct {
	ID               string    `db:"id"`
	Name             string    `db:"name"`
	Kind             string    `db:"kind"`
	CloudAuthID      *string   `db:"cloud_auth_id"`
	InstanceType     string    `db:"instance_type"`
	Region           string    `db:"region"`
	UsableCPUPct     *int      `db:"usable_cpu_pct"`
	UsableMemoryMB   *int      `db:"usable_memory_mb"`
	InstanceVCPU     *int      `db:"instance_vcpu"`
	InstanceMemoryMB *int      `db:"instance_memory_mb"`
	HourlyPrice      *float64  `db:"hourly_price"`
	Enabled          bool      `db:"enabled"`
	CreatedAt        time.Time `db:"created_at"`
	UpdatedAt        time.Time `db:"updated_at"`
}

func (r computeEnvRow) computeEnv() domain.ComputeEnv {
	return domain.ComputeEnv{ID: r.ID, Name: r.Name, Kind: r.Kind, CloudAuthID: r.CloudAuthID, InstanceType: r.InstanceType,
		Region: r.Region, UsableCPUPct: r.UsableCPUPct, UsableMemoryMB: r.UsableMemoryMB, InstanceVCPU: r.InstanceVCPU,
		InstanceMemoryMB: r.InstanceMemoryMB, HourlyPrice: r.HourlyPrice, Enabled: r.Enabled,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// activeSpawnStates is the SQL condition for a spawn that may still hold a
// machine: every state but the two final ones.
const activeSpawnStates = `state NOT IN ('failed', 'terminated')`

func computeEnvNotFound(id string) error {
	return domain.Errorf(domain.ENOTFOUND, "no compute environment with id %q in this project", id)
}

// CreateComputeEnv validates in and stores a compute environment; a cloud one
// must use a cloud auth of the same project and come with in.Size, which the
// caller looked up at the provider beforehand.
func (s *Store) CreateComputeEnv(ctx context.Context, projectID string, in domain.ComputeEnvInput) (domain.ComputeEnv, error) {
	if err := in.Validate(); err != nil {
		return domain.ComputeEnv{}, err
	}
	kind := in.ResolvedKind()
	var cloudAuthID *string
	var vcpu, memoryMB *int
	var price *float64
	switch {
	case kind == domain.ComputeEnvCloud && in.Size == nil:
		return domain.ComputeEnv{}, fmt.Errorf("store: cloud compute environment %q without the size of instance type %q", in.Name, in.InstanceType)
	case kind == domain.ComputeEnvCloud:
		cloudAuthID = &in.CloudAuthID
		if in.Size.VCPU <= 0 || in.Size.MemoryMB <= 0 || in.Size.HourlyPrice < 0 {
			return domain.ComputeEnv{}, fmt.Errorf("store: instance type %q has an impossible size %+v", in.InstanceType, *in.Size)
		}
		vcpu, memoryMB, price = &in.Size.VCPU, &in.Size.MemoryMB, &in.Size.HourlyPrice
	case in.Size != nil:
		return domain.ComputeEnv{}, fmt.Errorf("store: selfhosted compute environment %q with an instance size", in.Name)
	}
	enabled := in.Enabled == nil || *in.Enabled
	var env domain.ComputeEnv
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if cloudAuthID != nil {
			if err := shareCloudAuth(ctx, tx, projectID, *cloudAuthID); err != nil {
				return err
			}
		}
		rows, err := tx.Query(ctx, `INSERT INTO compute_envs
				(id, project_id, name, kind, cloud_auth_id, instance_type, region, usable_cpu_pct, usable_memory_mb,
				 instance_vcpu, instance_memory_mb, hourly_price, enabled)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING `+computeEnvCols,
			NewID(), projectID, in.Name, kind, cloudAuthID, in.InstanceType, in.Region, in.UsableCPUPct, in.UsableMemoryMB,
			vcpu, memoryMB, price, enabled)
		if err != nil {
			return err
		}
		env, err = pgx.CollectExactlyOneRow(rows, byName(computeEnvRow.computeEnv))
		if isUniqueViolation(err) {
			return computeEnvNameTaken(in.Name)
		}
		return err
	})
	return env, err
}

// shareCloudAuth checks that the cloud auth belongs to the project and holds
// it FOR SHARE until the transaction ends: a concurrent delete of the cloud
// auth cannot see the compute environment being inserted, so it must wait.
func shareCloudAuth(ctx context.Context, tx pgx.Tx, projectID, id string) error {
	if validUUID(id) {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM cloud_auths WHERE project_id = $1 AND id = $2 FOR SHARE`, projectID, id).Scan(&one)
		if !isNoRows(err) {
			return err
		}
	}
	return domain.Errorf(domain.EINVALID, "cloud_auth_id: no cloud auth with id %q in this project", id)
}

func computeEnvNameTaken(name string) error {
	return domain.Errorf(domain.ECONFLICT, "a compute environment named '%s' already exists", name)
}

// ComputeEnv returns one compute environment of the project.
func (s *Store) ComputeEnv(ctx context.Context, projectID, id string) (domain.ComputeEnv, error) {
	return s.computeEnv(ctx, s.Pool, projectID, id, "")
}

// computeEnv reads a live compute environment; lock is "" or a locking clause.
func (s *Store) computeEnv(ctx context.Context, q querier, projectID, id, lock string) (domain.ComputeEnv, error) {
	if !validUUID(id) {
		return domain.ComputeEnv{}, computeEnvNotFound(id)
	}
	rows, err := q.Query(ctx, `SELECT `+computeEnvCols+` FROM compute_envs
		WHERE project_id = $1 AND id = $2 AND deleted_at IS NULL `+lock, projectID, id)
	if err != nil {
		return domain.ComputeEnv{}, err
	}
	env, err := pgx.CollectExactlyOneRow(rows, byName(computeEnvRow.computeEnv))
	if isNoRows(err) {
		return domain.ComputeEnv{}, computeEnvNotFound(id)
	}
	return env, err
}

// ListComputeEnvs returns one page of the project's compute environments, in creation order.
func (s *Store) ListComputeEnvs(ctx context.Context, projectID string, page domain.PageRequest) (domain.Page[domain.ComputeEnv], error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+computeEnvCols+` FROM compute_envs
		WHERE project_id = $1 AND deleted_at IS NULL AND ($2::text = '' OR id > $2::uuid)
		ORDER BY id LIMIT $3`, projectID, page.After, page.Limit+1)
	if err != nil {
		return domain.Page[domain.ComputeEnv]{}, err
	}
	items, err := pgx.CollectRows(rows, byName(computeEnvRow.computeEnv))
	if err != nil {
		return domain.Page[domain.ComputeEnv]{}, err
	}
	return domain.NewPage(items, page, func(e domain.ComputeEnv) string { return e.ID }), nil
}

// UpdateComputeEnv renames, enables or disables a compute environment.
func (s *Store) UpdateComputeEnv(ctx context.Context, projectID, id string, p domain.ComputeEnvPatch) (domain.ComputeEnv, error) {
	if !validUUID(id) {
		return domain.ComputeEnv{}, computeEnvNotFound(id)
	}
	if err := p.Validate(); err != nil {
		return domain.ComputeEnv{}, err
	}
	if p.IsEmpty() {
		return s.ComputeEnv(ctx, projectID, id)
	}
	rows, err := s.Pool.Query(ctx, `UPDATE compute_envs SET
			name = COALESCE($3, name), enabled = COALESCE($4, enabled), updated_at = now()
		WHERE project_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING `+computeEnvCols,
		projectID, id, p.Name, p.Enabled)
	if err != nil {
		return domain.ComputeEnv{}, err
	}
	env, err := pgx.CollectExactlyOneRow(rows, byName(computeEnvRow.computeEnv))
	switch {
	case isUniqueViolation(err):
		return domain.ComputeEnv{}, computeEnvNameTaken(*p.Name)
	case isNoRows(err):
		return domain.ComputeEnv{}, computeEnvNotFound(id)
	}
	return env, err
}

// DeleteComputeEnv deletes a compute environment that is disabled, has no
// active spawn and is in no job queue. The row is kept, hidden, because
// spawns keep referring to it; its name and its cloud auth are freed.
func (s *Store) DeleteComputeEnv(ctx context.Context, projectID, id string) error {
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		// The row lock serialises with AddQueueComputeEnv (FOR SHARE on the
		// environment), so no queue can pick the environment up mid-delete.
		env, err := s.computeEnv(ctx, tx, projectID, id, "FOR UPDATE")
		if err != nil {
			return err
		}
		if env.Enabled {
			return domain.Errorf(domain.ECONFLICT, "compute environment '%s' is enabled: disable it first (PATCH enabled=false)", env.Name)
		}
		var spawns int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM compute_spawns
			WHERE compute_env_id = $1 AND `+activeSpawnStates, id).Scan(&spawns); err != nil {
			return err
		}
		if spawns > 0 {
			return domain.Errorf(domain.ECONFLICT, "compute environment '%s' has %s: wait until %s terminated", env.Name, countNoun(spawns, "active compute spawn"), pick(spawns, "it is", "they are"))
		}
		queues, err := namesOf(ctx, tx, `SELECT q.name FROM job_queue_compute_envs m
			JOIN job_queues q ON q.id = m.job_queue_id WHERE m.compute_env_id = $1 ORDER BY q.name`, id)
		if err != nil {
			return err
		}
		if len(queues) > 0 {
			noun := pick(len(queues), "job queue", "job queues")
			return domain.Errorf(domain.ECONFLICT, "compute environment '%s' is in %s %s: remove it from %s %s first",
				env.Name, noun, quoteNames(queues), noun, quoteNames(queues))
		}
		_, err = tx.Exec(ctx, `UPDATE compute_envs SET deleted_at = now(), updated_at = now(), enabled = false, cloud_auth_id = NULL
			WHERE id = $1`, id)
		return err
	})
}

// pick returns one when n is 1 and many otherwise, to keep messages grammatical.
func pick(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// countNoun renders "1 active compute spawn" or "2 active compute spawns".
func countNoun(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
