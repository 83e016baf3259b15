package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"daestro/internal/domain"
)

// cronJobSelect reads cron jobs with the version of the definition their
// next trigger runs, their queue, and the job of their last trigger, as the
// columns of cronJobRow.
const cronJobSelect = `SELECT c.id, c.project_id, c.name, c.description, c.expression, c.time_zone, c.overlap, c.enabled,
		d.id AS definition_id, d.name AS definition_name, d.version AS definition_version,
		c.job_definition_pinned AS definition_pinned, q.id AS queue_id, q.name AS queue_name, c.command, c.parameters, c.env,
		c.last_trigger_at, c.last_error, c.last_error_at, j.id AS last_job_id, j.name AS last_job_name,
		j.state AS last_job_state, j.system_note AS last_job_system_note,
		c.schedule_translated_at, c.schedule_refresh_after, c.created_at, c.updated_at
	FROM cron_jobs c
	JOIN job_definitions d ON d.id = c.job_definition_id
	JOIN job_queues q ON q.id = c.job_queue_id
	LEFT JOIN jobs j ON j.id = c.last_job_id`

// cronJobRow is one row of cronJobSelect.
type cronJobRow struct {
	ID                   string            `db:"id"`
	ProjectID            string            `db:"project_id"`
	Name                 string            `db:"name"`
	Description          string            `db:"description"`
	Expression           string            `db:"expression"`
	TimeZone             string            `db:"time_zone"`
	Overlap              string            `db:"overlap"`
	Enabled              bool              `db:"enabled"`
	DefinitionID         string            `db:"definition_id"`
	DefinitionName       string            `db:"definition_name"`
	DefinitionVersion    int               `db:"definition_version"`
	DefinitionPinned     bool              `db:"definition_pinned"`
	QueueID              string            `db:"queue_id"`
	QueueName            string            `db:"queue_name"`
	Command              []string          `db:"command"`
	Parameters           map[string]string `db:"parameters"`
	Env                  []byte            `db:"env"` // sealed
	LastTriggerAt        *time.Time        `db:"last_trigger_at"`
	LastError            string            `db:"last_error"`
	LastErrorAt          *time.Time        `db:"last_error_at"`
	LastJobID            *string           `db:"last_job_id"`
	LastJobName          *string           `db:"last_job_name"`
	LastJobState         *domain.JobState  `db:"last_job_state"`
	LastJobSystemNote    *string           `db:"last_job_system_note"`
	ScheduleTranslatedAt *time.Time        `db:"schedule_translated_at"`
	ScheduleRefreshAfter *time.Time        `db:"schedule_refresh_after"`
	CreatedAt            time.Time         `db:"created_at"`
	UpdatedAt            time.Time         `db:"updated_at"`
}

// cronJobDetailEvents is how many of its latest events a cron job's detail shows.
const cronJobDetailEvents = 20

// cronJobKeptEvents is how many events a cron job keeps: one that fires
// every minute would otherwise grow its history without bound.
const cronJobKeptEvents = 200

// cronJobUpdateTries bounds the retries of an update that raced another
// change of the same cron job.
const cronJobUpdateTries = 3

// errJobStarted means a job's workflow moved it on meanwhile: it is not abandoned.
var errJobStarted = errors.New("the job left submitted")

// errCronJobMoved means the row changed between an update's read and its lock.
var errCronJobMoved = errors.New("cron job changed during the update")

func cronJobNotFound(id string) error {
	return domain.Errorf(domain.ENOTFOUND, "no cron job with id %q in this project", id)
}

func cronJobNameTaken(name string) error {
	return domain.Errorf(domain.ECONFLICT, "a cron job named '%s' already exists in this project: choose another name", name)
}

