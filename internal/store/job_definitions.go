package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"daestro/internal/domain"
)

const jobDefinitionCols = `id, name, version, type, image, registry_auth_id, script, command, parameters, env,
	cpu_quota_pct, memory_mb, privileged, timeout_seconds, retry_strategy, created_at, updated_at, deleted_at`

// jobDefinitionRow is one row of job_definitions read with jobDefinitionCols.
type jobDefinitionRow struct {
	ID             string                `db:"id"`
	Name           string                `db:"name"`
	Version        int                   `db:"version"`
	Type           string                `db:"type"`
	Image          string                `db:"image"`
	RegistryAuthID *string               `db:"registry_auth_id"`
	Script         string                `db:"script"`
	Command        []string              `db:"command"`
	Parameters     map[string]string     `db:"parameters"`
	Env            []byte                `db:"env"` // sealed
	CPUQuotaPct    *int                  `db:"cpu_quota_pct"`
	MemoryMB       *int                  `db:"memory_mb"`
	Privileged     bool                  `db:"privileged"`
	TimeoutSeconds int                   `db:"timeout_seconds"`
	RetryStrategy  *domain.RetryStrategy `db:"retry_strategy"`
	CreatedAt      time.Time             `db:"created_at"`
	UpdatedAt      time.Time             `db:"updated_at"`
	DeletedAt      *time.Time            `db:"deleted_at"`
}

// jobDefinitionOf maps a jobDefinitionRow to its definition, opening its env.
func (s *Store) jobDefinitionOf(r jobDefinitionRow) (domain.JobDefinition, error) {
	d := domain.JobDefinition{ID: r.ID, Name: r.Name, Version: r.Version, Type: r.Type, Image: r.Image,
		RegistryAuthID: r.RegistryAuthID, Script: r.Script, Command: r.Command, Parameters: r.Parameters,
		CPUQuotaPct: r.CPUQuotaPct, MemoryMB: r.MemoryMB, Privileged: r.Privileged, TimeoutSeconds: r.TimeoutSeconds,
		RetryStrategy: r.RetryStrategy, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, DeletedAt: r.DeletedAt}
	if d.Command == nil {
		d.Command = []string{}
	}
	if d.Parameters == nil {
		d.Parameters = map[string]string{}
	}
	var err error
	d.Env, err = s.openEnv(envOfDefinition, r.Env, d.ID)
	return d, err
}

func (s *Store) collectJobDefinitions(rows pgx.Rows, err error) ([]domain.JobDefinition, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, byNameErr(s.jobDefinitionOf))
}

func jobDefinitionExists(name string) error {
	return domain.Errorf(domain.ECONFLICT, "a job definition named '%s' already exists: POST /v1/job-definitions/%s/revisions adds a version", name, name)
}

// CreateJobDefinition stores version 1 of a new job definition (or, when
// every version of the name was deleted, the next number: old jobs still
// refer to the deleted ones). bashImage is what bash definitions run in.
func (s *Store) CreateJobDefinition(ctx context.Context, projectID string, in domain.JobDefinitionInput, bashImage string) (domain.JobDefinition, error) {
	def, err := in.Build(nil, bashImage)
	if err != nil {
		return domain.JobDefinition{}, err
	}
	var out domain.JobDefinition
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if err := s.shareDefinitionRegistryAuth(ctx, tx, projectID, def.RegistryAuthID); err != nil {
			return err
		}
		latest, maxVersion, err := s.lockJobDefinitionVersions(ctx, tx, projectID, def.Name)
		if err != nil {
			return err
		}
		if latest != nil {
			return jobDefinitionExists(def.Name)
		}
		def.Version = maxVersion + 1
		out, err = s.insertJobDefinition(ctx, tx, projectID, def)
		return err
	})
	if isUniqueViolation(err) {
		// A concurrent create of the same name won.
		return domain.JobDefinition{}, jobDefinitionExists(def.Name)
	}
	return out, err
}

