-- Compute spawns come alive: what the agent reports (register, pings), the
-- state history SpawnWorkflow writes, and the agent tokens that authenticate
-- the agent endpoints.

ALTER TABLE compute_spawns
    -- When the state last changed; every change also writes an event.
    ADD COLUMN state_changed_at   timestamptz NOT NULL DEFAULT now(),
    -- Set by POST /v1/agent/register.
    ADD COLUMN registered_at      timestamptz,
    ADD COLUMN agent_version      text        NOT NULL DEFAULT '',
    ADD COLUMN hostname           text        NOT NULL DEFAULT '',
    ADD COLUMN host_cpu_pct       integer     CHECK (host_cpu_pct > 0),
    ADD COLUMN host_memory_mb     integer     CHECK (host_memory_mb > 0),
    -- Set by every POST /v1/agent/ping. Pings land here, not in workflow
    -- history: SpawnWorkflow reads last_ping_at when its liveness timer fires.
    ADD COLUMN last_ping_at       timestamptz,
    ADD COLUMN capacity_cpu_pct   integer     NOT NULL DEFAULT 0 CHECK (capacity_cpu_pct >= 0),
    ADD COLUMN capacity_memory_mb integer     NOT NULL DEFAULT 0 CHECK (capacity_memory_mb >= 0),
    -- The run IDs the agent said it runs, for reconciliation with allocations.
    ADD COLUMN reported_runs      text[]      NOT NULL DEFAULT '{}',
    -- When a ping last signalled the workflow. A ping signals only when the
    -- workflow waits for one (initialized, unreachable), and at most once a
    -- minute per state, so an agent pinging while the worker is down does not
    -- pile signals into the history.
    ADD COLUMN ping_signalled_at  timestamptz;

CREATE INDEX compute_spawns_project_idx ON compute_spawns (project_id, id);

-- Every state a spawn went through, in order. transition_key makes the
-- workflow's write idempotent: a retried activity finds its key and does
-- nothing.
CREATE TABLE compute_spawn_events (
    id               uuid        PRIMARY KEY,
    compute_spawn_id uuid        NOT NULL REFERENCES compute_spawns (id) ON DELETE CASCADE,
    state            text        NOT NULL,
    reason           text        NOT NULL,
    at               timestamptz NOT NULL DEFAULT clock_timestamp(),
    transition_key   text        NOT NULL UNIQUE
);
CREATE INDEX compute_spawn_events_spawn_idx ON compute_spawn_events (compute_spawn_id, at, id);

-- Agent tokens authenticate the agent of one spawn. As with API keys only a
-- SHA-256 hash of the secret is kept; the prefix is the visible, unique part
-- used for lookup.
CREATE TABLE agent_tokens (
    id               uuid        PRIMARY KEY,
    project_id       uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    compute_spawn_id uuid        NOT NULL REFERENCES compute_spawns (id) ON DELETE CASCADE,
    prefix           text        NOT NULL UNIQUE,
    secret_hash      bytea       NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_used_at     timestamptz,
    revoked_at       timestamptz
);
CREATE INDEX agent_tokens_spawn_idx ON agent_tokens (compute_spawn_id);
