package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"daestro/internal/domain"
)

// jobRandomNameTries bounds the retries of a random name that clashed. With
// millions of names a second clash in a row means something else is wrong.
const jobRandomNameTries = 5

func jobNotFound(id string) error {
	return domain.Errorf(domain.ENOTFOUND, "no job with id %q in this project", id)
}

func jobRunNotFound(id string) error {
	return domain.Errorf(domain.ENOTFOUND, "no job run with id %q", id)
}

// jobSelect reads jobs with the names of their queue and definition (deleted
// ones included: a job outlives both) and the attempt of the current run, as
// the columns of jobRow.
var jobSelect = `SELECT j.id, j.name, j.state, j.system_note, j.schedule_at, q.id AS queue_id, q.name AS queue_name,
		d.id AS definition_id, d.name AS definition_name, d.version AS definition_version,
		j.command, j.parameters, j.env, j.cron_job_id, j.current_run_id, coalesce(r.attempt, 0) AS attempt, j.runnable_at,
		j.pending_reason, j.pending_detail, j.retry_strategy AS job_retry_strategy, d.retry_strategy AS definition_retry_strategy,
		CASE WHEN j.pending_reason = 'dependency' THEN (SELECT dj.state FROM job_dependencies pd JOIN jobs dj ON dj.id = pd.depends_on_job_id
			WHERE pd.job_id = j.id AND ` + publicJobID("dj") + ` = j.pending_detail) END AS pending_dependency_state,
		coalesce((SELECT json_agg(json_build_object('job_id', ` + publicJobID("ddj") + `, 'type', dd.type) ORDER BY dd.position)
			FROM job_dependencies dd JOIN jobs ddj ON ddj.id = dd.depends_on_job_id WHERE dd.job_id = j.id), '[]') AS depends_on,
		j.array_size, j.array_sequential, j.array_parent_id, j.array_index, p.array_size AS parent_array_size,
		CASE WHEN j.array_size IS NOT NULL THEN (SELECT json_object_agg(c.state, c.n) FROM
			(SELECT state, count(*) AS n FROM jobs WHERE array_parent_id = j.id GROUP BY state) c) END AS array_counts,
		` + queuePosition("j") + ` AS queue_position,
		j.created_at, j.updated_at
	FROM jobs j
	JOIN job_queues q ON q.id = j.job_queue_id
	JOIN job_definitions d ON d.id = j.job_definition_id
	LEFT JOIN job_runs r ON r.id = j.current_run_id
	LEFT JOIN jobs p ON p.id = j.array_parent_id`

// queuePosition is the SQL of the 1-based position of the runnable job alias
// in its queue, as the dispatcher's placement counts it (the queue's
// unplaced runnable jobs, in the queue's order: when they became runnable,
// then ID), or NULL when the reason alias waits for is not the dispatcher's.
// Counted when read, two range scans of the queue-order index and of the
// queue's allocations, so it is right for every job of a backlog whether or
// not the last round read it (a round reads a bound of each queue: see
// placement.Bounds).
func queuePosition(alias string) string {
	key := "(COALESCE(" + alias + ".runnable_at, " + alias + ".created_at), " + alias + ".id)"
	return `CASE WHEN ` + alias + `.state = 'runnable' AND ` + alias + `.pending_in_queue THEN
		(SELECT count(*) FROM jobs o WHERE o.job_queue_id = ` + alias + `.job_queue_id AND o.state = 'runnable'
			AND (COALESCE(o.runnable_at, o.created_at), o.id) <= ` + key + `)
		- (SELECT count(*) FROM allocations a JOIN job_runs ar ON ar.id = a.run_id
			JOIN jobs o ON o.id = ar.job_id AND o.current_run_id = ar.id
			WHERE a.job_queue_id = ` + alias + `.job_queue_id AND o.state = 'runnable'
			AND (COALESCE(o.runnable_at, o.created_at), o.id) < ` + key + `) END`
}

// withQueuePosition adds the job's position in its queue to a dispatcher's
// reason, when it has one.
func withQueuePosition(detail string, position *int) string {
	if position == nil {
		return detail
	}
	return fmt.Sprintf("%s (position %d in the queue)", detail, *position)
}

// publicJobID is the SQL of the ID the API names job alias by: an array
// child's is "<parent>:<index>" (domain.ResolveJobID maps it back).
func publicJobID(alias string) string {
	return "CASE WHEN " + alias + ".array_parent_id IS NULL THEN " + alias + ".id::text ELSE " +
		alias + ".array_parent_id::text || ':' || " + alias + ".array_index::text END"
}

