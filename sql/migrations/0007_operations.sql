-- Operations (schema version 7): what queue statistics and the job listing read.
-- New tables and two partial indexes over final jobs only: nothing existing is
-- rewritten, and an enqueue writes to neither.

-- Outcomes per minute, one row per (minute, worker, task), written once per
-- batch of ended attempts (_count_outcomes, from _end_attempts) and summed at
-- read time (job_throughput). Workers never write each other's rows, so they
-- never wait for each other here; the counters are not indexed, so the
-- updates stay HOT. maintain() removes minutes older than the
-- outcome_minutes_retention setting.
create table @schema@._private_outcome_minutes (
  minute           timestamptz not null,
  -- whose attempts ended (the job's locked_by: reaped and timed-out
  -- attempts count for the worker that ran them)
  worker_id        text not null,
  task_identifier  text not null,
  completed        integer not null default 0,
  -- the attempt failed and the job will be retried
  retried          integer not null default 0,
  -- the attempt failed and so did the job, for good
  failed           integer not null default 0,
  cancelled        integer not null default 0,
  primary key (minute, worker_id, task_identifier)
) with (fillfactor = 70);
alter table @schema@._private_outcome_minutes set (
  autovacuum_vacuum_scale_factor = 0.0, autovacuum_vacuum_threshold = 500);

-- The last count of jobs by task, queue and state (_refresh_job_counts, run
-- by maintain() when the last one is old enough): one row, replaced whole.
-- Counting a big table is a scan; this lets job_counts() answer in a page.
create table @schema@._private_job_counts (
  id          boolean primary key default true,
  -- when the counts below were taken
  counted_at  timestamptz not null,
  -- when the last count was tried (counted_at, unless it was cut short) and
  -- how long that took: the next try waits at least 50 times as long
  tried_at    timestamptz not null,
  took        interval not null,
  -- [{"task": ..., "queue": ..., "state": ..., "waiting_since": ..., "jobs": n}, ...];
  -- null: no count finished yet (the first was cut short by a statement timeout)
  counts      jsonb,
  constraint job_counts_one_row check (id)
);

insert into @schema@._private_settings (name, value) values
  ('outcome_minutes_retention', '2 hours'),
  ('job_counts_max_age', '5 seconds')
on conflict (name) do nothing;

-- list_jobs by state: final jobs (failed and cancelled stay until removed)
-- are found without walking the live ones. Rows enter these only when a job
-- reaches a final state and retention keeps it; enqueues and claims never
-- write them.
create index jobs_final on @schema@._private_jobs (state, id)
  where state in ('completed', 'failed', 'cancelled');
-- list_jobs by key: jobs_key covers live jobs; retained completed and
-- cancelled jobs keep their key for display only and are found here.
create index jobs_final_key on @schema@._private_jobs (key)
  where key is not null and state in ('completed', 'cancelled');
