-- Flow control (schema version 10): limits as rows, limit keys on jobs.
-- A limit key is a row of _private_job_queues, the table a named queue
-- already is: the claim counts what runs under each key there and reads its
-- budget there. A named queue is a key whose default max_running is 1; a key
-- that only appears in jobs' limit_keys has no default limit.
-- Adding nullable columns rewrites nothing; the lock keeps claims and
-- outcomes out for the moment it takes.
lock table @schema@._private_jobs, @schema@._private_job_queues in access exclusive mode;

-- What set_limit stores: a key, or a pattern ending in '*' (the most specific
-- match wins, see _limit_for). Null fields: no such limit.
create table @schema@._private_limits (
  key            text primary key,
  max_running    integer,
  max_per_period integer,
  period         interval,
  burst          integer,
  updated_at     timestamptz not null default now(),
  constraint limits_key_length check (length(key) between 1 and 128),
  constraint limits_max_running_positive check (max_running >= 1),
  constraint limits_rate_whole check ((max_per_period is null) = (period is null)),
  constraint limits_max_per_period_positive check (max_per_period >= 1),
  constraint limits_period_positive check (period > interval '0'),
  constraint limits_burst_range check (burst >= 1 and burst <= max_per_period)
);

-- A key's row carries the limit in force for it (copied from the best
-- _private_limits row, so the claim reads one row per key) and its state:
--   limit_only    made by a job's limit_keys, not by a queue: no default max_running
--   starts        when its recent jobs started (the sliding window of a rate; only
--                 with max_per_period)
--   paused_until  a handler's RateLimited: no job of this key starts before then
--   has_limit     a set_limit row applies: its jobs take turns with other keys' in a claim
alter table @schema@._private_job_queues
  add column limit_only boolean not null default false,
  add column has_limit boolean not null default false,
  add column max_per_period integer,
  add column period interval,
  add column burst integer,
  add column starts timestamptz[],
  add column paused_until timestamptz;

-- The claim's cheap test for "a pause may be in force": max(paused_until), one
-- step into an index that is empty unless a handler raised RateLimited.
create index job_queues_paused on @schema@._private_job_queues (paused_until)
  where paused_until is not null;
-- Keys named by jobs' limit_keys, which the claim checks beside the queue.
create index job_queues_limit_keys on @schema@._private_job_queues (queue_name) where limit_only;

-- A job's keys beyond its queue (null: none, as almost always).
alter table @schema@._private_jobs
  add column limit_keys text[];
-- The claim's cheap test for "any waiting job has limit keys": an empty index.
create index jobs_available_limited on @schema@._private_jobs (priority, run_at, id)
  where state = 'available' and limit_keys is not null;
create index jobs_running_limited on @schema@._private_jobs (id)
  where state = 'running' and limit_keys is not null;

alter type @schema@.job_spec add attribute limit_keys text[];

create or replace view @schema@.jobs as
  select id, queue_name, task_identifier, priority, run_at, attempts, max_attempts,
         last_error, created_at, updated_at, key, locked_at, locked_by, revision,
         flags, payload, errors, state, finished_at, keep_until, result,
         cancel_requested_at, cancel_reason, timeout, dead_letter_job_id, meta,
         depends_on, parent_results, workflow_id, limit_keys
  from @schema@._private_jobs;

-- Signatures that changed (absent on a fresh install: every migration runs
-- before the functions are created); the functions are re-created after.
drop function if exists @schema@.add_job(text, json, text, timestamptz, integer, text, integer, text[], text,
                                         interval, jsonb, bigint[]);
drop function if exists @schema@._pick_unqueued_jobs(text[], text[], integer);
drop function if exists @schema@._pick_queued_jobs(text[], text[], integer, text[]);
