-- Array jobs (#14): a parent job with array_size children, each a job of its
-- own (its row ID is a UUID v5 of the parent's ID and its index; the API
-- names it "<parent>:<index>"). Children share the parent's name, so a name
-- is unique in its queue among top-level jobs only. A parent never runs:
-- its state follows its children's.
ALTER TABLE jobs
    ADD COLUMN array_size       integer CHECK (array_size BETWEEN 2 AND 10000),
    ADD COLUMN array_parent_id  uuid REFERENCES jobs (id) ON DELETE CASCADE,
    ADD COLUMN array_index      integer CHECK (array_index >= 0),
    -- SEQUENTIAL: child i waits for child i-1 (the rows are in job_dependencies).
    ADD COLUMN array_sequential boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT jobs_array_child_check CHECK ((array_parent_id IS NULL) = (array_index IS NULL)),
    ADD CONSTRAINT jobs_array_parent_check CHECK (array_size IS NULL OR array_parent_id IS NULL);
ALTER TABLE jobs DROP CONSTRAINT jobs_job_queue_id_name_key;
CREATE UNIQUE INDEX jobs_queue_name_idx ON jobs (job_queue_id, name) WHERE array_parent_id IS NULL;
CREATE UNIQUE INDEX jobs_array_children_idx ON jobs (array_parent_id, array_index) WHERE array_parent_id IS NOT NULL;

-- N_TO_N: an array job's dependency on another array of the same size; the
-- parent's row says so, each child waits for its own counterpart (a success
-- row of its own).
ALTER TABLE job_dependencies DROP CONSTRAINT job_dependencies_type_check;
ALTER TABLE job_dependencies ADD CONSTRAINT job_dependencies_type_check CHECK (type IN ('success', 'completion', 'N_TO_N'));
