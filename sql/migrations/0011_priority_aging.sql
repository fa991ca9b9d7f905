-- Priority aging (schema version 11, issues 10 and 12): the maintenance pass
-- (0545_priority_aging.sql) lowers the priority of jobs that have waited
-- available for a while, when set_priority_aging turned it on. A job it aged
-- keeps its own priority in base_priority, so that the aged value is always
-- recomputed from (base_priority, run_at) and never compounds; null: never
-- aged (or given its own priority back by a retry, a reschedule or a replace).
-- A nullable column without a default rewrites nothing; the lock keeps claims
-- and outcomes out for the moment it takes. No index: the pass reads the
-- available jobs through the claim's own indexes, and an index of its own
-- would cost every add and every claim.
lock table @schema@._private_jobs in access exclusive mode;

alter table @schema@._private_jobs
  add column base_priority smallint;

create or replace view @schema@.jobs as
  select id, queue_name, task_identifier, priority, run_at, attempts, max_attempts,
         last_error, created_at, updated_at, key, locked_at, locked_by, revision,
         flags, payload, errors, state, finished_at, keep_until, result,
         cancel_requested_at, cancel_reason, timeout, dead_letter_job_id, meta,
         depends_on, parent_results, workflow_id, limit_keys, base_priority
  from @schema@._private_jobs;
