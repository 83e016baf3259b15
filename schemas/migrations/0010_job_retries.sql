-- Retries (#14): a definition's retry strategy and a job's own override
-- (NULL = the definition's, then the default), and how each run that did
-- not complete ended, as the retry rules match it.
ALTER TABLE job_definitions ADD COLUMN retry_strategy jsonb;
ALTER TABLE jobs ADD COLUMN retry_strategy jsonb;
ALTER TABLE job_runs ADD COLUMN reason text NOT NULL DEFAULT ''
    CHECK (reason IN ('', 'oom', 'timeout', 'interrupted', 'error'));
