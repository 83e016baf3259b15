-- Console sessions: a browser signed in with one of the project's API keys.
-- Only a SHA-256 hash of the session token is kept (the cookie holds the
-- token); a session ends at expires_at, at sign-out, and with its API key
-- (a revoked key's sessions are refused, a deleted key's go with it).
CREATE TABLE console_sessions (
    token_hash bytea       PRIMARY KEY,
    api_key_id uuid        NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    -- csrf_token is sent back with every form of the session.
    csrf_token text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX console_sessions_expires_idx ON console_sessions (expires_at);
