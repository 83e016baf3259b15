-- The catalog: where work may run (cloud auths, compute environments), how it
-- queues (job queues), and what runs (registry auths, job definitions).
-- Secrets are AES-256-GCM ciphertexts (internal/secrets) bound to their row;
-- *_hint columns hold a masked form safe to show.

CREATE TABLE cloud_auths (
    id               uuid        PRIMARY KEY,
    project_id       uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name             text        NOT NULL,
    provider         text        NOT NULL CHECK (provider IN ('aws', 'digitalocean', 'linode', 'vultr')),
    default_region   text        NOT NULL DEFAULT '',
    credentials      bytea       NOT NULL,
    credentials_hint text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);

CREATE TABLE compute_envs (
    id               uuid        PRIMARY KEY,
    project_id       uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name             text        NOT NULL,
    kind             text        NOT NULL CHECK (kind IN ('cloud', 'selfhosted')),
    cloud_auth_id    uuid        REFERENCES cloud_auths (id),
    instance_type    text        NOT NULL DEFAULT '',
    region           text        NOT NULL DEFAULT '',
    usable_cpu_pct   integer     CHECK (usable_cpu_pct >= 10),
    usable_memory_mb integer     CHECK (usable_memory_mb > 0),
    enabled          boolean     NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    -- Deleting hides the row (spawns keep referring to it) and frees its name
    -- and its cloud auth.
    deleted_at       timestamptz,
    CHECK (deleted_at IS NOT NULL OR (kind = 'cloud') = (cloud_auth_id IS NOT NULL))
);
CREATE UNIQUE INDEX compute_envs_name_key ON compute_envs (project_id, name) WHERE deleted_at IS NULL;
CREATE INDEX compute_envs_cloud_auth_idx ON compute_envs (cloud_auth_id);

CREATE TABLE job_queues (
    id               uuid        PRIMARY KEY,
    project_id       uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name             text        NOT NULL,
    description      text        NOT NULL DEFAULT '',
    priority         integer     NOT NULL CHECK (priority BETWEEN 1 AND 1000),
    max_concurrency  integer     NOT NULL DEFAULT 0 CHECK (max_concurrency >= 0),
    max_spawns       integer     NOT NULL DEFAULT 0 CHECK (max_spawns >= 0),
    max_idle_seconds integer     NOT NULL DEFAULT 0 CHECK (max_idle_seconds >= 0),
    ssh_public_key   text        NOT NULL DEFAULT '',
    enabled          boolean     NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    -- Deleting hides the row (jobs and spawns keep referring to it) and frees its name.
    deleted_at       timestamptz
);
CREATE UNIQUE INDEX job_queues_name_key ON job_queues (project_id, name) WHERE deleted_at IS NULL;

-- The compute environments a queue may spawn on, in the order they were added
-- (round robin follows it).
CREATE TABLE job_queue_compute_envs (
    job_queue_id   uuid        NOT NULL REFERENCES job_queues (id) ON DELETE CASCADE,
    compute_env_id uuid        NOT NULL REFERENCES compute_envs (id),
    added_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (job_queue_id, compute_env_id)
);
CREATE INDEX job_queue_compute_envs_env_idx ON job_queue_compute_envs (compute_env_id);

CREATE TABLE registry_auths (
    id            uuid        PRIMARY KEY,
    project_id    uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name          text        NOT NULL,
    registry_url  text        NOT NULL DEFAULT '',
    username      text        NOT NULL DEFAULT '',
    password      bytea,
    password_hint text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);

-- Job definitions are immutable revisions: (name, version). Deleting a
-- version hides it (deleted_at) because jobs keep referring to it.
CREATE TABLE job_definitions (
    id                uuid        PRIMARY KEY,
    project_id        uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name              text        NOT NULL,
    version           integer     NOT NULL CHECK (version >= 1),
    type              text        NOT NULL CHECK (type IN ('docker', 'bash')),
    image             text        NOT NULL,
    registry_auth_id  uuid        REFERENCES registry_auths (id),
    script            text        NOT NULL DEFAULT '',
    command           jsonb       NOT NULL DEFAULT '[]',
    parameters        jsonb       NOT NULL DEFAULT '{}',
    env               bytea,
    cpu_quota_pct     integer     CHECK (cpu_quota_pct >= 10),
    memory_mb         integer     CHECK (memory_mb > 0),
    privileged        boolean     NOT NULL DEFAULT false,
    timeout_seconds   integer     NOT NULL DEFAULT 0 CHECK (timeout_seconds >= 0),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    deleted_at        timestamptz,
    UNIQUE (project_id, name, version),
    CHECK ((cpu_quota_pct IS NULL) = (memory_mb IS NULL))
);
CREATE INDEX job_definitions_registry_auth_idx ON job_definitions (registry_auth_id);

-- Compute spawns, jobs and cron jobs: the columns the catalog's delete rules
-- need. The agent, jobs and cron issues extend these tables.
CREATE TABLE compute_spawns (
    id             uuid        PRIMARY KEY,
    project_id     uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    job_queue_id   uuid        NOT NULL REFERENCES job_queues (id),
    compute_env_id uuid        NOT NULL REFERENCES compute_envs (id),
    kind           text        NOT NULL CHECK (kind IN ('cloud', 'selfhosted')),
    state          text        NOT NULL CHECK (state IN ('failed', 'initialized', 'requested', 'idle', 'busy',
                                   'unreachable', 'terminating', 'terminated', 'termination_failed')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX compute_spawns_queue_idx ON compute_spawns (job_queue_id);
CREATE INDEX compute_spawns_env_idx ON compute_spawns (compute_env_id);

CREATE TABLE jobs (
    id                uuid        PRIMARY KEY,
    project_id        uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    job_queue_id      uuid        NOT NULL REFERENCES job_queues (id),
    job_definition_id uuid        NOT NULL REFERENCES job_definitions (id),
    name              text        NOT NULL,
    state             text        NOT NULL CHECK (state IN ('submitted', 'pending', 'runnable', 'starting', 'running',
                                      'cancelling', 'cancelled', 'timeout', 'completed', 'failed', 'error')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (job_queue_id, name)
);
CREATE INDEX jobs_definition_idx ON jobs (job_definition_id);

CREATE TABLE cron_jobs (
    id                uuid        PRIMARY KEY,
    project_id        uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name              text        NOT NULL,
    job_queue_id      uuid        NOT NULL REFERENCES job_queues (id),
    job_definition_id uuid        NOT NULL REFERENCES job_definitions (id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);
CREATE INDEX cron_jobs_queue_idx ON cron_jobs (job_queue_id);
CREATE INDEX cron_jobs_definition_idx ON cron_jobs (job_definition_id);
