-- The agent trust boundary (DESIGN.md §9): a spawn's token shown to a user or
-- written into cloud-init is a one-time bootstrap token, exchanged at the
-- agent's first registration for the credential the agent keeps; and the
-- Temporal gateway records which activity task tokens it handed to which
-- spawn, so that every server replica can check an agent's answers.

ALTER TABLE agent_tokens
    -- 'bootstrap' (one use, at register) or 'credential' (what the agent keeps).
    ADD COLUMN kind    text NOT NULL DEFAULT 'bootstrap' CHECK (kind IN ('bootstrap', 'credential')),
    -- When a bootstrap token was exchanged; a second exchange is refused.
    ADD COLUMN used_at timestamptz;

-- Tokens issued before this migration keep working as credentials: the agents
-- that hold them are already registered.
UPDATE agent_tokens SET kind = 'credential';

-- Activity task tokens the gateway handed to an agent: only the SHA-256 of
-- the token, bound to the spawn that polled it. Removed when the agent
-- answers the task, and with the spawn's other tokens when it ends.
CREATE TABLE agent_task_tokens (
    token_hash       bytea       PRIMARY KEY,
    compute_spawn_id uuid        NOT NULL REFERENCES compute_spawns (id) ON DELETE CASCADE,
    issued_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agent_task_tokens_spawn_idx ON agent_task_tokens (compute_spawn_id);

-- A run's log is bounded (DAESTRO_RUN_LOG_CAP_MB): what it has taken so far,
-- and whether its later lines were dropped.
ALTER TABLE job_runs
    ADD COLUMN log_bytes     bigint  NOT NULL DEFAULT 0,
    ADD COLUMN log_truncated boolean NOT NULL DEFAULT false;

-- A cloud auth is deletable when no compute environment uses it; the spawns
-- that ran on it keep their history (provider, region, instance) without it.
ALTER TABLE compute_spawns DROP CONSTRAINT compute_spawns_cloud_auth_id_fkey;
ALTER TABLE compute_spawns ADD CONSTRAINT compute_spawns_cloud_auth_id_fkey
    FOREIGN KEY (cloud_auth_id) REFERENCES cloud_auths (id) ON DELETE SET NULL;