// CreateJobDefinitionRevision adds version n+1 to the definition named by
// ref (n counts deleted versions too, so a number is never reused), built
// from the latest active version with in's changes.
func (s *Store) CreateJobDefinitionRevision(ctx context.Context, projectID, ref string, in domain.JobDefinitionInput, bashImage string) (domain.JobDefinition, error) {
	name, version, err := domain.ParseDefinitionRef(ref)
	if err != nil {
		return domain.JobDefinition{}, err
	}
	if version != 0 {
		return domain.JobDefinition{}, domain.Errorf(domain.EINVALID,
			"revisions are added to a definition name, not to a version: use POST /v1/job-definitions/%s/revisions", name)
	}
	var out domain.JobDefinition
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		// A registry auth named in the request is locked before the
		// definition's rows, in DeleteRegistryAuth's order, so the two never
		// deadlock. An inherited one is safe: the latest version uses it,
		// so it cannot be deleted.
		if in.RegistryAuthID != nil && *in.RegistryAuthID != "" {
			if err := s.shareDefinitionRegistryAuth(ctx, tx, projectID, in.RegistryAuthID); err != nil {
				return err
			}
		}
		latest, maxVersion, err := s.lockJobDefinitionVersions(ctx, tx, projectID, name)
		if err != nil {
			return err
		}
		if latest == nil {
			return domain.Errorf(domain.ENOTFOUND, "no job definition named '%s' in this project: create it with POST /v1/job-definitions", name)
		}
		def, err := in.Build(latest, bashImage)
		if err != nil {
			return err
		}
		if err := s.shareDefinitionRegistryAuth(ctx, tx, projectID, def.RegistryAuthID); err != nil {
			return err
		}
		def.Version = maxVersion + 1
		out, err = s.insertJobDefinition(ctx, tx, projectID, def)
		return err
	})
	if isUniqueViolation(err) {
		// Only reachable when the name had no rows to lock (all of them
		// created concurrently with this request).
		return domain.JobDefinition{}, domain.Errorf(domain.ECONFLICT,
			"job definition '%s' got another version while this one was being added: try again", name)
	}
	return out, err
}

