-- Retry policies and job metadata (schema version 8).
-- A task may have a retry policy (set_retry_policy): how long its failed jobs
-- wait before their next attempt, instead of exp(least(attempts, 10)) seconds.
-- A job may carry metadata for runners beside its payload (add_job's meta): its
-- own retry policy ("retry"), a correlation id ("correlation_id") and the trace
-- context of whoever enqueued it ("traceparent", "tracestate").
-- Adding a nullable column rewrites nothing; the lock keeps claims and
-- outcomes out for the moment it takes, and serialises ten migrating workers.
lock table @schema@._private_jobs in access exclusive mode;

alter table @schema@._private_jobs
  add column meta jsonb,
  add constraint jobs_meta_object check (jsonb_typeof(meta) = 'object');

create table @schema@._private_retry_policies (
  task_identifier text primary key,
  kind text not null,
  base double precision not null default 1,    -- seconds: exponential's factor, linear's step, fixed's wait
  max_delay double precision,                  -- seconds; null: no cap
  jitter double precision not null default 0,  -- up to this fraction earlier, at random
  updated_at timestamptz not null default now(),
  constraint retry_policies_kind check (kind in ('exponential', 'linear', 'fixed')),
  constraint retry_policies_base_positive check (base > 0),
  constraint retry_policies_max_delay_positive check (max_delay > 0),
  constraint retry_policies_jitter_fraction check (jitter >= 0 and jitter <= 1)
);

create or replace view @schema@.jobs as
  select id, queue_name, task_identifier, priority, run_at, attempts, max_attempts,
         last_error, created_at, updated_at, key, locked_at, locked_by, revision,
         flags, payload, errors, state, finished_at, keep_until, result,
         cancel_requested_at, cancel_reason, timeout, dead_letter_job_id, meta
  from @schema@._private_jobs;

-- Signatures that changed (absent on a fresh install: every migration runs
-- before the functions are created); the functions are re-created after.
drop function if exists @schema@.add_job(text, json, text, timestamptz, integer, text, integer, text[], text,
                                         interval);
drop function if exists @schema@.fail_attempts(text, bigint[], bigint[], text[], boolean[]);
drop function if exists @schema@.claim_jobs(text, integer, text[], text[], timestamptz);
