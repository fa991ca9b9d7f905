-- Attempt policies (schema version 6): a job may carry a timeout (how long one
-- attempt may run); a worker may snooze an attempt (it ends without using up
-- an attempt) or fail it permanently; a failed job may leave a dead letter.
-- Adding a nullable column rewrites nothing; the lock keeps claims and
-- outcomes out for the moment it takes, and serialises ten migrating workers.
lock table @schema@._private_jobs in access exclusive mode;

alter table @schema@._private_jobs
  add column timeout interval,
  add column dead_letter_job_id bigint,
  add constraint jobs_timeout_positive check (timeout > interval '0');

-- The timeout sweep (_time_out_attempts) reads only running jobs that have a
-- timeout: a handful, whatever the table holds.
create index jobs_running_timeout on @schema@._private_jobs (locked_at)
  where state = 'running' and timeout is not null;


create or replace view @schema@.jobs as
  select id, queue_name, task_identifier, priority, run_at, attempts, max_attempts,
         last_error, created_at, updated_at, key, locked_at, locked_by, revision,
         flags, payload, errors, state, finished_at, keep_until, result,
         cancel_requested_at, cancel_reason, timeout, dead_letter_job_id
  from @schema@._private_jobs;

-- Where a failed job's dead letter goes: one rule per task, per queue, or the
-- default (both null). The most specific wins: task, then queue, then default.
create table @schema@._private_dead_letters (
  task_identifier text,
  queue_name text,
  dead_letter_task text not null,
  created_at timestamptz not null default now(),
  constraint dead_letters_one_scope check (task_identifier is null or queue_name is null)
);
create unique index dead_letters_scope on @schema@._private_dead_letters
  (coalesce(task_identifier, ''), coalesce(queue_name, ''));

-- Signatures that changed (absent on a fresh install: every migration runs
-- before the functions are created); the functions are re-created after.
drop function if exists @schema@.add_job(text, json, text, timestamptz, integer, text, integer, text[], text);
drop function if exists @schema@.fail_attempts(text, bigint[], bigint[], text[]);
drop function if exists @schema@.claim_jobs(text, integer, text[], text[], timestamptz);
drop function if exists @schema@._end_attempts(bigint[], text, jsonb, jsonb, timestamptz);