// lockJobDefinitionVersions locks every version of name, then reads them
// afresh: the lock waits out a concurrent create or revision, and the second
// statement (a new snapshot) sees the version it added, so two revisions
// never both take n+1. It returns the latest active version (nil when none)
// and the highest version ever used (0 when none).
func (s *Store) lockJobDefinitionVersions(ctx context.Context, tx pgx.Tx, projectID, name string) (*domain.JobDefinition, int, error) {
	if _, err := tx.Exec(ctx, `SELECT 1 FROM job_definitions WHERE project_id = $1 AND name = $2 FOR UPDATE`, projectID, name); err != nil {
		return nil, 0, err
	}
	var maxVersion int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM job_definitions WHERE project_id = $1 AND name = $2`,
		projectID, name).Scan(&maxVersion); err != nil {
		return nil, 0, err
	}
	latest, err := s.resolveJobDefinition(ctx, tx, projectID, name, "")
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return nil, maxVersion, nil
	}
	if err != nil {
		return nil, 0, err
	}
	return &latest, maxVersion, nil
}

// shareDefinitionRegistryAuth checks that a definition's registry auth is in
// the project and holds it (FOR SHARE) until the transaction ends, so
// DeleteRegistryAuth cannot remove it in between.
func (s *Store) shareDefinitionRegistryAuth(ctx context.Context, tx pgx.Tx, projectID string, id *string) error {
	if id == nil {
		return nil
	}
	_, err := s.registryAuth(ctx, tx, projectID, *id, "FOR SHARE")
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return domain.Errorf(domain.EINVALID, "registry_auth_id: no registry auth with id %q in this project", *id)
	}
	return err
}

func (s *Store) insertJobDefinition(ctx context.Context, tx pgx.Tx, projectID string, d domain.JobDefinition) (domain.JobDefinition, error) {
	id := NewID()
	env, err := s.sealEnv(envOfDefinition, d.Env, id)
	if err != nil {
		return domain.JobDefinition{}, err
	}
	command, err := json.Marshal(d.Command)
	if err != nil {
		return domain.JobDefinition{}, err
	}
	params, err := json.Marshal(d.Parameters)
	if err != nil {
		return domain.JobDefinition{}, err
	}
	rows, err := tx.Query(ctx, `INSERT INTO job_definitions (id, project_id, name, version, type, image, registry_auth_id, script,
			command, parameters, env, cpu_quota_pct, memory_mb, privileged, timeout_seconds, retry_strategy)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING `+jobDefinitionCols,
		id, projectID, d.Name, d.Version, d.Type, d.Image, d.RegistryAuthID, d.Script,
		command, params, env, d.CPUQuotaPct, d.MemoryMB, d.Privileged, d.TimeoutSeconds, d.RetryStrategy)
	if err != nil {
		return domain.JobDefinition{}, err
	}
	return pgx.CollectExactlyOneRow(rows, byNameErr(s.jobDefinitionOf))
}

// ResolveJobDefinition finds the active version a reference names: "name"
// is the latest active version, "name:version" that one unless deleted.
func (s *Store) ResolveJobDefinition(ctx context.Context, projectID, ref string) (domain.JobDefinition, error) {
	return s.resolveJobDefinition(ctx, s.Pool, projectID, ref, "")
}

// resolveJobDefinition is ResolveJobDefinition on q, taking the row lock
// named by lock ("", "FOR SHARE", "FOR UPDATE"). Submitting a job should
// resolve with FOR SHARE in its transaction, so the version cannot be
// deleted before the job row exists.
func (s *Store) resolveJobDefinition(ctx context.Context, q querier, projectID, ref, lock string) (domain.JobDefinition, error) {
	name, version, err := domain.ParseDefinitionRef(ref)
	if err != nil {
		return domain.JobDefinition{}, err
	}
	var rows pgx.Rows
	if version == 0 {
		rows, err = q.Query(ctx, `SELECT `+jobDefinitionCols+` FROM job_definitions
			WHERE project_id = $1 AND name = $2 AND deleted_at IS NULL ORDER BY version DESC LIMIT 1 `+lock, projectID, name)
	} else {
		rows, err = q.Query(ctx, `SELECT `+jobDefinitionCols+` FROM job_definitions
			WHERE project_id = $1 AND name = $2 AND version = $3 AND deleted_at IS NULL `+lock, projectID, name, version)
	}
	if err != nil {
		return domain.JobDefinition{}, err
	}
	d, err := pgx.CollectExactlyOneRow(rows, byNameErr(s.jobDefinitionOf))
	if isNoRows(err) {
		if version == 0 {
			return d, domain.Errorf(domain.ENOTFOUND, "no job definition named '%s' in this project", name)
		}
		return d, domain.Errorf(domain.ENOTFOUND, "no job definition '%s' in this project", ref)
	}
	return d, err
}

// JobDefinition returns one version by ID, deleted or not: jobs keep
// pointing at the version they ran, and their history must still show it.
func (s *Store) JobDefinition(ctx context.Context, projectID, id string) (domain.JobDefinition, error) {
	notFound := domain.Errorf(domain.ENOTFOUND, "no job definition with id %q in this project", id)
	if !validUUID(id) {
		return domain.JobDefinition{}, notFound
	}
	rows, err := s.Pool.Query(ctx, `SELECT `+jobDefinitionCols+` FROM job_definitions WHERE project_id = $1 AND id = $2`, projectID, id)
	if err != nil {
		return domain.JobDefinition{}, err
	}
	d, err := pgx.CollectExactlyOneRow(rows, byNameErr(s.jobDefinitionOf))
	if isNoRows(err) {
		return d, notFound
	}
	return d, err
}

// ListJobDefinitions returns one page of the project's definitions, each
// name once, at its latest active version.
func (s *Store) ListJobDefinitions(ctx context.Context, projectID string, page domain.PageRequest) (domain.Page[domain.JobDefinition], error) {
	items, err := s.collectJobDefinitions(s.Pool.Query(ctx, `SELECT `+jobDefinitionCols+` FROM job_definitions d
		WHERE project_id = $1 AND ($2 = '' OR id > $2::uuid) AND deleted_at IS NULL
			AND NOT EXISTS (SELECT 1 FROM job_definitions n WHERE n.project_id = d.project_id AND n.name = d.name
				AND n.deleted_at IS NULL AND n.version > d.version)
		ORDER BY id LIMIT $3`, projectID, page.After, page.Limit+1))
	if err != nil {
		return domain.Page[domain.JobDefinition]{}, err
	}
	return domain.NewPage(items, page, func(d domain.JobDefinition) string { return d.ID }), nil
}

// ListJobDefinitionRevisions returns one page of the active versions of the
// definition named by ref, oldest first.
func (s *Store) ListJobDefinitionRevisions(ctx context.Context, projectID, ref string, page domain.PageRequest) (domain.Page[domain.JobDefinition], error) {
	name, version, err := domain.ParseDefinitionRef(ref)
	if err != nil {
		return domain.Page[domain.JobDefinition]{}, err
	}
	if version != 0 {
		return domain.Page[domain.JobDefinition]{}, domain.Errorf(domain.EINVALID,
			"revisions belong to a definition name, not to a version: use /v1/job-definitions/%s/revisions", name)
	}
	items, err := s.collectJobDefinitions(s.Pool.Query(ctx, `SELECT `+jobDefinitionCols+` FROM job_definitions
		WHERE project_id = $1 AND name = $2 AND deleted_at IS NULL AND ($3 = '' OR id > $3::uuid)
		ORDER BY id LIMIT $4`, projectID, name, page.After, page.Limit+1))
	if err != nil {
		return domain.Page[domain.JobDefinition]{}, err
	}
	if len(items) == 0 && page.After == "" {
		return domain.Page[domain.JobDefinition]{}, domain.Errorf(domain.ENOTFOUND, "no job definition named '%s' in this project", name)
	}
	return domain.NewPage(items, page, func(d domain.JobDefinition) string { return d.ID }), nil
}

// DeleteJobDefinition deletes one version ("name:version") that no queued or
// running job and no cron job uses. The row stays, marked deleted, because
// finished jobs still refer to it; its version number is never reused.
func (s *Store) DeleteJobDefinition(ctx context.Context, projectID, ref string) (domain.JobDefinition, error) {
	name, version, err := domain.ParseDefinitionRef(ref)
	if err != nil {
		return domain.JobDefinition{}, err
	}
	if version == 0 {
		// Deleting "the latest" would silently make an older version the
		// one that runs; the caller must mean a version.
		latest, err := s.ResolveJobDefinition(ctx, projectID, name)
		if err != nil {
			return domain.JobDefinition{}, err
		}
		return domain.JobDefinition{}, domain.Errorf(domain.EINVALID, "say which version to delete, e.g. %s", latest.Ref())
	}
	var d domain.JobDefinition
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		// FOR UPDATE waits for jobs and cron jobs being created on this
		// version (their foreign keys lock it), so none slips in after the checks.
		d, err = s.resolveJobDefinition(ctx, tx, projectID, ref, "FOR UPDATE")
		if err != nil {
			return err
		}
		// The states in which a job still needs its definition: queued or running.
		var running int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE project_id = $1 AND job_definition_id = $2
			AND state IN ('submitted', 'pending', 'runnable', 'starting', 'running', 'cancelling')`,
			projectID, d.ID).Scan(&running); err != nil {
			return err
		}
		if running > 0 {
			jobs := "jobs"
			if running == 1 {
				jobs = "job"
			}
			return domain.Errorf(domain.ECONFLICT, "job definition '%s' has %d %s queued or running: wait for them to finish or cancel them, then delete it",
				d.Ref(), running, jobs)
		}
		crons, err := namesOf(ctx, tx, `SELECT name FROM cron_jobs WHERE project_id = $1 AND job_definition_id = $2 ORDER BY name`, projectID, d.ID)
		if err != nil {
			return err
		}
		if len(crons) > 0 {
			return domain.Errorf(domain.ECONFLICT, "job definition '%s' is used by cron jobs %s: point them at another version or delete them first",
				d.Ref(), quoteNames(crons))
		}
		return tx.QueryRow(ctx, `UPDATE job_definitions SET deleted_at = now(), updated_at = now() WHERE id = $1 RETURNING updated_at, deleted_at`,
			d.ID).Scan(&d.UpdatedAt, &d.DeletedAt)
	})
	return d, err
}
