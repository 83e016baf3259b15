-- Job dependencies (#14): a job waits for jobs of its project. A job that
-- others depend on cannot be deleted while they exist (jobs are never
-- deleted one by one today; the project's deletion cascades).
CREATE TABLE job_dependencies (
    job_id            uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    depends_on_job_id uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    type              text NOT NULL CHECK (type IN ('success', 'completion')),
    position          int  NOT NULL,
    PRIMARY KEY (job_id, depends_on_job_id),
    CHECK (job_id <> depends_on_job_id)
);
CREATE INDEX job_dependencies_on_idx ON job_dependencies (depends_on_job_id);