// jobRow is one row of jobSelect.
type jobRow struct {
	ID                string                 `db:"id"`
	Name              string                 `db:"name"`
	State             domain.JobState        `db:"state"`
	SystemNote        string                 `db:"system_note"`
	ScheduleAt        *time.Time             `db:"schedule_at"`
	QueueID           string                 `db:"queue_id"`
	QueueName         string                 `db:"queue_name"`
	DefinitionID      string                 `db:"definition_id"`
	DefinitionName    string                 `db:"definition_name"`
	DefinitionVersion int                    `db:"definition_version"`
	Command           []string               `db:"command"`
	Parameters        map[string]string      `db:"parameters"`
	Env               []byte                 `db:"env"` // sealed
	CronJobID         *string                `db:"cron_job_id"`
	CurrentRunID      *string                `db:"current_run_id"`
	Attempt           int                    `db:"attempt"`
	RunnableAt        *time.Time             `db:"runnable_at"`
	PendingReason     string                 `db:"pending_reason"`
	PendingDetail     string                 `db:"pending_detail"`
	JobRetry          *domain.RetryStrategy  `db:"job_retry_strategy"`
	DefinitionRetry   *domain.RetryStrategy  `db:"definition_retry_strategy"`
	DependsOn         []domain.JobDependency `db:"depends_on"`
	// PendingDepState is the state now of the job a pending job waits for
	// (its pending_detail holds that job's ID).
	PendingDepState *domain.JobState        `db:"pending_dependency_state"`
	ArraySize       *int                    `db:"array_size"`
	ArraySequential bool                    `db:"array_sequential"`
	ArrayParentID   *string                 `db:"array_parent_id"`
	ArrayIndex      *int                    `db:"array_index"`
	ParentArraySize *int                    `db:"parent_array_size"`
	ArrayCounts     map[domain.JobState]int `db:"array_counts"`
	// QueuePosition is where a runnable job the dispatcher explained stands
	// in its queue now (queuePosition).
	QueuePosition *int      `db:"queue_position"`
	CreatedAt     time.Time `db:"created_at"`
	UpdatedAt     time.Time `db:"updated_at"`
}

// jobOf maps a jobRow to its job, opening the job's env overrides.
func (s *Store) jobOf(r jobRow) (domain.Job, error) {
	j := domain.Job{
		ID:            r.ID,
		Name:          r.Name,
		State:         r.State,
		SystemNote:    r.SystemNote,
		ScheduleAt:    r.ScheduleAt,
		JobQueue:      domain.JobQueueRef{ID: r.QueueID, Name: r.QueueName},
		JobDefinition: domain.JobDefinitionRef{ID: r.DefinitionID, Name: r.DefinitionName, Version: r.DefinitionVersion},
		Command:       r.Command,
		Parameters:    r.Parameters,
		CronJobID:     r.CronJobID,
		Attempt:       r.Attempt,
		RunnableAt:    r.RunnableAt,
		CreatedAt:     r.CreatedAt,
		UpdatedAt:     r.UpdatedAt,
	}
	if r.CurrentRunID != nil {
		j.CurrentRunID = *r.CurrentRunID
	}
	if j.Command == nil {
		j.Command = []string{}
	}
	if j.Parameters == nil {
		j.Parameters = map[string]string{}
	}
	switch {
	case j.State == domain.JobRunnable:
		p := domain.PendingQueued
		if r.PendingReason != "" {
			p = domain.PendingReason{Reason: r.PendingReason, Detail: withQueuePosition(r.PendingDetail, r.QueuePosition)}
		}
		j.Pending = &p
	case j.State == domain.JobPending && r.PendingReason == domain.PendingDependency && r.PendingDepState != nil:
		// Said with the other job's state now, not when it was last looked at.
		d := domain.DependencyState{JobDependency: domain.JobDependency{JobID: r.PendingDetail}, State: *r.PendingDepState}
		j.Pending = &domain.PendingReason{Reason: r.PendingReason, Detail: d.WaitSentence()}
	case j.State == domain.JobPending && r.PendingReason != "":
		j.Pending = &domain.PendingReason{Reason: r.PendingReason, Detail: r.PendingDetail}
	}
	j.RetryStrategy = domain.Effective(r.JobRetry, r.DefinitionRetry)
	j.DependsOn = r.DependsOn
	if j.DependsOn == nil {
		j.DependsOn = []domain.JobDependency{}
	}
	if r.ArraySequential {
		j.DependsOn = append(j.DependsOn, domain.JobDependency{Type: domain.DependencySequential})
	}
	if r.ArraySize != nil {
		counts := make(map[domain.JobState]int, len(domain.JobStates))
		for _, st := range domain.JobStates {
			counts[st] = r.ArrayCounts[st]
		}
		j.ArrayProperties = &domain.ArrayProperties{Size: *r.ArraySize, StatusSummary: counts}
	}
	if r.ArrayParentID != nil && r.ArrayIndex != nil && r.ParentArraySize != nil {
		j.ArrayChild = &domain.ArrayChild{ParentID: *r.ArrayParentID, Index: *r.ArrayIndex, Size: *r.ParentArraySize}
	}
	var err error
	j.Env, err = s.openEnv(envOfJob, r.Env, j.ID)
	return j, err
}

const jobRunCols = `id, attempt, state, compute_spawn_id, image_digest, exit_code, oom_killed, reason, system_note, created_at, started_at, finished_at, logs_purged_at`

