begin;
select plan(6);

-- TEST: the enqueue functions run as their owner, so an enqueue-only role
-- needs EXECUTE on them and nothing on the tables; and nobody gets that
-- EXECUTE by default.
select is_definer('pgrun', 'add_job',
  array['text', 'json', 'text', 'timestamp with time zone', 'integer', 'text', 'integer', 'text[]', 'text',
        'interval', 'jsonb', 'bigint[]', 'text[]'],
  'add_job is security definer');
select is_definer('pgrun', 'add_jobs', array['pgrun.job_spec[]', 'boolean'],
  'add_jobs is security definer');

select ok(not has_function_privilege('public',
    'pgrun.add_job(text, json, text, timestamptz, integer, text, integer, text[], text, interval, jsonb, bigint[], text[])', 'execute'),
  'PUBLIC may not execute add_job');
select ok(not has_function_privilege('public', 'pgrun.add_jobs(pgrun.job_spec[], boolean)', 'execute'),
  'PUBLIC may not execute add_jobs');

-- TEST: a security definer function pins its search_path, so a caller's
-- search_path can neither break nor hijack it.
select ok(
  (select coalesce(array_to_string(proconfig, ',') like '%search_path=%', false)
   from pg_catalog.pg_proc where oid = 'pgrun.add_job'::regproc),
  'add_job sets its own search_path');
select ok(
  (select coalesce(array_to_string(proconfig, ',') like '%search_path=%', false)
   from pg_catalog.pg_proc where oid = 'pgrun.add_jobs'::regproc),
  'add_jobs sets its own search_path');

select finish();
rollback;