// cronJobOf maps a cronJobRow to its cron job, opening its env overrides.
func (s *Store) cronJobOf(r cronJobRow) (domain.CronJob, error) {
	c := domain.CronJob{
		ID:          r.ID,
		ProjectID:   r.ProjectID,
		Name:        r.Name,
		Description: r.Description,
		Expression:  r.Expression,
		TimeZone:    r.TimeZone,
		Overlap:     r.Overlap,
		Enabled:     r.Enabled,
		JobDefinition: domain.CronJobDefinition{Ref: r.DefinitionName, ID: r.DefinitionID, Name: r.DefinitionName,
			Version: r.DefinitionVersion, Pinned: r.DefinitionPinned},
		JobQueue:              domain.JobQueueRef{ID: r.QueueID, Name: r.QueueName},
		ContainerCmd:          r.Command,
		ContainerCmdParameter: r.Parameters,
		LastTriggerAt:         r.LastTriggerAt,
		LastError:             r.LastError,
		LastErrorAt:           r.LastErrorAt,
		CreatedAt:             r.CreatedAt,
		UpdatedAt:             r.UpdatedAt,
	}
	if r.DefinitionPinned {
		c.JobDefinition.Ref = domain.FormatDefinitionRef(r.DefinitionName, r.DefinitionVersion)
	}
	if c.ContainerCmdParameter == nil {
		c.ContainerCmdParameter = map[string]string{}
	}
	if r.LastJobID != nil {
		c.LastJob = &domain.CronJobLastJob{ID: *r.LastJobID, Name: *r.LastJobName, State: *r.LastJobState, SystemNote: *r.LastJobSystemNote}
	}
	if r.ScheduleTranslatedAt != nil {
		c.Schedule.TranslatedAt = *r.ScheduleTranslatedAt
	}
	if r.ScheduleRefreshAfter != nil {
		c.Schedule.RefreshAfter = *r.ScheduleRefreshAfter
	}
	// The stored expression passed this parser when it was written; a row
	// that does not (written by hand) shows no effective expression.
	if sched, err := domain.ParseCronExpression(c.Expression); err == nil {
		c.EffectiveExpression = sched.String()
	}
	var err error
	c.ContainerEnv, err = s.openEnv(envOfCronJob, r.Env, c.ID)
	return c, err
}

// cronJobEventRow is one row of cron_job_events.
type cronJobEventRow struct {
	Kind    string    `db:"kind"`
	Message string    `db:"message"`
	JobID   *string   `db:"job_id"`
	At      time.Time `db:"at"`
}

func (r cronJobEventRow) cronJobEvent() domain.CronJobEvent {
	return domain.CronJobEvent{Kind: r.Kind, Message: r.Message, JobID: r.JobID, At: r.At}
}

// CronJob returns one of the project's cron jobs.
func (s *Store) CronJob(ctx context.Context, projectID, id string) (domain.CronJob, error) {
	return s.cronJob(ctx, s.Pool, projectID, id, "")
}

// cronJob reads a cron job on q; lock is "" or a locking clause for the
// cron job's row only (never the definition's or the queue's).
func (s *Store) cronJob(ctx context.Context, q querier, projectID, id, lock string) (domain.CronJob, error) {
	if !validUUID(id) {
		return domain.CronJob{}, cronJobNotFound(id)
	}
	if lock != "" {
		lock += " OF c"
	}
	rows, err := q.Query(ctx, cronJobSelect+` WHERE c.project_id = $1 AND c.id = $2 `+lock, projectID, id)
	if err != nil {
		return domain.CronJob{}, err
	}
	c, err := pgx.CollectExactlyOneRow(rows, byNameErr(s.cronJobOf))
	if isNoRows(err) {
		return c, cronJobNotFound(id)
	}
	return c, err
}

// CronJobDetail returns a cron job with its latest events, newest first.
func (s *Store) CronJobDetail(ctx context.Context, projectID, id string) (domain.CronJobDetail, error) {
	var d domain.CronJobDetail
	err := pgx.BeginTxFunc(ctx, s.Pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		c, err := s.cronJob(ctx, tx, projectID, id, "")
		if err != nil {
			return err
		}
		d.CronJob = c
		rows, err := tx.Query(ctx, `SELECT kind, message, job_id, at FROM cron_job_events
			WHERE cron_job_id = $1 ORDER BY id DESC LIMIT $2`, c.ID, cronJobDetailEvents)
		if err != nil {
			return err
		}
		d.Events, err = pgx.CollectRows(rows, byName(cronJobEventRow.cronJobEvent))
		return err
	})
	if d.Events == nil {
		d.Events = []domain.CronJobEvent{}
	}
	return d, err
}