// jobRunRow is one row of job_runs read with jobRunCols.
type jobRunRow struct {
	ID             string          `db:"id"`
	Attempt        int             `db:"attempt"`
	State          domain.JobState `db:"state"`
	ComputeSpawnID *string         `db:"compute_spawn_id"`
	ImageDigest    string          `db:"image_digest"`
	ExitCode       *int            `db:"exit_code"`
	OOMKilled      bool            `db:"oom_killed"`
	Reason         string          `db:"reason"`
	SystemNote     string          `db:"system_note"`
	CreatedAt      time.Time       `db:"created_at"`
	StartedAt      *time.Time      `db:"started_at"`
	FinishedAt     *time.Time      `db:"finished_at"`
	LogsPurgedAt   *time.Time      `db:"logs_purged_at"`
}

func (r jobRunRow) jobRun() domain.JobRun {
	return domain.JobRun{ID: r.ID, Attempt: r.Attempt, State: r.State, ComputeSpawnID: r.ComputeSpawnID, ImageDigest: r.ImageDigest,
		ExitCode: r.ExitCode, OOMKilled: r.OOMKilled, Reason: r.Reason, SystemNote: r.SystemNote,
		CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, LogsPurgedAt: r.LogsPurgedAt}
}

// jobEventRow is one row of job_events.
type jobEventRow struct {
	State  domain.JobState `db:"state"`
	Reason string          `db:"reason"`
	RunID  *string         `db:"run_id"`
	At     time.Time       `db:"at"`
}

func (r jobEventRow) jobEvent() domain.JobEvent {
	return domain.JobEvent{State: r.State, Reason: r.Reason, RunID: r.RunID, At: r.At}
}

// SubmitJob submits a job in one transaction: it resolves the definition
// and the queue (FOR SHARE, so neither is deleted or disabled before the job
// row exists), fills the command's placeholders, writes the job (state
// submitted), its first run and its first event, then calls start (which
// starts the JobWorkflow) before committing. When start fails nothing is
// written; when the commit fails after start succeeded the caller must stop
// the workflow it started.
func (s *Store) SubmitJob(ctx context.Context, projectID string, in domain.SubmitJob, start func(jobID, runID string) error) (domain.Job, error) {
	var out domain.Job
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		var err error
		if out, err = s.submitJob(ctx, tx, projectID, in); err != nil {
			return err
		}
		return start(out.ID, out.CurrentRunID)
	})
	if err != nil {
		return domain.Job{}, err
	}
	return out, nil
}

// submitJob writes a submitted job, its first run and its first event on tx.
func (s *Store) submitJob(ctx context.Context, tx pgx.Tx, projectID string, in domain.SubmitJob) (domain.Job, error) {
	def, err := s.resolveJobDefinition(ctx, tx, projectID, in.DefinitionRef(), "FOR SHARE")
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return domain.Job{}, domain.Errorf(domain.EINVALID, "job_definition: %s", domain.ErrorMessage(err))
	}
	if err != nil {
		return domain.Job{}, err
	}
	queue, err := s.submittableQueue(ctx, tx, projectID, in.QueueName)
	if err != nil {
		return domain.Job{}, err
	}
	command, err := domain.EffectiveCommand(def, in)
	if err != nil {
		return domain.Job{}, err
	}
	via := in.Via
	if via == "" {
		via = "API"
	}
	jobID, runID := NewID(), NewID()
	if in.ArraySize > 0 {
		runID = "" // an array job never runs itself: its children do
	}
	if err := s.insertJob(ctx, tx, projectID, jobID, runID, queue, def.ID, command, in); err != nil {
		return domain.Job{}, err
	}
	if err := insertDependencies(ctx, tx, projectID, jobID, in.DependsOn); err != nil {
		return domain.Job{}, err
	}
	if in.ArraySize > 0 {
		if err := s.insertArrayChildren(ctx, tx, projectID, jobID, queue, def.ID, command, in, via); err != nil {
			return domain.Job{}, err
		}
		return s.job(ctx, tx, projectID, jobID, "")
	}
	if _, err := tx.Exec(ctx, `INSERT INTO job_runs (id, job_id, project_id, attempt, state) VALUES ($1, $2, $3, 1, $4)`,
		runID, jobID, projectID, domain.JobSubmitted); err != nil {
		return domain.Job{}, err
	}
	if err := insertJobEvent(ctx, tx, jobID, runID, domain.JobSubmitted, "submitted via "+via); err != nil {
		return domain.Job{}, err
	}
	return s.job(ctx, tx, projectID, jobID, "")
}

// submittableQueue finds the live queue name refers to and holds it (FOR
// SHARE) so it cannot be disabled or deleted until the job row exists;
// a disabled queue is refused with what to do about it.
func (s *Store) submittableQueue(ctx context.Context, tx pgx.Tx, projectID, name string) (domain.JobQueue, error) {
	rows, err := tx.Query(ctx, `SELECT `+jobQueueCols+` FROM job_queues
		WHERE project_id = $1 AND name = $2 AND deleted_at IS NULL FOR SHARE`, projectID, name)
	if err != nil {
		return domain.JobQueue{}, err
	}
	q, err := pgx.CollectExactlyOneRow(rows, byName(jobQueueRow.jobQueue))
	if isNoRows(err) {
		return q, domain.Errorf(domain.EINVALID, "job_queue: no job queue named '%s' in this project", name)
	}
	if err != nil {
		return q, err
	}
	if !q.Enabled {
		return q, domain.Errorf(domain.EINVALID, "job queue '%s' is disabled: add a compute environment and enable it", q.Name)
	}
	return q, nil
}

