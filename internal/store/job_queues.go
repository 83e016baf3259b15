package store

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"daestro/internal/domain"
)

const jobQueueCols = `id, name, description, priority, max_concurrency, max_spawns, max_idle_seconds, ssh_public_key, enabled, created_at, updated_at`

// jobQueueRow is one row of job_queues read with jobQueueCols.
type jobQueueRow struct {
	ID             string    `db:"id"`
	Name           string    `db:"name"`
	Description    string    `db:"description"`
	Priority       int       `db:"priority"`
	MaxConcurrency int       `db:"max_concurrency"`
	MaxSpawns      int       `db:"max_spawns"`
	MaxIdleSeconds int       `db:"max_idle_seconds"`
	SSHPublicKey   string    `db:"ssh_public_key"`
	Enabled        bool      `db:"enabled"`
	CreatedAt      time.Time `db:"created_at"`
	UpdatedAt      time.Time `db:"updated_at"`
}

// jobQueue maps the row to its queue, without its compute environments.
func (r jobQueueRow) jobQueue() domain.JobQueue {
	return domain.JobQueue{ID: r.ID, Name: r.Name, Description: r.Description, Priority: r.Priority,
		MaxConcurrency: r.MaxConcurrency, MaxSpawns: r.MaxSpawns, MaxIdleSeconds: r.MaxIdleSeconds,
		SSHPublicKey: r.SSHPublicKey, Enabled: r.Enabled, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// computeEnvRefRow is a queue's compute environment, by ID and name.
type computeEnvRefRow struct {
	ID   string `db:"id"`
	Name string `db:"name"`
}

func (r computeEnvRefRow) computeEnvRef() domain.ComputeEnvRef {
	return domain.ComputeEnvRef{ID: r.ID, Name: r.Name}
}

// queueComputeEnvRow is a computeEnvRefRow with the queue it belongs to.
type queueComputeEnvRow struct {
	JobQueueID string `db:"job_queue_id"`
	computeEnvRefRow
}

// unfinishedJobStates is the SQL condition for a job that still expects to run.
const unfinishedJobStates = `state NOT IN ('cancelled', 'timeout', 'completed', 'failed', 'error')`

func jobQueueNotFound(id string) error {
	return domain.Errorf(domain.ENOTFOUND, "no job queue with id %q in this project", id)
}

func jobQueueNameTaken(name string) error {
	return domain.Errorf(domain.ECONFLICT, "a job queue named '%s' already exists", name)
}

// CreateJobQueue validates in and stores a new, disabled job queue.
func (s *Store) CreateJobQueue(ctx context.Context, projectID string, in domain.JobQueueInput) (domain.JobQueue, error) {
	if err := in.Validate(); err != nil {
		return domain.JobQueue{}, err
	}
	// A pasted key usually ends in a newline; providers want the bare line.
	key := strings.TrimSpace(in.SSHPublicKey)
	rows, err := s.Pool.Query(ctx, `INSERT INTO job_queues
			(id, project_id, name, description, priority, max_concurrency, max_spawns, max_idle_seconds, ssh_public_key, enabled)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, false) RETURNING `+jobQueueCols,
		NewID(), projectID, in.Name, in.Description, *in.Priority, in.MaxConcurrency, in.MaxSpawns, in.MaxIdleSeconds, key)
	if err != nil {
		return domain.JobQueue{}, err
	}
	q, err := pgx.CollectExactlyOneRow(rows, byName(jobQueueRow.jobQueue))
	if isUniqueViolation(err) {
		return domain.JobQueue{}, jobQueueNameTaken(in.Name)
	}
	q.ComputeEnvs = []domain.ComputeEnvRef{}
	return q, err
}

// JobQueue returns one job queue of the project with its compute environments.
func (s *Store) JobQueue(ctx context.Context, projectID, id string) (domain.JobQueue, error) {
	q, err := s.jobQueue(ctx, s.Pool, projectID, id, "")
	if err != nil {
		return q, err
	}
	q.ComputeEnvs, err = queueComputeEnvs(ctx, s.Pool, q.ID)
	return q, err
}

// JobQueueByName returns the project's live job queue called name with its
// compute environments, for callers that refer to queues by name (the client
// API's "project_code::queue").
func (s *Store) JobQueueByName(ctx context.Context, projectID, name string) (domain.JobQueue, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+jobQueueCols+` FROM job_queues
		WHERE project_id = $1 AND name = $2 AND deleted_at IS NULL`, projectID, name)
	if err != nil {
		return domain.JobQueue{}, err
	}
	q, err := pgx.CollectExactlyOneRow(rows, byName(jobQueueRow.jobQueue))
	if isNoRows(err) {
		return domain.JobQueue{}, domain.Errorf(domain.ENOTFOUND, "no job queue named '%s' in this project", name)
	}
	if err != nil {
		return q, err
	}
	q.ComputeEnvs, err = queueComputeEnvs(ctx, s.Pool, q.ID)
	return q, err
}

// jobQueue reads a live job queue without its compute environments; lock is
// "" or a locking clause.
func (s *Store) jobQueue(ctx context.Context, q querier, projectID, id, lock string) (domain.JobQueue, error) {
	if !validUUID(id) {
		return domain.JobQueue{}, jobQueueNotFound(id)
	}
	rows, err := q.Query(ctx, `SELECT `+jobQueueCols+` FROM job_queues
		WHERE project_id = $1 AND id = $2 AND deleted_at IS NULL `+lock, projectID, id)
	if err != nil {
		return domain.JobQueue{}, err
	}
	jq, err := pgx.CollectExactlyOneRow(rows, byName(jobQueueRow.jobQueue))
	if isNoRows(err) {
		return domain.JobQueue{}, jobQueueNotFound(id)
	}
	return jq, err
}

// queueComputeEnvs lists a queue's compute environments in the order they
// were added, which is the order round robin follows.
func queueComputeEnvs(ctx context.Context, q querier, queueID string) ([]domain.ComputeEnvRef, error) {
	rows, err := q.Query(ctx, `SELECT e.id, e.name FROM job_queue_compute_envs m
		JOIN compute_envs e ON e.id = m.compute_env_id
		WHERE m.job_queue_id = $1 ORDER BY m.added_at, e.id`, queueID)
	if err != nil {
		return nil, err
	}
	refs, err := pgx.CollectRows(rows, byName(computeEnvRefRow.computeEnvRef))
	if refs == nil {
		refs = []domain.ComputeEnvRef{}
	}
	return refs, err
}

// ListJobQueues returns one page of the project's job queues, in creation
// order, each with its compute environments.
func (s *Store) ListJobQueues(ctx context.Context, projectID string, page domain.PageRequest) (domain.Page[domain.JobQueue], error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+jobQueueCols+` FROM job_queues
		WHERE project_id = $1 AND deleted_at IS NULL AND ($2::text = '' OR id > $2::uuid)
		ORDER BY id LIMIT $3`, projectID, page.After, page.Limit+1)
	if err != nil {
		return domain.Page[domain.JobQueue]{}, err
	}
	items, err := pgx.CollectRows(rows, byName(jobQueueRow.jobQueue))
	if err != nil {
		return domain.Page[domain.JobQueue]{}, err
	}
	out := domain.NewPage(items, page, func(q domain.JobQueue) string { return q.ID })
	if len(out.Items) == 0 {
		return out, nil
	}
	// One query for the whole page rather than one per queue.
	ids := make([]string, len(out.Items))
	byID := make(map[string]*domain.JobQueue, len(out.Items))
	for i := range out.Items {
		out.Items[i].ComputeEnvs = []domain.ComputeEnvRef{}
		ids[i] = out.Items[i].ID
		byID[ids[i]] = &out.Items[i]
	}
	rows, err = s.Pool.Query(ctx, `SELECT m.job_queue_id::text AS job_queue_id, e.id::text AS id, e.name FROM job_queue_compute_envs m
		JOIN compute_envs e ON e.id = m.compute_env_id
		WHERE m.job_queue_id = ANY($1::text[]::uuid[]) ORDER BY m.added_at, e.id`, ids)
	if err != nil {
		return domain.Page[domain.JobQueue]{}, err
	}
	refs, err := pgx.CollectRows(rows, pgx.RowToStructByName[queueComputeEnvRow])
	if err != nil {
		return domain.Page[domain.JobQueue]{}, err
	}
	for _, r := range refs {
		q := byID[r.JobQueueID]
		q.ComputeEnvs = append(q.ComputeEnvs, r.computeEnvRef())
	}
	return out, nil
}