// ListCronJobs returns one page of the project's cron jobs in creation order.
func (s *Store) ListCronJobs(ctx context.Context, projectID string, page domain.PageRequest) (domain.Page[domain.CronJob], error) {
	rows, err := s.Pool.Query(ctx, cronJobSelect+`
		WHERE c.project_id = $1 AND ($2 = '' OR c.id > $2::uuid)
		ORDER BY c.id LIMIT $3`, projectID, page.After, page.Limit+1)
	if err != nil {
		return domain.Page[domain.CronJob]{}, err
	}
	items, err := pgx.CollectRows(rows, byNameErr(s.cronJobOf))
	if err != nil {
		return domain.Page[domain.CronJob]{}, err
	}
	return domain.NewPage(items, page, func(c domain.CronJob) string { return c.ID }), nil
}

// cronJobTargets resolves the definition and the queue a cron job names and
// holds both (FOR SHARE) until the transaction ends, so neither is deleted
// before the cron job's row refers to it. A disabled queue is accepted (the
// API warns about it): it may be enabled before the first trigger. The
// overrides must fill the definition's placeholders now, as a submission's do.
func (s *Store) cronJobTargets(ctx context.Context, tx pgx.Tx, projectID string, in domain.CronJobSpec) (domain.JobDefinition, domain.JobQueue, error) {
	def, err := s.resolveJobDefinition(ctx, tx, projectID, in.DefinitionRef(), "FOR SHARE")
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return def, domain.JobQueue{}, domain.Errorf(domain.EINVALID, "job_definition: %s", domain.ErrorMessage(err))
	}
	if err != nil {
		return def, domain.JobQueue{}, err
	}
	rows, err := tx.Query(ctx, `SELECT `+jobQueueCols+` FROM job_queues
		WHERE project_id = $1 AND name = $2 AND deleted_at IS NULL FOR SHARE`, projectID, in.QueueName)
	if err != nil {
		return def, domain.JobQueue{}, err
	}
	queue, err := pgx.CollectExactlyOneRow(rows, byName(jobQueueRow.jobQueue))
	if isNoRows(err) {
		return def, queue, domain.Errorf(domain.EINVALID, "job_queue: no job queue named '%s' in this project", in.QueueName)
	}
	if err != nil {
		return def, queue, err
	}
	if _, err := domain.EffectiveCommand(def, domain.SubmitJob{Command: in.Command, Parameters: in.Parameters}); err != nil {
		return def, queue, err
	}
	return def, queue, nil
}

// cronJobValues are a spec's columns in the order the writes below take them.
func (s *Store) cronJobValues(id string, in domain.CronJobSpec) (command, params, env []byte, err error) {
	if in.Command != nil {
		if command, err = json.Marshal(in.Command); err != nil {
			return nil, nil, nil, err
		}
	}
	if params, err = json.Marshal(in.Parameters); err != nil {
		return nil, nil, nil, err
	}
	env, err = s.sealEnv(envOfCronJob, in.Env, id)
	return command, params, env, err
}