// insertJob writes the job row. A name the client chose that is taken is
// ECONFLICT; a random one that clashes is drawn again, inside a savepoint so
// the failed insert does not abort the transaction.
func (s *Store) insertJob(ctx context.Context, tx pgx.Tx, projectID, jobID, runID string, queue domain.JobQueue, defID string,
	command []string, in domain.SubmitJob) error {
	env, err := s.sealEnv(envOfJob, in.Env, jobID)
	if err != nil {
		return err
	}
	cmdJSON, err := json.Marshal(command)
	if err != nil {
		return err
	}
	params, err := json.Marshal(in.Parameters)
	if err != nil {
		return err
	}
	name := in.Name
	for try := 1; ; try++ {
		if in.Name == "" {
			name = domain.RandomJobName()
		}
		err := pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
			_, err := sp.Exec(ctx, `INSERT INTO jobs (id, project_id, job_queue_id, job_definition_id, name, state,
					schedule_at, command, parameters, env, current_run_id, cron_job_id, retry_strategy, array_size, array_sequential)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULLIF($11, '')::uuid, $12, $13, NULLIF($14, 0), $15)`,
				jobID, projectID, queue.ID, defID, name, domain.JobSubmitted, in.ScheduleAt, cmdJSON, params, env, runID, in.CronJobID, in.RetryStrategy,
				in.ArraySize, in.Sequential())
			return err
		})
		switch {
		case err == nil:
			return nil
		case !isUniqueViolation(err):
			return err
		case in.Name != "":
			return domain.Errorf(domain.ECONFLICT, "a job named '%s' already exists in job queue '%s': choose another name, or leave name out for a random one",
				name, queue.Name)
		case try == jobRandomNameTries:
			return fmt.Errorf("no free random job name in queue %s after %d tries: %w", queue.ID, try, err)
		}
	}
}

func insertJobEvent(ctx context.Context, q querier, jobID, runID string, state domain.JobState, reason string) error {
	_, err := q.Exec(ctx, `INSERT INTO job_events (job_id, run_id, state, reason) VALUES ($1, $2, $3, $4)`, jobID, runID, state, reason)
	return err
}

// Job returns one of the project's jobs.
func (s *Store) Job(ctx context.Context, projectID, id string) (domain.Job, error) {
	return s.job(ctx, s.Pool, projectID, id, "")
}

// job reads a job on q; lock is "" or a locking clause for the job row.
func (s *Store) job(ctx context.Context, q querier, projectID, ref, lock string) (domain.Job, error) {
	id, ok := domain.ResolveJobID(ref)
	if !ok {
		return domain.Job{}, jobNotFound(ref)
	}
	if lock != "" {
		lock += " OF j"
	}
	rows, err := q.Query(ctx, jobSelect+` WHERE j.project_id = $1 AND j.id = $2 `+lock, projectID, id)
	if err != nil {
		return domain.Job{}, err
	}
	j, err := pgx.CollectExactlyOneRow(rows, byNameErr(s.jobOf))
	if isNoRows(err) {
		return j, jobNotFound(ref)
	}
	return j, err
}

