-- Helpers for the pgTAP suite, in their own schema (never in pgrun's).
create schema if not exists pgrun_tests;

-- A worker id long enough for the worker API.
create or replace function pgrun_tests.worker(n integer default 1) returns text
language sql immutable as $$ select 'test-worker-' || n $$;

-- Remove every job, queue and worker so a test starts from nothing.
create or replace function pgrun_tests.reset() returns void
language sql as $$
  delete from pgrun._private_jobs;
  delete from pgrun._private_job_queues;
  delete from pgrun._private_workers;
$$;
