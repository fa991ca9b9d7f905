begin;
select plan(37);

-- TEST: get_job keeps Graphile Worker's signature, with a `now` for tests and
-- callers with their own clock; get_jobs is its batch form.
select has_function('pgrun', 'get_job',
  array['text', 'text[]', 'interval', 'text[]', 'timestamp with time zone'],
  'get_job(worker_id, task_identifiers, job_expiry, forbidden_flags, now) exists');
select is(pg_get_function_arguments('pgrun.get_job'::regproc),
  'worker_id text, task_identifiers text[] DEFAULT NULL::text[], '
  'job_expiry interval DEFAULT ''04:00:00''::interval, forbidden_flags text[] DEFAULT NULL::text[], '
  'now timestamp with time zone DEFAULT now()',
  'get_job has Graphile''s argument names and defaults (job_expiry 4 hours, now now())');
select function_returns('pgrun', 'get_job',
  array['text', 'text[]', 'interval', 'text[]', 'timestamp with time zone'], 'pgrun._private_jobs',
  'get_job returns one job row');

select has_function('pgrun', 'get_jobs',
  array['text', 'text[]', 'interval', 'text[]', 'timestamp with time zone', 'integer'],
  'get_jobs(worker_id, task_identifiers, job_expiry, forbidden_flags, now, max_jobs) exists');
select is(pg_get_function_arguments('pgrun.get_jobs'::regproc),
  'worker_id text, task_identifiers text[] DEFAULT NULL::text[], '
  'job_expiry interval DEFAULT ''04:00:00''::interval, forbidden_flags text[] DEFAULT NULL::text[], '
  'now timestamp with time zone DEFAULT now(), max_jobs integer DEFAULT 1',
  'get_jobs takes get_job''s arguments, then max_jobs defaulting to 1');
select function_returns('pgrun', 'get_jobs',
  array['text', 'text[]', 'interval', 'text[]', 'timestamp with time zone', 'integer'],
  'setof pgrun._private_jobs', 'get_jobs returns a set of job rows');

-- TEST: complete and fail, single and batch forms.
select has_function('pgrun', 'complete_job', array['text', 'bigint'], 'complete_job(worker_id, job_id) exists');
select is(pg_get_function_arguments('pgrun.complete_job'::regproc), 'worker_id text, job_id bigint',
  'complete_job takes worker_id, job_id');
select function_returns('pgrun', 'complete_job', array['text', 'bigint'], 'pgrun._private_jobs',
  'complete_job returns the deleted job, as in Graphile Worker');

select has_function('pgrun', 'fail_job', array['text', 'bigint', 'text'],
  'fail_job(worker_id, job_id, error_message) exists');
select is(pg_get_function_arguments('pgrun.fail_job'::regproc),
  'worker_id text, job_id bigint, error_message text',
  'fail_job takes worker_id, job_id, error_message');
select function_returns('pgrun', 'fail_job', array['text', 'bigint', 'text'], 'pgrun._private_jobs',
  'fail_job returns the failed job');

select has_function('pgrun', 'complete_held_jobs', array['text', 'bigint[]'],
  'complete_held_jobs(worker_id, job_ids) exists');
select is(pg_get_function_arguments('pgrun.complete_held_jobs'::regproc), 'worker_id text, job_ids bigint[]',
  'complete_held_jobs takes worker_id, job_ids');
select function_returns('pgrun', 'complete_held_jobs', array['text', 'bigint[]'], 'setof bigint',
  'complete_held_jobs returns the ids it completed');

select has_function('pgrun', 'fail_held_jobs', array['text', 'bigint[]', 'text[]'],
  'fail_held_jobs(worker_id, job_ids, error_messages) exists');
select is(pg_get_function_arguments('pgrun.fail_held_jobs'::regproc),
  'worker_id text, job_ids bigint[], error_messages text[]',
  'fail_held_jobs takes worker_id, job_ids and one error message per job');
select function_returns('pgrun', 'fail_held_jobs', array['text', 'bigint[]', 'text[]'],
  'setof pgrun._private_jobs', 'fail_held_jobs returns the failed jobs');

select has_function('pgrun', 'return_held_jobs', array['text', 'bigint[]'],
  'return_held_jobs(worker_id, job_ids) exists');
select is(pg_get_function_arguments('pgrun.return_held_jobs'::regproc), 'worker_id text, job_ids bigint[]',
  'return_held_jobs takes worker_id, job_ids');
select function_returns('pgrun', 'return_held_jobs', array['text', 'bigint[]'], 'setof bigint',
  'return_held_jobs returns the ids it gave back');

-- TEST: worker liveness.
select has_function('pgrun', 'record_heartbeat', array['text', 'jsonb', 'timestamp with time zone'],
  'record_heartbeat(worker_id, info, now) exists');
select is(pg_get_function_arguments('pgrun.record_heartbeat'::regproc),
  'worker_id text, info jsonb DEFAULT NULL::jsonb, now timestamp with time zone DEFAULT now()',
  'record_heartbeat takes worker_id, optional info and now');
select function_returns('pgrun', 'record_heartbeat', array['text', 'jsonb', 'timestamp with time zone'], 'void',
  'record_heartbeat returns nothing');

select has_function('pgrun', 'release_dead_workers', array['interval', 'timestamp with time zone'],
  'release_dead_workers(heartbeat_timeout, now) exists');
select is(pg_get_function_arguments('pgrun.release_dead_workers'::regproc),
  'heartbeat_timeout interval DEFAULT ''00:00:20''::interval, now timestamp with time zone DEFAULT now()',
  'release_dead_workers defaults to a 20 second timeout and now()');
select is(pg_get_function_result('pgrun.release_dead_workers'::regproc),
  'TABLE(worker_id text, released_jobs integer)',
  'release_dead_workers returns each dead worker with its released job count');

select has_function('pgrun', 'unregister_worker', array['text'], 'unregister_worker(worker_id) exists');
select is(pg_get_function_arguments('pgrun.unregister_worker'::regproc), 'worker_id text',
  'unregister_worker takes worker_id');
select function_returns('pgrun', 'unregister_worker', array['text'], 'void',
  'unregister_worker returns nothing');

-- TEST: the job row the functions return carries the columns the contract names.
select has_column('pgrun', '_private_jobs', 'id', 'job rows carry id');
select has_column('pgrun', '_private_jobs', 'task_identifier', 'job rows carry task_identifier');
select has_column('pgrun', '_private_jobs', 'queue_name', 'job rows carry queue_name');
select has_column('pgrun', '_private_jobs', 'payload', 'job rows carry payload');
select has_column('pgrun', '_private_jobs', 'revision', 'job rows carry revision');
select has_column('pgrun', '_private_jobs', 'flags', 'job rows carry flags');
select has_column('pgrun', '_private_jobs', 'errors', 'job rows carry the errors history');

select finish();
rollback;