// JobDetail returns a job with every run (by attempt) and every state
// change (oldest first).
func (s *Store) JobDetail(ctx context.Context, projectID, id string) (domain.JobDetail, error) {
	var d domain.JobDetail
	// One snapshot, so the runs and events agree with the job row.
	err := pgx.BeginTxFunc(ctx, s.Pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		j, err := s.job(ctx, tx, projectID, id, "")
		if err != nil {
			return err
		}
		d.Job = j
		rows, err := tx.Query(ctx, `SELECT `+jobRunCols+` FROM job_runs WHERE job_id = $1 ORDER BY attempt`, j.ID)
		if err != nil {
			return err
		}
		if d.Runs, err = pgx.CollectRows(rows, byName(jobRunRow.jobRun)); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT state, reason, run_id, at FROM job_events WHERE job_id = $1 ORDER BY id`, j.ID)
		if err != nil {
			return err
		}
		d.Events, err = pgx.CollectRows(rows, byName(jobEventRow.jobEvent))
		return err
	})
	if d.Runs == nil {
		d.Runs = []domain.JobRun{}
	}
	if d.Events == nil {
		d.Events = []domain.JobEvent{}
	}
	return d, err
}

// ListJobs returns one page of the project's jobs matching f, newest first
// (IDs are UUID v7, so their order is submission order); an array job's
// children (f.ArrayJobID) come in index order.
func (s *Store) ListJobs(ctx context.Context, projectID string, f domain.JobFilter, page domain.PageRequest) (domain.Page[domain.Job], error) {
	var queueID *string
	if f.JobQueueID != "" {
		queueID = &f.JobQueueID
	}
	states := f.States
	if states == nil {
		states = []domain.JobState{}
	}
	rows, err := s.Pool.Query(ctx, jobSelect+`
		WHERE j.project_id = $1
			AND ($2::uuid IS NULL OR j.job_queue_id = $2)
			AND (cardinality($3::text[]) = 0 OR j.state = ANY($3))
			AND ($4 = '' OR d.name = $4) AND ($5 = 0 OR d.version = $5)
			AND ($6::timestamptz IS NULL OR j.created_at > $6)
			AND ($7::timestamptz IS NULL OR j.created_at < $7)
			AND ($8 = '' OR starts_with(j.name, $8))
			AND CASE WHEN $11 = '' THEN j.array_parent_id IS NULL ELSE j.array_parent_id = $11::uuid END
			AND ($9 = '' OR CASE WHEN $11 = '' THEN j.id < $9::uuid
				ELSE j.array_index > (SELECT a.array_index FROM jobs a WHERE a.id = $9::uuid) END)
		ORDER BY j.array_index NULLS FIRST, j.id DESC LIMIT $10`,
		projectID, queueID, states, f.DefinitionName, f.DefinitionVersion, f.CreatedAfter, f.CreatedBefore, f.NamePrefix,
		page.After, page.Limit+1, f.ArrayJobID)
	if err != nil {
		return domain.Page[domain.Job]{}, err
	}
	items, err := pgx.CollectRows(rows, byNameErr(s.jobOf))
	if err != nil {
		return domain.Page[domain.Job]{}, err
	}
	return domain.NewPage(items, page, func(j domain.Job) string { return j.ID }), nil
}

// ResubmitJob starts a new run of a finished job (attempt n+1, state
// submitted) with the same definition version, queue, command and
// overrides, and calls start (which starts the next run of the job's
// workflow) before committing, as SubmitJob does. A job still queued or
// running is ECONFLICT, and so is one whose definition version was deleted
// or whose queue was deleted or disabled since.
func (s *Store) ResubmitJob(ctx context.Context, projectID, id string, start func(jobID, runID string) error) (domain.Job, error) {
	var out domain.Job
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if !validUUID(id) {
			return jobNotFound(id)
		}
		// Definition and queue first, in SubmitJob's order, then the job row.
		var defID, queueID string
		if err := tx.QueryRow(ctx, `SELECT job_definition_id, job_queue_id FROM jobs WHERE project_id = $1 AND id = $2`,
			projectID, id).Scan(&defID, &queueID); err != nil {
			if isNoRows(err) {
				return jobNotFound(id)
			}
			return err
		}
		rows, err := tx.Query(ctx, `SELECT name, version, deleted_at IS NOT NULL AS deleted FROM job_definitions WHERE id = $1 FOR SHARE`, defID)
		if err != nil {
			return err
		}
		def, err := pgx.CollectOneRow(rows, pgx.RowToStructByName[struct {
			Name    string `db:"name"`
			Version int    `db:"version"`
			Deleted bool   `db:"deleted"`
		}])
		if err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT name, enabled, deleted_at IS NOT NULL AS deleted FROM job_queues WHERE id = $1 FOR SHARE`, queueID)
		if err != nil {
			return err
		}
		queue, err := pgx.CollectOneRow(rows, pgx.RowToStructByName[struct {
			Name    string `db:"name"`
			Enabled bool   `db:"enabled"`
			Deleted bool   `db:"deleted"`
		}])
		if err != nil {
			return err
		}
		j, err := s.job(ctx, tx, projectID, id, "FOR UPDATE")
		if err != nil {
			return err
		}
		switch {
		case !j.State.IsFinal():
			return domain.Errorf(domain.ECONFLICT, "job %s is %s: only a finished job can be resubmitted; cancel it first or wait until it ends", j.ID, j.State)
		case def.Deleted:
			return domain.Errorf(domain.ECONFLICT, "job %s ran job definition '%s', which was deleted: submit a new job with another version",
				j.ID, domain.FormatDefinitionRef(def.Name, def.Version))
		case queue.Deleted:
			return domain.Errorf(domain.ECONFLICT, "job %s ran in job queue '%s', which was deleted: submit a new job to another queue", j.ID, queue.Name)
		case !queue.Enabled:
			return domain.Errorf(domain.ECONFLICT, "job queue '%s' is disabled: add a compute environment and enable it", queue.Name)
		}
		runID := NewID()
		attempt := j.Attempt + 1
		if _, err := tx.Exec(ctx, `INSERT INTO job_runs (id, job_id, project_id, attempt, state) VALUES ($1, $2, $3, $4, $5)`,
			runID, j.ID, projectID, attempt, domain.JobSubmitted); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE jobs SET state = $2, current_run_id = $3, system_note = '', runnable_at = NULL,
				pending_reason = '', pending_detail = '', pending_in_queue = false, updated_at = now() WHERE id = $1`, j.ID, domain.JobSubmitted, runID); err != nil {
			return err
		}
		if err := insertJobEvent(ctx, tx, j.ID, runID, domain.JobSubmitted, fmt.Sprintf("resubmitted via API (attempt %d)", attempt)); err != nil {
			return err
		}
		if out, err = s.job(ctx, tx, projectID, j.ID, ""); err != nil {
			return err
		}
		return start(j.ID, runID)
	})
	if err != nil {
		return domain.Job{}, err
	}
	return out, nil
}

// CancelJobWithoutWorkflow records the end of a job whose workflow is gone
// (terminated by an operator, or lost with the namespace): nothing else will
// ever move it, so its current run becomes cancelled with reason. A job that
// meanwhile finished or is no longer cancellable is ECONFLICT with its state.
func (s *Store) CancelJobWithoutWorkflow(ctx context.Context, projectID, id, reason string) (domain.Job, error) {
	j, err := s.Job(ctx, projectID, id)
	if err != nil {
		return j, err
	}
	err = s.setJobRunState(ctx, s.Pool, j.CurrentRunID, domain.JobCancelled, reason, RunFields{}, func(current domain.JobState) error {
		if !current.IsCancellable() {
			return domain.JobNotCancellable(j.ID, current)
		}
		return nil
	}, nil)
	if err != nil {
		return domain.Job{}, err
	}
	return s.Job(ctx, projectID, id)
}

// RunFields are the facts a run's state change may carry; nil fields are
// left as they are, so a retried write changes nothing.
type RunFields struct {
	// SpawnID is the compute spawn the run was placed on.
	SpawnID *string
	// ContainerID is the run's container on that spawn.
	ContainerID *string
	// ImageDigest identifies the exact image that ran.
	ImageDigest *string
	// ExitCode is the container's exit status.
	ExitCode *int
	// OOMKilled is the kernel's report that the container hit its memory limit.
	OOMKilled *bool
	// StartedAt and FinishedAt are the container's times. Without them, the
	// first running state stamps started_at and a final state finished_at
	// with the database's clock.
	StartedAt, FinishedAt *time.Time
	// SystemNote is daestro's sentence about the run ("exceeded execution
	// timeout of 30s"); the job shows its current run's.
	SystemNote *string
	// Reason is how a run that did not complete ended (domain.ReasonOOM…).
	Reason *string
	// Pending is why the job waits (a dependency); it shows while the state
	// stays what the change sets.
	Pending *domain.PendingReason
}

// SetJobRunState moves a run to state with reason and fields, in one
// transaction: the run row, the job row when the run is the job's current
// one (state, system note; runnable also stamps runnable_at, leaving it
// clears the pending reason) and a job_events row. It is idempotent: when the
// run already is in state, only the fields are applied and no event is
// written. A run in a final state keeps it: another state is ECONFLICT,
// which a caller should treat as permanent.
func (s *Store) SetJobRunState(ctx context.Context, runID string, state domain.JobState, reason string, fields RunFields) error {
	return s.setJobRunState(ctx, s.Pool, runID, state, reason, fields, nil, nil)
}

// RunTransition is what one SetJobRunState call changed, for the metrics.
type RunTransition struct {
	// Changed is false for a repeat (the run was in the state already).
	Changed bool
	// Queue is the run's job queue as code::name.
	Queue string
	// SubmittedAt is when the run was created (submitted or resubmitted).
	SubmittedAt time.Time
	// RunnableAt is when the job last became runnable, as it was before
	// this change; nil if it never was.
	RunnableAt *time.Time
}

// RecordJobRunState is SetJobRunState that also says what changed (read in
// the same transaction, from rows it locks anyway).
func (s *Store) RecordJobRunState(ctx context.Context, runID string, state domain.JobState, reason string, fields RunFields) (RunTransition, error) {
	var t RunTransition
	err := s.setJobRunState(ctx, s.Pool, runID, state, reason, fields, nil, &t)
	return t, err
}

// setJobRunState is SetJobRunState on db (the pool, or a transaction the
// change joins) with check, which may refuse the change given the run's
// current state (under the row locks).
func (s *Store) setJobRunState(ctx context.Context, db beginner, runID string, state domain.JobState, reason string, f RunFields,
	check func(current domain.JobState) error, out *RunTransition) error {
	if !validUUID(runID) {
		return jobRunNotFound(runID)
	}
	if err := domain.ValidateJobState("state", state); err != nil {
		return err
	}
	if f.SpawnID != nil && !validUUID(*f.SpawnID) {
		return domain.Errorf(domain.EINVALID, "spawn id %q is not a compute spawn id", *f.SpawnID)
	}
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		// The job row is locked before the run, the order every writer of
		// both follows (submit and resubmit write the job first).
		rows, err := tx.Query(ctx, `SELECT r.job_id, r.project_id, j.job_queue_id,
				p.code || '::' || q.name AS queue, r.created_at, j.runnable_at
			FROM job_runs r JOIN jobs j ON j.id = r.job_id JOIN job_queues q ON q.id = j.job_queue_id JOIN projects p ON p.id = r.project_id
			WHERE r.id = $1`, runID)
		if err != nil {
			return err
		}
		run, err := pgx.CollectOneRow(rows, pgx.RowToStructByName[struct {
			JobID      string     `db:"job_id"`
			ProjectID  string     `db:"project_id"`
			JobQueueID string     `db:"job_queue_id"`
			Queue      string     `db:"queue"`
			CreatedAt  time.Time  `db:"created_at"`
			RunnableAt *time.Time `db:"runnable_at"`
		}])
		if isNoRows(err) {
			return jobRunNotFound(runID)
		}
		if err != nil {
			return err
		}
		jobID, projectID, queueID := run.JobID, run.ProjectID, run.JobQueueID
		if f.SpawnID != nil {
			// A run is placed only on a spawn of its own project and queue,
			// whatever the caller says (DESIGN.md §9).
			var ok bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM compute_spawns WHERE id = $1 AND project_id = $2 AND job_queue_id = $3)`,
				*f.SpawnID, projectID, queueID).Scan(&ok); err != nil {
				return err
			}
			if !ok {
				return domain.Errorf(domain.EINVALID, "compute spawn %s is not a spawn of job run %s's project and job queue: a run is placed only on a spawn of its own queue", *f.SpawnID, runID)
			}
		}
		var currentRun *string
		if err := tx.QueryRow(ctx, `SELECT current_run_id FROM jobs WHERE id = $1 FOR UPDATE`, jobID).Scan(&currentRun); err != nil {
			return err
		}
		var current domain.JobState
		if err := tx.QueryRow(ctx, `SELECT state FROM job_runs WHERE id = $1 FOR UPDATE`, runID).Scan(&current); err != nil {
			return err
		}
		if check != nil {
			if err := check(current); err != nil {
				return err
			}
		}
		changed := current != state
		if changed && current.IsFinal() {
			return domain.Errorf(domain.ECONFLICT, "job run %s is already %s: a finished run's state does not change", runID, current)
		}
		var note string
		if err := tx.QueryRow(ctx, `UPDATE job_runs SET state = $2,
				compute_spawn_id = coalesce($3, compute_spawn_id),
				container_id = coalesce($4, container_id),
				image_digest = coalesce($5, image_digest),
				exit_code = coalesce($6, exit_code),
				oom_killed = coalesce($7, oom_killed),
				started_at = coalesce($8, started_at, CASE WHEN $2 = 'running' THEN now() END),
				finished_at = coalesce($9, finished_at, CASE WHEN $10 THEN now() END),
				system_note = coalesce($11, system_note),
				reason = coalesce($12, reason)
			WHERE id = $1 RETURNING system_note`,
			runID, state, f.SpawnID, f.ContainerID, f.ImageDigest, f.ExitCode, f.OOMKilled, f.StartedAt, f.FinishedAt,
			state.IsFinal(), f.SystemNote, f.Reason).Scan(&note); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "23503" {
				return domain.Errorf(domain.EINVALID, "no compute spawn with id %q: a run is placed on an existing spawn", *f.SpawnID)
			}
			return err
		}
		var pendingCode, pendingDetail *string
		if f.Pending != nil {
			pendingCode, pendingDetail = &f.Pending.Reason, &f.Pending.Detail
		}
		if currentRun != nil && *currentRun == runID {
			// A repeat changes nothing, updated_at included. (Expressions
			// see the row as it was before this UPDATE.)
			if _, err := tx.Exec(ctx, `UPDATE jobs SET state = $2, system_note = $3,
					runnable_at = CASE WHEN $2 = 'runnable' AND (state <> 'runnable' OR runnable_at IS NULL) THEN now() ELSE runnable_at END,
					pending_reason = coalesce($4, CASE WHEN state = $2 THEN pending_reason ELSE '' END),
					pending_detail = coalesce($5, CASE WHEN state = $2 THEN pending_detail ELSE '' END),
					pending_in_queue = $4::text IS NULL AND state = $2 AND pending_in_queue,
					updated_at = CASE WHEN state <> $2 OR system_note <> $3 THEN now() ELSE updated_at END
				WHERE id = $1`, jobID, state, note, pendingCode, pendingDetail); err != nil {
				return err
			}
		}
		if !changed {
			return nil
		}
		if out != nil {
			*out = RunTransition{Changed: true, Queue: run.Queue, SubmittedAt: run.CreatedAt, RunnableAt: run.RunnableAt}
		}
		if state.IsFinal() {
			// Log followers end their stream now instead of at their next re-check.
			if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, RunLogsChannel, runID); err != nil {
				return err
			}
		}
		return insertJobEvent(ctx, tx, jobID, runID, state, reason)
	})
}