// UpdateJobQueue changes a queue's editable settings. Enabling needs at least
// one compute environment; the check and the write share a transaction that
// locks the queue, so a concurrent RemoveQueueComputeEnv cannot slip between.
func (s *Store) UpdateJobQueue(ctx context.Context, projectID, id string, p domain.JobQueuePatch) (domain.JobQueue, error) {
	if !validUUID(id) {
		return domain.JobQueue{}, jobQueueNotFound(id)
	}
	if err := p.Validate(); err != nil {
		return domain.JobQueue{}, err
	}
	if p.IsEmpty() {
		return s.JobQueue(ctx, projectID, id)
	}
	var out domain.JobQueue
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		q, err := s.jobQueue(ctx, tx, projectID, id, "FOR UPDATE")
		if err != nil {
			return err
		}
		envs, err := queueComputeEnvs(ctx, tx, id)
		if err != nil {
			return err
		}
		if p.Enabled != nil && *p.Enabled && len(envs) == 0 {
			return domain.Errorf(domain.ECONFLICT,
				"job queue '%s' has no compute environment, so it could not run anything: add one (POST /v1/job-queues/%s/compute-envs), then enable it", q.Name, id)
		}
		rows, err := tx.Query(ctx, `UPDATE job_queues SET
				description = COALESCE($3, description),
				priority = COALESCE($4, priority),
				max_concurrency = COALESCE($5, max_concurrency),
				max_idle_seconds = COALESCE($6, max_idle_seconds),
				enabled = COALESCE($7, enabled),
				updated_at = now()
			WHERE project_id = $1 AND id = $2 RETURNING `+jobQueueCols,
			projectID, id, p.Description, p.Priority, p.MaxConcurrency, p.MaxIdleSeconds, p.Enabled)
		if err != nil {
			return err
		}
		if out, err = pgx.CollectExactlyOneRow(rows, byName(jobQueueRow.jobQueue)); err != nil {
			return err
		}
		out.ComputeEnvs = envs
		return nil
	})
	return out, err
}

