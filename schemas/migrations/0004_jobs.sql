-- Jobs, their runs, and what the runs produce. A job is one submission; each
-- submission or resubmission is a run (one JobWorkflow run each). The job row
-- mirrors its current run so the client API reads one row.

ALTER TABLE jobs
    ADD COLUMN system_note    text        NOT NULL DEFAULT '',
    ADD COLUMN schedule_at    timestamptz,
    -- The effective command after Param:: substitution, and the job's own
    -- overrides as submitted (env overrides are sealed: "jobs.env:<id>").
    ADD COLUMN command        jsonb       NOT NULL DEFAULT '[]',
    ADD COLUMN parameters     jsonb       NOT NULL DEFAULT '{}',
    ADD COLUMN env            bytea,
    ADD COLUMN cron_job_id    uuid        REFERENCES cron_jobs (id) ON DELETE SET NULL,
    ADD COLUMN current_run_id uuid,
    -- When the job last became runnable: the queue's order after priority.
    ADD COLUMN runnable_at    timestamptz,
    -- Why a runnable job is not running yet (a code and a sentence).
    ADD COLUMN pending_reason text        NOT NULL DEFAULT '',
    ADD COLUMN pending_detail text        NOT NULL DEFAULT '';
CREATE INDEX jobs_project_idx ON jobs (project_id, id);
CREATE INDEX jobs_runnable_idx ON jobs (job_queue_id, runnable_at) WHERE state = 'runnable';

CREATE TABLE job_runs (
    id            uuid        PRIMARY KEY,
    job_id        uuid        NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    project_id    uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    attempt       integer     NOT NULL CHECK (attempt >= 1),
    state         text        NOT NULL CHECK (state IN ('submitted', 'pending', 'runnable', 'starting', 'running',
                                  'cancelling', 'cancelled', 'timeout', 'completed', 'failed', 'error')),
    compute_spawn_id uuid     REFERENCES compute_spawns (id),
    container_id  text        NOT NULL DEFAULT '',
    image_digest  text        NOT NULL DEFAULT '',
    exit_code     integer,
    oom_killed    boolean     NOT NULL DEFAULT false,
    system_note   text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz,
    UNIQUE (job_id, attempt)
);
CREATE INDEX job_runs_spawn_idx ON job_runs (compute_spawn_id);

-- Every state change of a job, with its run and the reason.
CREATE TABLE job_events (
    id         bigserial   PRIMARY KEY,
    job_id     uuid        NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    run_id     uuid        REFERENCES job_runs (id) ON DELETE CASCADE,
    state      text        NOT NULL,
    reason     text        NOT NULL DEFAULT '',
    at         timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX job_events_job_idx ON job_events (job_id, id);

-- Capacity held on a spawn by a run, from placement until the run ends. A
-- job without quotas holds the whole spawn (whole_spawn).
CREATE TABLE allocations (
    run_id           uuid        PRIMARY KEY REFERENCES job_runs (id) ON DELETE CASCADE,
    compute_spawn_id uuid        NOT NULL REFERENCES compute_spawns (id),
    job_queue_id     uuid        NOT NULL REFERENCES job_queues (id),
    cpu_pct          integer     NOT NULL DEFAULT 0,
    memory_mb        integer     NOT NULL DEFAULT 0,
    whole_spawn      boolean     NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX allocations_spawn_idx ON allocations (compute_spawn_id);
CREATE INDEX allocations_queue_idx ON allocations (job_queue_id);

-- Log lines as the agent ships them: (run, seq) makes a resend harmless.
CREATE TABLE run_logs (
    run_id  uuid        NOT NULL REFERENCES job_runs (id) ON DELETE CASCADE,
    seq     bigint      NOT NULL,
    stream  text        NOT NULL CHECK (stream IN ('stdout', 'stderr')),
    at      timestamptz NOT NULL,
    line    text        NOT NULL,
    partial boolean     NOT NULL DEFAULT false,
    -- True once every line 1..seq of the run is stored. The agent's
    -- acknowledgement (the highest such seq) is then an index lookup
    -- instead of a scan of the whole run per batch, and readers that page
    -- by seq are shown only this prefix while the run lasts, so a line
    -- that arrives late is never skipped. No index of its own: the primary
    -- key's backward scan finds the top at once, as lines arrive in order.
    contiguous boolean  NOT NULL DEFAULT false,
    PRIMARY KEY (run_id, seq)
);

-- CPU and memory samples of a run's container.
CREATE TABLE run_metrics (
    run_id       uuid             NOT NULL REFERENCES job_runs (id) ON DELETE CASCADE,
    at           timestamptz      NOT NULL,
    cpu_pct      double precision NOT NULL,
    memory_bytes bigint           NOT NULL,
    PRIMARY KEY (run_id, at)
);