// runEnvRow is the sealed env of a run's job and of its definition.
type runEnvRow struct {
	JobID         string `db:"job_id"`
	JobEnv        []byte `db:"job_env"`
	DefinitionID  string `db:"definition_id"`
	DefinitionEnv []byte `db:"definition_env"`
}

// runSensitiveValues returns the sensitive env values of runID's job (its
// definition's and its overrides), for masking the run's output.
func (s *Store) runSensitiveValues(ctx context.Context, q querier, runID string) ([]string, error) {
	if !validUUID(runID) {
		return nil, jobRunNotFound(runID)
	}
	rows, err := q.Query(ctx, `SELECT j.id AS job_id, j.env AS job_env, d.id AS definition_id, d.env AS definition_env
		FROM job_runs r JOIN jobs j ON j.id = r.job_id
		JOIN job_definitions d ON d.id = j.job_definition_id WHERE r.id = $1`, runID)
	if err != nil {
		return nil, err
	}
	r, err := pgx.CollectOneRow(rows, pgx.RowToStructByName[runEnvRow])
	if isNoRows(err) {
		return nil, jobRunNotFound(runID)
	}
	if err != nil {
		return nil, err
	}
	def, err := s.openEnv(envOfDefinition, r.DefinitionEnv, r.DefinitionID)
	if err != nil {
		return nil, err
	}
	overrides, err := s.openEnv(envOfJob, r.JobEnv, r.JobID)
	if err != nil {
		return nil, err
	}
	return domain.SensitiveValues(def, overrides), nil
}