// CreateCronJob stores a cron job in one transaction: it resolves its
// definition and queue, writes the row and its first event, then calls
// create (which creates the Temporal schedule and says how long its
// calendars hold) before committing. When create fails nothing is written;
// when the commit fails after create succeeded the caller must delete the
// schedule it created.
//
// create runs while the definition and the queue are held FOR SHARE, which
// is what makes the write all-or-nothing without a compensating delete; so
// create should make the one Temporal call the commit depends on, under a
// short timeout, and nothing else (the refresh workflow starts after the
// commit). Submissions take the same shared lock and do not wait; only an
// update or delete of that queue or definition waits for it.
func (s *Store) CreateCronJob(ctx context.Context, projectID string, in domain.CronJobSpec,
	create func(domain.CronJob) (domain.CronScheduleState, error)) (domain.CronJob, error) {
	var out domain.CronJob
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		def, queue, err := s.cronJobTargets(ctx, tx, projectID, in)
		if err != nil {
			return err
		}
		id := NewID()
		command, params, env, err := s.cronJobValues(id, in)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO cron_jobs (id, project_id, name, description, expression, time_zone, overlap, enabled,
				job_queue_id, job_definition_id, job_definition_pinned, command, parameters, env)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			id, projectID, in.Name, in.Description, in.Expression, in.TimeZone, in.Overlap, in.Enabled,
			queue.ID, def.ID, in.DefinitionVersion != 0, command, params, env); err != nil {
			if isUniqueViolation(err) {
				return cronJobNameTaken(in.Name)
			}
			return err
		}
		if err := insertCronJobEvent(ctx, tx, id, domain.CronEventCreated, "created via API", nil); err != nil {
			return err
		}
		if out, err = s.cronJob(ctx, tx, projectID, id, ""); err != nil {
			return err
		}
		st, err := create(out)
		if err != nil {
			return err
		}
		out.Schedule = st
		return setCronScheduleState(ctx, tx, id, st)
	})
	if err != nil {
		return domain.CronJob{}, err
	}
	return out, nil
}

// UpdateCronJob applies a patch in one transaction: the cron job's current
// settings with the patch's changes are checked as a whole (projectCode is
// the caller's project, for "code::" references), written with an event,
// and handed to apply (which rewrites the Temporal schedule from them and
// says how long its calendars hold) before committing. When the commit
// fails after apply succeeded, the caller must apply the old cron job
// again. It returns the updated cron job and the spec it was checked as.
func (s *Store) UpdateCronJob(ctx context.Context, projectID, projectCode, id string, p domain.CronJobPatch,
	apply func(old, updated domain.CronJob) (domain.CronScheduleState, error)) (domain.CronJob, domain.CronJobSpec, error) {
	for try := 1; ; try++ {
		out, spec, err := s.updateCronJob(ctx, projectID, projectCode, id, p, apply)
		if errors.Is(err, errCronJobMoved) && try < cronJobUpdateTries {
			continue
		}
		if errors.Is(err, errCronJobMoved) {
			return out, spec, domain.Errorf(domain.ECONFLICT, "cron job %s kept changing while this update ran: try again", id)
		}
		return out, spec, err
	}
}