// DeleteJobQueue deletes a queue with no active spawn, no unfinished job and
// no cron job using it, and removes its compute environments. The row is
// kept, hidden and disabled, because jobs and spawns keep referring to it;
// its name is freed.
func (s *Store) DeleteJobQueue(ctx context.Context, projectID, id string) error {
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		q, err := s.jobQueue(ctx, tx, projectID, id, "FOR UPDATE")
		if err != nil {
			return err
		}
		var spawns, jobs int
		if err := tx.QueryRow(ctx, `SELECT
				(SELECT count(*) FROM compute_spawns WHERE job_queue_id = $1 AND `+activeSpawnStates+`),
				(SELECT count(*) FROM jobs WHERE job_queue_id = $1 AND `+unfinishedJobStates+`)`, id).
			Scan(&spawns, &jobs); err != nil {
			return err
		}
		if spawns > 0 {
			return domain.Errorf(domain.ECONFLICT, "job queue '%s' has %s: disable the queue and wait until %s terminated", q.Name, countNoun(spawns, "active compute spawn"), pick(spawns, "it is", "they are"))
		}
		if jobs > 0 {
			return domain.Errorf(domain.ECONFLICT, "job queue '%s' has %s: %s", q.Name, countNoun(jobs, "unfinished job"), pick(jobs, "cancel it or wait until it finishes", "cancel them or wait until they finish"))
		}
		crons, err := namesOf(ctx, tx, `SELECT name FROM cron_jobs WHERE job_queue_id = $1 ORDER BY name`, id)
		if err != nil {
			return err
		}
		if len(crons) > 0 {
			return domain.Errorf(domain.ECONFLICT, "job queue '%s' is used by %s %s: %s", q.Name, pick(len(crons), "cron job", "cron jobs"), quoteNames(crons),
				pick(len(crons), "delete it or move it to another queue first", "delete them or move them to another queue first"))
		}
		if _, err := tx.Exec(ctx, `DELETE FROM job_queue_compute_envs WHERE job_queue_id = $1`, id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE job_queues SET deleted_at = now(), updated_at = now(), enabled = false WHERE id = $1`, id)
		return err
	})
}

// QueueComputeEnvs lists a queue's compute environments in the order they were added.
func (s *Store) QueueComputeEnvs(ctx context.Context, projectID, queueID string) ([]domain.ComputeEnvRef, error) {
	q, err := s.jobQueue(ctx, s.Pool, projectID, queueID, "")
	if err != nil {
		return nil, err
	}
	return queueComputeEnvs(ctx, s.Pool, q.ID)
}

// AddQueueComputeEnv appends a compute environment of the same project to a
// queue's list.
func (s *Store) AddQueueComputeEnv(ctx context.Context, projectID, queueID, envID string) (domain.ComputeEnvRef, error) {
	var ref domain.ComputeEnvRef
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		q, err := s.jobQueue(ctx, tx, projectID, queueID, "FOR UPDATE")
		if err != nil {
			return err
		}
		if envID == "" {
			return domain.Errorf(domain.EINVALID, "compute_env_id: is required: the id of a compute environment of this project")
		}
		// FOR SHARE waits out a concurrent DeleteComputeEnv (FOR UPDATE), whose
		// "in no job queue" check cannot see the row inserted here.
		env, err := s.computeEnv(ctx, tx, projectID, envID, "FOR SHARE")
		if domain.ErrorCode(err) == domain.ENOTFOUND {
			return domain.Errorf(domain.EINVALID, "compute_env_id: no compute environment with id %q in this project", envID)
		}
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO job_queue_compute_envs (job_queue_id, compute_env_id)
			VALUES ($1, $2) ON CONFLICT DO NOTHING`, q.ID, env.ID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return domain.Errorf(domain.ECONFLICT, "compute environment '%s' is already in job queue '%s'", env.Name, q.Name)
		}
		ref = domain.ComputeEnvRef{ID: env.ID, Name: env.Name}
		_, err = tx.Exec(ctx, `UPDATE job_queues SET updated_at = now() WHERE id = $1`, q.ID)
		return err
	})
	return ref, err
}

