-- Cancel (schema version 4): a running job can be asked to stop. The request
-- is kept on the job; whatever ends its attempt (complete, fail, give back,
-- its worker's death) then ends it 'cancelled', never retried. Adding nullable
-- columns rewrites nothing; the lock keeps claims and outcomes out for the
-- moment it takes.
lock table @schema@._private_jobs in access exclusive mode;

alter table @schema@._private_jobs
  add column cancel_requested_at timestamptz,
  add column cancel_reason text,
  add constraint jobs_cancel_reason_length check (char_length(cancel_reason) <= 1000);

-- Ends of attempts look here for requests: almost always empty, so the look
-- costs a page whatever the table holds.
create index jobs_cancel_requested on @schema@._private_jobs (id)
  where cancel_requested_at is not null and state = 'running';

create or replace view @schema@.jobs as
  select id, queue_name, task_identifier, priority, run_at, attempts, max_attempts,
         last_error, created_at, updated_at, key, locked_at, locked_by, revision,
         flags, payload, errors, state, finished_at, keep_until, result,
         cancel_requested_at, cancel_reason
  from @schema@._private_jobs;