func (s *Store) updateCronJob(ctx context.Context, projectID, projectCode, id string, p domain.CronJobPatch,
	apply func(old, updated domain.CronJob) (domain.CronScheduleState, error)) (domain.CronJob, domain.CronJobSpec, error) {
	var (
		out  domain.CronJob
		spec domain.CronJobSpec
	)
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		// Definition and queue are locked before the cron job's row, the
		// order a new definition version follows too (its trigger moves the
		// cron jobs that follow the name), so the two never deadlock. The
		// row read first is checked again once locked.
		seen, err := s.cronJob(ctx, tx, projectID, id, "")
		if err != nil {
			return err
		}
		if p.IsEmpty() {
			return domain.Errorf(domain.EINVALID, "request body changes nothing: send one or more of name, description, expression, "+
				"time_zone, overlap, enabled, job_definition, job_queue, container_cmd, container_cmd_parameter, container_env")
		}
		in, err := p.Apply(seen)
		if err != nil {
			return err
		}
		if spec, err = in.Normalize(projectCode); err != nil {
			return err
		}
		def, queue, err := s.cronJobTargets(ctx, tx, projectID, spec)
		if err != nil {
			return err
		}
		old, err := s.cronJob(ctx, tx, projectID, id, "FOR UPDATE")
		if err != nil {
			return err
		}
		if !old.UpdatedAt.Equal(seen.UpdatedAt) || old.JobDefinition.ID != seen.JobDefinition.ID {
			return errCronJobMoved
		}
		command, params, env, err := s.cronJobValues(id, spec)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE cron_jobs SET name = $2, description = $3, expression = $4, time_zone = $5, overlap = $6,
				enabled = $7, job_queue_id = $8, job_definition_id = $9, job_definition_pinned = $10, command = $11, parameters = $12,
				env = $13, updated_at = now()
			WHERE id = $1`,
			old.ID, spec.Name, spec.Description, spec.Expression, spec.TimeZone, spec.Overlap, spec.Enabled,
			queue.ID, def.ID, spec.DefinitionVersion != 0, command, params, env); err != nil {
			if isUniqueViolation(err) {
				return cronJobNameTaken(spec.Name)
			}
			return err
		}
		if out, err = s.cronJob(ctx, tx, projectID, id, ""); err != nil {
			return err
		}
		if changed := cronJobChanges(old, out); len(changed) > 0 {
			if err := insertCronJobEvent(ctx, tx, id, domain.CronEventUpdated, "updated via API: "+strings.Join(changed, ", "), nil); err != nil {
				return err
			}
		}
		st, err := apply(old, out)
		if err != nil {
			return err
		}
		out.Schedule = st
		return setCronScheduleState(ctx, tx, id, st)
	})
	return out, spec, err
}

// cronJobChanges names what an update changed, for its event.
func cronJobChanges(old, updated domain.CronJob) []string {
	var out []string
	add := func(changed bool, what string) {
		if changed {
			out = append(out, what)
		}
	}
	add(old.Name != updated.Name, fmt.Sprintf("name '%s' → '%s'", old.Name, updated.Name))
	add(old.Description != updated.Description, "description")
	add(old.Expression != updated.Expression, fmt.Sprintf("expression %q → %q", old.Expression, updated.Expression))
	add(old.TimeZone != updated.TimeZone, fmt.Sprintf("time_zone %s → %s", old.TimeZone, updated.TimeZone))
	add(old.Overlap != updated.Overlap, fmt.Sprintf("overlap %s → %s", old.Overlap, updated.Overlap))
	add(old.Enabled && !updated.Enabled, "disabled")
	add(!old.Enabled && updated.Enabled, "enabled")
	add(old.JobDefinition.Ref != updated.JobDefinition.Ref, fmt.Sprintf("job_definition '%s' → '%s'", old.JobDefinition.Ref, updated.JobDefinition.Ref))
	add(old.JobQueue.ID != updated.JobQueue.ID, fmt.Sprintf("job_queue '%s' → '%s'", old.JobQueue.Name, updated.JobQueue.Name))
	add(!reflect.DeepEqual(old.ContainerCmd, updated.ContainerCmd), "container_cmd")
	add(!reflect.DeepEqual(old.ContainerCmdParameter, updated.ContainerCmdParameter), "container_cmd_parameter")
	add(!reflect.DeepEqual(old.ContainerEnv, updated.ContainerEnv), "container_env")
	return out
}

// DeleteCronJob deletes a cron job and calls remove (which deletes its
// Temporal schedule) before committing. The jobs it submitted stay; they
// no longer name it. When the commit fails after remove succeeded the
// caller must create the schedule again.
func (s *Store) DeleteCronJob(ctx context.Context, projectID, id string, remove func(domain.CronJob) error) (domain.CronJob, error) {
	var c domain.CronJob
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		var err error
		if c, err = s.cronJob(ctx, tx, projectID, id, "FOR UPDATE"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM cron_jobs WHERE id = $1`, c.ID); err != nil {
			return err
		}
		return remove(c)
	})
	return c, err
}

// RefreshCronSchedule holds the cron job's row while refresh rebuilds its
// schedule's calendars, so no update of the cron job interleaves with it.
// refresh says whether it rebuilt them and how long the new ones hold.
func (s *Store) RefreshCronSchedule(ctx context.Context, projectID, id string,
	refresh func(domain.CronJob) (domain.CronScheduleState, bool, error)) (domain.CronJob, error) {
	var c domain.CronJob
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		var err error
		if c, err = s.cronJob(ctx, tx, projectID, id, "FOR UPDATE"); err != nil {
			return err
		}
		st, rebuilt, err := refresh(c)
		if err != nil || !rebuilt {
			return err
		}
		c.Schedule = st
		msg := "schedule calendars rebuilt; exact for every trigger"
		if !st.RefreshAfter.IsZero() {
			msg = "schedule calendars rebuilt; exact until " + st.RefreshAfter.UTC().Format(time.RFC3339)
		}
		if err := insertCronJobEvent(ctx, tx, c.ID, domain.CronEventScheduleRefreshed, msg, nil); err != nil {
			return err
		}
		return setCronScheduleState(ctx, tx, c.ID, st)
	})
	return c, err
}