// RemoveQueueComputeEnv takes a compute environment off a queue's list. An
// enabled queue keeps at least one: the check and the delete share a
// transaction that locks the queue, so two concurrent removals cannot both
// pass it.
func (s *Store) RemoveQueueComputeEnv(ctx context.Context, projectID, queueID, envID string) error {
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		q, err := s.jobQueue(ctx, tx, projectID, queueID, "FOR UPDATE")
		if err != nil {
			return err
		}
		envs, err := queueComputeEnvs(ctx, tx, q.ID)
		if err != nil {
			return err
		}
		i := indexOfRef(envs, envID)
		if i < 0 {
			return domain.Errorf(domain.ENOTFOUND, "no compute environment with id %q in job queue '%s'", envID, q.Name)
		}
		if q.Enabled && len(envs) == 1 {
			return domain.Errorf(domain.ECONFLICT,
				"compute environment '%s' is the last one of job queue '%s', which is enabled: disable the queue first (PATCH enabled=false)", envs[i].Name, q.Name)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM job_queue_compute_envs WHERE job_queue_id = $1 AND compute_env_id = $2`, q.ID, envs[i].ID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE job_queues SET updated_at = now() WHERE id = $1`, q.ID)
		return err
	})
}

// indexOfRef finds id among refs. The id is compared in the form the
// database prints, so an upper-case id matches; a malformed one never does.
func indexOfRef(refs []domain.ComputeEnvRef, id string) int {
	u, err := uuid.Parse(id)
	if err != nil {
		return -1
	}
	for i, r := range refs {
		if r.ID == u.String() {
			return i
		}
	}
	return -1
}
