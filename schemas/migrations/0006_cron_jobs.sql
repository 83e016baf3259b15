-- Cron jobs: a Quartz expression in a time zone that submits a job of a
-- definition to a queue at every trigger, through a Temporal Schedule
-- (`cron/<id>`). Postgres holds what the user asked for and what the last
-- trigger did; Temporal holds the schedule built from it.
--
-- Columns without a default in the API all have one here only so that rows
-- written before this migration (there are none outside tests) stay valid;
-- the store always writes every column.

ALTER TABLE cron_jobs
    ADD COLUMN description            text        NOT NULL DEFAULT '',
    -- The expression as the user wrote it; the one-minute floor is applied
    -- when it is parsed, so the stored text is never rewritten.
    ADD COLUMN expression             text        NOT NULL DEFAULT '',
    -- An IANA zone name the expression's wall-clock times are read in.
    ADD COLUMN time_zone              text        NOT NULL DEFAULT 'UTC',
    ADD COLUMN overlap                text        NOT NULL DEFAULT 'allow_all'
                                          CHECK (overlap IN ('allow_all', 'skip', 'buffer_one')),
    ADD COLUMN enabled                boolean     NOT NULL DEFAULT true,
    -- false: the cron job follows the latest active version of its
    -- definition's name (job_definition_id moves with it, see the trigger
    -- below); true: it runs exactly job_definition_id.
    ADD COLUMN job_definition_pinned  boolean     NOT NULL DEFAULT true,
    -- Overrides applied to every job it submits, as a job submission takes
    -- them: command NULL keeps the definition's (an empty array replaces it
    -- with none); env is sealed like jobs.env ("cron_jobs.env:<id>").
    ADD COLUMN command                jsonb,
    ADD COLUMN parameters             jsonb       NOT NULL DEFAULT '{}',
    ADD COLUMN env                    bytea,
    -- When the Temporal schedule's calendars were last built, and the time
    -- after which they are no longer exact (NULL: exact forever). Some Quartz
    -- days ('LW', 'L-n', '1W') are calendars written out month by month, so
    -- they are rebuilt before this time.
    ADD COLUMN schedule_translated_at timestamptz,
    ADD COLUMN schedule_refresh_after timestamptz,
    -- What the last trigger did: when it fired, the job it submitted, and
    -- the system note of a trigger that could not submit one ('' = none).
    ADD COLUMN last_trigger_at        timestamptz,
    ADD COLUMN last_job_id            uuid        REFERENCES jobs (id) ON DELETE SET NULL,
    ADD COLUMN last_error             text        NOT NULL DEFAULT '',
    ADD COLUMN last_error_at          timestamptz;

-- Deleting a cron job sets jobs.cron_job_id to NULL: that needs an index.
CREATE INDEX jobs_cron_job_idx ON jobs (cron_job_id) WHERE cron_job_id IS NOT NULL;

-- What happened to a cron job, newest last: created, updated, each trigger
-- (with the job it submitted) and each trigger that could not submit one.
-- The store keeps the latest few hundred per cron job.
CREATE TABLE cron_job_events (
    id          bigserial   PRIMARY KEY,
    cron_job_id uuid        NOT NULL REFERENCES cron_jobs (id) ON DELETE CASCADE,
    kind        text        NOT NULL CHECK (kind IN ('created', 'updated', 'triggered', 'trigger_failed', 'schedule_refreshed')),
    message     text        NOT NULL DEFAULT '',
    job_id      uuid        REFERENCES jobs (id) ON DELETE SET NULL,
    at          timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX cron_job_events_cron_idx ON cron_job_events (cron_job_id, id);

-- A cron job that follows the latest version of its definition points at
-- that version: a new version takes it over as soon as it is inserted. So
-- the catalog's delete rule ("no cron job uses the version") protects exactly
-- the version each cron job runs next, and older versions of the name stay
-- deletable. A version that is deleted is never the one a cron job points
-- at (the delete refuses it), so "latest active" and "latest" agree here.
CREATE FUNCTION cron_jobs_follow_new_definition_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cron_jobs c SET job_definition_id = NEW.id
    FROM job_definitions d
    WHERE c.job_definition_id = d.id
        AND NOT c.job_definition_pinned
        AND d.project_id = NEW.project_id AND d.name = NEW.name AND d.version < NEW.version;
    RETURN NULL;
END
$$;

CREATE TRIGGER job_definitions_new_version_moves_cron_jobs
    AFTER INSERT ON job_definitions
    FOR EACH ROW EXECUTE FUNCTION cron_jobs_follow_new_definition_version();