// runSpecRow is one run with its job, queue and definition, as JobRunSpec reads it.
type runSpecRow struct {
	RunID          string          `db:"run_id"`
	Attempt        int             `db:"attempt"`
	State          domain.JobState `db:"state"`
	ComputeSpawnID *string         `db:"compute_spawn_id"`
	JobID          string          `db:"job_id"`
	JobName        string          `db:"job_name"`
	ProjectID      string          `db:"project_id"`
	JobQueueID     string          `db:"job_queue_id"`
	JobQueueName   string          `db:"job_queue_name"`
	DefinitionID   string          `db:"definition_id"`
	Type           string          `db:"type"`
	Image          string          `db:"image"`
	RegistryAuthID *string         `db:"registry_auth_id"`
	Script         string          `db:"script"`
	Command        []string        `db:"command"`
	JobEnv         []byte          `db:"job_env"`        // sealed
	DefinitionEnv  []byte          `db:"definition_env"` // sealed
	CPUQuotaPct    *int            `db:"cpu_quota_pct"`
	MemoryMB       *int            `db:"memory_mb"`
	Privileged     bool            `db:"privileged"`
	TimeoutSeconds int             `db:"timeout_seconds"`
	ArrayParentID  *string         `db:"array_parent_id"`
	ArrayIndex     *int            `db:"array_index"`
	ArraySize      *int            `db:"array_size"`
}

