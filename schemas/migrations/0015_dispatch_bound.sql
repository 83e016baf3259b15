-- Dispatcher at scale (#15): a round reads only the first K runnable jobs of
-- each queue, in the queue's order (when the job became runnable, then ID),
-- and a job's position in its queue is counted when it is read, not written
-- by every round.
--
-- The queue's order as an index, so that "the first K" and "how many are
-- ahead of this one" are index range scans whatever the backlog. It replaces
-- jobs_runnable_idx, whose order lacked the ID tie-break and the fallback to
-- created_at that placement uses.
CREATE INDEX jobs_runnable_order_idx ON jobs (job_queue_id, (COALESCE(runnable_at, created_at)), id)
    WHERE state = 'runnable';
DROP INDEX jobs_runnable_idx;

-- Set when the dispatcher wrote pending_reason/pending_detail: the job's
-- detail then adds its position in the queue, counted when it is read (a
-- round rewrites a reason only when it changes, and never reads the jobs past
-- its bound, so a position it wrote would go stale). Any other writer of the
-- reason clears it.
ALTER TABLE jobs ADD COLUMN pending_in_queue boolean NOT NULL DEFAULT false;
