begin;
select plan(18);

-- TEST: the admin functions keep Graphile Worker's names, argument names,
-- argument order, defaults and return types.
select has_function('pgrun', 'complete_jobs', array['bigint[]'], 'complete_jobs(job_ids) exists');
select is(pg_get_function_arguments('pgrun.complete_jobs'::regproc), 'job_ids bigint[]',
  'complete_jobs takes job_ids');
select function_returns('pgrun', 'complete_jobs', array['bigint[]'], 'setof pgrun._private_jobs',
  'complete_jobs returns the deleted jobs');

select has_function('pgrun', 'permanently_fail_jobs', array['bigint[]', 'text'],
  'permanently_fail_jobs(job_ids, error_message) exists');
select is(pg_get_function_arguments('pgrun.permanently_fail_jobs'::regproc),
  'job_ids bigint[], error_message text DEFAULT NULL::text',
  'permanently_fail_jobs takes job_ids and an optional error_message');
select function_returns('pgrun', 'permanently_fail_jobs', array['bigint[]', 'text'], 'setof pgrun._private_jobs',
  'permanently_fail_jobs returns the failed jobs');

select has_function('pgrun', 'reschedule_jobs',
  array['bigint[]', 'timestamp with time zone', 'integer', 'integer', 'integer'],
  'reschedule_jobs(job_ids, run_at, priority, attempts, max_attempts) exists');
select is(pg_get_function_arguments('pgrun.reschedule_jobs'::regproc),
  'job_ids bigint[], run_at timestamp with time zone DEFAULT NULL::timestamp with time zone, '
  'priority integer DEFAULT NULL::integer, attempts integer DEFAULT NULL::integer, '
  'max_attempts integer DEFAULT NULL::integer',
  'reschedule_jobs has Graphile''s argument names, all but job_ids defaulting to null');
select function_returns('pgrun', 'reschedule_jobs',
  array['bigint[]', 'timestamp with time zone', 'integer', 'integer', 'integer'], 'setof pgrun._private_jobs',
  'reschedule_jobs returns the rescheduled jobs');

select has_function('pgrun', 'remove_job', array['text'], 'remove_job(job_key) exists');
select is(pg_get_function_arguments('pgrun.remove_job'::regproc), 'job_key text',
  'remove_job takes job_key');
select function_returns('pgrun', 'remove_job', array['text'], 'pgrun._private_jobs',
  'remove_job returns one job row');

select has_function('pgrun', 'force_unlock_workers', array['text[]'], 'force_unlock_workers(worker_ids) exists');
select is(pg_get_function_arguments('pgrun.force_unlock_workers'::regproc), 'worker_ids text[]',
  'force_unlock_workers takes worker_ids');
select function_returns('pgrun', 'force_unlock_workers', array['text[]'], 'void',
  'force_unlock_workers returns nothing');

-- TEST: each public name has one signature, so a call by name never turns ambiguous.
select is(
  (select count(*)::integer from pg_catalog.pg_proc
   where pronamespace = 'pgrun'::regnamespace
     and proname in ('complete_jobs', 'permanently_fail_jobs', 'reschedule_jobs', 'remove_job',
                     'force_unlock_workers')),
  5, 'the admin functions are not overloaded');
select is(
  (select count(*)::integer from pg_catalog.pg_proc
   where pronamespace = 'pgrun'::regnamespace and proname in ('add_job', 'add_jobs')),
  2, 'add_job and add_jobs are not overloaded');
select is(
  (select count(*)::integer from pg_catalog.pg_proc
   where pronamespace = 'pgrun'::regnamespace
     and proname in ('get_job', 'get_jobs', 'complete_job', 'fail_job', 'complete_held_jobs',
                     'fail_held_jobs', 'return_held_jobs', 'record_heartbeat',
                     'release_dead_workers', 'unregister_worker')),
  10, 'the worker functions are not overloaded');

select finish();
rollback;