// runSpecOf maps a runSpecRow to its spec, opening and merging both envs.
func (s *Store) runSpecOf(r runSpecRow) (domain.RunSpec, error) {
	spec := domain.RunSpec{
		RunID:          r.RunID,
		Attempt:        r.Attempt,
		JobID:          r.JobID,
		JobName:        r.JobName,
		ProjectID:      r.ProjectID,
		State:          r.State,
		ComputeSpawnID: r.ComputeSpawnID,
		JobQueueID:     r.JobQueueID,
		JobQueueName:   r.JobQueueName,
		Type:           r.Type,
		Image:          r.Image,
		RegistryAuthID: r.RegistryAuthID,
		Script:         r.Script,
		Command:        r.Command,
		CPUQuotaPct:    r.CPUQuotaPct,
		MemoryMB:       r.MemoryMB,
		Privileged:     r.Privileged,
		TimeoutSeconds: r.TimeoutSeconds,
	}
	if spec.Command == nil {
		spec.Command = []string{}
	}
	if r.ArrayParentID != nil && r.ArrayIndex != nil && r.ArraySize != nil {
		spec.ArrayChild = &domain.ArrayChild{ParentID: *r.ArrayParentID, Index: *r.ArrayIndex, Size: *r.ArraySize}
	}
	def, err := s.openEnv(envOfDefinition, r.DefinitionEnv, r.DefinitionID)
	if err != nil {
		return spec, err
	}
	overrides, err := s.openEnv(envOfJob, r.JobEnv, spec.JobID)
	if err != nil {
		return spec, err
	}
	spec.Env = domain.MergeEnv(def, overrides)
	return spec, nil
}

// JobRunSpec returns everything an agent needs to run runID: the
// definition's image, script and quotas, the job's effective command and the
// merged, decrypted environment. It holds secrets: hand it only to the agent
// of the spawn the run is placed on (RunSpec.ComputeSpawnID), never to Temporal.
func (s *Store) JobRunSpec(ctx context.Context, runID string) (domain.RunSpec, error) {
	if !validUUID(runID) {
		return domain.RunSpec{}, jobRunNotFound(runID)
	}
	rows, err := s.Pool.Query(ctx, `SELECT r.id AS run_id, r.attempt, r.state, r.compute_spawn_id, j.id AS job_id, j.name AS job_name,
			j.project_id, q.id AS job_queue_id, q.name AS job_queue_name, d.id AS definition_id, d.type, d.image, d.registry_auth_id,
			d.script, j.command, j.env AS job_env, d.env AS definition_env, d.cpu_quota_pct, d.memory_mb, d.privileged, d.timeout_seconds,
			j.array_parent_id, j.array_index, p.array_size
		FROM job_runs r
		JOIN jobs j ON j.id = r.job_id
		LEFT JOIN jobs p ON p.id = j.array_parent_id
		JOIN job_queues q ON q.id = j.job_queue_id
		JOIN job_definitions d ON d.id = j.job_definition_id
		WHERE r.id = $1`, runID)
	if err != nil {
		return domain.RunSpec{}, err
	}
	spec, err := pgx.CollectOneRow(rows, byNameErr(s.runSpecOf))
	if isNoRows(err) {
		return spec, jobRunNotFound(runID)
	}
	return spec, err
}