func setCronScheduleState(ctx context.Context, tx pgx.Tx, id string, st domain.CronScheduleState) error {
	var refreshAfter *time.Time
	if !st.RefreshAfter.IsZero() {
		refreshAfter = &st.RefreshAfter
	}
	_, err := tx.Exec(ctx, `UPDATE cron_jobs SET schedule_translated_at = $2, schedule_refresh_after = $3 WHERE id = $1`,
		id, st.TranslatedAt, refreshAfter)
	return err
}

// CronTriggerJob returns the job the cron job's trigger named name already
// submitted, if any: a trigger whose submission is retried, or a second
// trigger within the same second, finds it instead of submitting another.
func (s *Store) CronTriggerJob(ctx context.Context, projectID, cronID, name string) (domain.Job, bool, error) {
	if !validUUID(cronID) {
		return domain.Job{}, false, nil
	}
	rows, err := s.Pool.Query(ctx, jobSelect+` WHERE j.project_id = $1 AND j.cron_job_id = $2 AND j.name = $3 ORDER BY j.id DESC LIMIT 1`,
		projectID, cronID, name)
	if err != nil {
		return domain.Job{}, false, err
	}
	j, err := pgx.CollectExactlyOneRow(rows, byNameErr(s.jobOf))
	if isNoRows(err) {
		return j, false, nil
	}
	return j, err == nil, err
}

