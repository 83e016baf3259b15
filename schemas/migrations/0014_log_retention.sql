-- Log lifecycle (#15): a project keeps its runs' logs and metrics for
-- log_retention_days after each run ended; RetentionWorkflow deletes them
-- then and stamps the run's logs_purged_at, so the job detail can say so.
ALTER TABLE projects
    ADD COLUMN log_retention_days integer NOT NULL DEFAULT 30 CHECK (log_retention_days BETWEEN 1 AND 3650);

ALTER TABLE job_runs
    ADD COLUMN logs_purged_at timestamptz;

-- The purge asks, per project, "which runs ended before T and still have
-- their output": a range scan of this index, which holds only those runs
-- (a purged run leaves it), however many runs the project has had.
CREATE INDEX job_runs_purge_idx ON job_runs (project_id, finished_at)
    WHERE logs_purged_at IS NULL AND finished_at IS NOT NULL;
