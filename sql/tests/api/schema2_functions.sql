begin;
select plan(26);

-- TEST: schema 2's worker, retention, results, cancel and roles functions have the
-- arguments, defaults and results that runners and tools are written against
create temporary table expected (name text, arguments text, result text);
insert into expected values
  ('claim_jobs', 'worker_id text, max_jobs integer, task_identifiers text[] DEFAULT NULL::text[], forbidden_flags text[] DEFAULT NULL::text[], now timestamp with time zone DEFAULT now()',
   'TABLE(id bigint, queue_name text, task_identifier text, payload jsonb, priority smallint, run_at timestamp with time zone, attempts smallint, max_attempts smallint, last_error text, created_at timestamp with time zone, key text, locked_at timestamp with time zone, revision integer, flags jsonb, lease bigint, next_due_in double precision, look_again boolean, timeout interval, meta jsonb)'),
  ('complete_attempts', 'worker_id text, job_ids bigint[], leases bigint[], results jsonb[] DEFAULT NULL::jsonb[]', 'TABLE(job_id bigint, outcome text)'),
  ('fail_attempts', 'worker_id text, job_ids bigint[], leases bigint[], error_messages text[], permanent boolean[] DEFAULT NULL::boolean[], delays interval[] DEFAULT NULL::interval[]',
   'TABLE(job_id bigint, outcome text, run_at timestamp with time zone, attempts smallint, max_attempts smallint)'),
  ('snooze_attempts', 'worker_id text, job_ids bigint[], leases bigint[], delays interval[]',
   'TABLE(job_id bigint, outcome text, run_at timestamp with time zone)'),
  ('return_attempts', 'worker_id text, job_ids bigint[], leases bigint[]', 'TABLE(job_id bigint, outcome text)'),
  ('held_attempts', 'worker_id text', 'TABLE(job_id bigint, lease bigint)'),
  ('register_worker', 'worker_id text, info jsonb DEFAULT NULL::jsonb, heartbeat_interval interval DEFAULT ''00:00:05''::interval, lease_timeout interval DEFAULT ''00:00:20''::interval, now timestamp with time zone DEFAULT now()', 'void'),
  ('heartbeat', 'worker_id text, info jsonb DEFAULT NULL::jsonb, heartbeat_timeout interval DEFAULT ''00:00:20''::interval, now timestamp with time zone DEFAULT now()',
   'TABLE(dead_worker_id text, released_jobs integer)'),
  ('reap_workers', 'reaper_id text, now timestamp with time zone DEFAULT now()', 'TABLE(worker_id text, released_jobs integer)'),
  ('unregister_worker', 'worker_id text', 'void'),
  ('maintain', 'max_rows integer DEFAULT 1000, job_expiry interval DEFAULT ''04:00:00''::interval, now timestamp with time zone DEFAULT now()',
   'TABLE(task text, rows integer)'),
  ('prune_jobs', 'max_rows integer DEFAULT 1000, now timestamp with time zone DEFAULT now()', 'integer'),
  ('set_retention', 'completed interval, failed interval, cancelled interval, task_identifier text DEFAULT NULL::text, queue_name text DEFAULT NULL::text', 'void'),
  ('cancel_jobs', 'job_ids bigint[], reason text DEFAULT NULL::text', 'SETOF pgrun._private_jobs'),
  ('remove_retention', 'task_identifier text DEFAULT NULL::text, queue_name text DEFAULT NULL::text', 'boolean'),
  ('set_dead_letter', 'dead_letter_task text, task_identifier text DEFAULT NULL::text, queue_name text DEFAULT NULL::text', 'void'),
  ('remove_dead_letter', 'task_identifier text DEFAULT NULL::text, queue_name text DEFAULT NULL::text', 'boolean'),
  ('get_result', 'job_id bigint', 'TABLE(state text, result jsonb, last_error text, finished_at timestamp with time zone)'),
  ('watch_jobs', 'job_ids bigint[]', 'void'),
  ('unwatch_jobs', 'job_ids bigint[]', 'void'),
  ('grant_enqueue', 'role_name name, tasks text[] DEFAULT NULL::text[], queues text[] DEFAULT NULL::text[]', 'void'),
  ('grant_worker', 'role_name name', 'void'),
  ('grant_admin', 'role_name name', 'void'),
  ('grant_read', 'role_name name', 'void'),
  ('revoke_all', 'role_name name', 'void');

select is((select pg_get_function_arguments(p.oid) || ' -> ' || pg_get_function_result(p.oid)
           from pg_proc as p where p.pronamespace = 'pgrun'::regnamespace and p.proname = e.name),
          e.arguments || ' -> ' || e.result, e.name || '(' || e.arguments || ')')
from expected as e order by e.name;

-- TEST: none of them is overloaded, so a call by name never turns ambiguous
select is((select count(*)::integer from pg_proc as p join expected as e on e.name = p.proname
           where p.pronamespace = 'pgrun'::regnamespace), 25, 'one function per name');

select finish();
rollback;