// SubmitCronTriggerJob submits the job of the cron job's trigger at `at`
// (in, marked as the cron job's) and records it on the cron job, in one
// transaction: the cron job shows it as its last job, its last error is
// cleared and a triggered event names it. So a job a trigger submitted is
// always one the cron job knows of, and a retried trigger finds it with
// CronTriggerJob. A trigger older than the one already shown (triggers may
// finish out of order) only adds its event. A cron job deleted meanwhile is
// ENOTFOUND, and nothing is submitted.
func (s *Store) SubmitCronTriggerJob(ctx context.Context, projectID, cronID string, at time.Time, in domain.SubmitJob) (domain.Job, error) {
	if !validUUID(cronID) {
		return domain.Job{}, cronJobNotFound(cronID)
	}
	in.CronJobID = &cronID
	var j domain.Job
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		// The definition and the queue are locked before the cron job's
		// row, the order of an update of the cron job.
		var err error
		if j, err = s.submitJob(ctx, tx, projectID, in); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "23503" && pgErr.ConstraintName == "jobs_cron_job_id_fkey" {
				return cronJobNotFound(cronID)
			}
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE cron_jobs SET last_trigger_at = $3, last_job_id = $4, last_error = '', last_error_at = NULL
			WHERE project_id = $1 AND id = $2 AND (last_trigger_at IS NULL OR last_trigger_at <= $3)`, projectID, cronID, at, j.ID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			var one int
			err := tx.QueryRow(ctx, `SELECT 1 FROM cron_jobs WHERE project_id = $1 AND id = $2`, projectID, cronID).Scan(&one)
			if isNoRows(err) {
				return cronJobNotFound(cronID)
			}
			if err != nil {
				return err
			}
		}
		return insertCronJobEvent(ctx, tx, cronID, domain.CronEventTriggered,
			fmt.Sprintf("trigger at %s submitted job %s", at.UTC().Format(time.RFC3339), j.Name), &j.ID)
	})
	if err != nil {
		return domain.Job{}, err
	}
	return j, nil
}

// AbandonCronTrigger ends the trigger at `at` of a cron job that gave up
// (its submission or its job's workflow kept failing): note (what went
// wrong, for the user) becomes the cron job's last error with an event, and
// a job the trigger did submit, still waiting as submitted with no workflow
// to move it, becomes error with a system note so it does not wait forever.
// Both in one transaction, which first locks the cron job's row: a
// submission still committing (it writes that row) is waited for, so its job
// is found. The job is found by the trigger's time in its name, whatever the
// cron job is called now. It returns the job marked error, if any; a cron
// job deleted meanwhile is ENOTFOUND.
func (s *Store) AbandonCronTrigger(ctx context.Context, projectID, cronID string, at time.Time, note string) (*domain.Job, error) {
	var abandoned *domain.Job
	err := s.recordCronTrigger(ctx, projectID, cronID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, jobSelect+` WHERE j.project_id = $1 AND j.cron_job_id = $2 AND j.state = $3
				AND right(j.name, length($4)) = $4 ORDER BY j.id`,
			projectID, cronID, domain.JobSubmitted, domain.CronJobName("", at))
		if err != nil {
			return err
		}
		jobs, err := pgx.CollectRows(rows, byNameErr(s.jobOf))
		if err != nil {
			return err
		}
		message := note
		var jobID *string
		for _, j := range jobs {
			sysNote := "its cron trigger gave up before starting it: " + note
			err := s.setJobRunState(ctx, tx, j.CurrentRunID, domain.JobError, "cron trigger gave up", RunFields{SystemNote: &sysNote},
				func(current domain.JobState) error {
					if current != domain.JobSubmitted {
						return errJobStarted
					}
					return nil
				}, nil)
			if errors.Is(err, errJobStarted) {
				continue
			}
			if err != nil {
				return err
			}
			message += fmt.Sprintf("; job %s, submitted without its workflow, was marked error", j.Name)
			abandoned, jobID = &j, &j.ID
			abandoned.State = domain.JobError
		}
		if _, err := tx.Exec(ctx, `UPDATE cron_jobs SET last_trigger_at = greatest(last_trigger_at, $2), last_error = $3, last_error_at = now()
			WHERE id = $1`, cronID, at, message); err != nil {
			return err
		}
		return insertCronJobEvent(ctx, tx, cronID, domain.CronEventTriggerFailed, message, jobID)
	})
	return abandoned, err
}

// RecordCronTriggerFailure records that the trigger at `at` could not submit
// a job, with note (what went wrong, for the user) as the cron job's last
// error and an event.
func (s *Store) RecordCronTriggerFailure(ctx context.Context, projectID, cronID string, at time.Time, note string) error {
	return s.recordCronTrigger(ctx, projectID, cronID, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE cron_jobs SET last_trigger_at = greatest(last_trigger_at, $2), last_error = $3, last_error_at = now()
			WHERE id = $1`, cronID, at, note); err != nil {
			return err
		}
		return insertCronJobEvent(ctx, tx, cronID, domain.CronEventTriggerFailed, note, nil)
	})
}

// recordCronTrigger runs write on the locked row of a cron job of the
// project; a cron job deleted meanwhile is ENOTFOUND.
func (s *Store) recordCronTrigger(ctx context.Context, projectID, cronID string, write func(pgx.Tx) error) error {
	if !validUUID(cronID) {
		return cronJobNotFound(cronID)
	}
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM cron_jobs WHERE project_id = $1 AND id = $2 FOR UPDATE`, projectID, cronID).Scan(&one)
		if isNoRows(err) {
			return cronJobNotFound(cronID)
		}
		if err != nil {
			return err
		}
		return write(tx)
	})
}

// insertCronJobEvent adds an event and drops the cron job's events beyond
// the newest cronJobKeptEvents.
func insertCronJobEvent(ctx context.Context, q querier, cronID, kind, message string, jobID *string) error {
	if _, err := q.Exec(ctx, `INSERT INTO cron_job_events (cron_job_id, kind, message, job_id) VALUES ($1, $2, $3, $4)`,
		cronID, kind, message, jobID); err != nil {
		return err
	}
	_, err := q.Exec(ctx, `DELETE FROM cron_job_events WHERE cron_job_id = $1 AND id <= (
			SELECT id FROM cron_job_events WHERE cron_job_id = $1 ORDER BY id DESC OFFSET $2 LIMIT 1)`, cronID, cronJobKeptEvents)
	return err
}
