begin;
select plan(9);

-- TEST: add_job and add_jobs keep Graphile Worker's names, argument names,
-- argument order and defaults, so callers written for graphile_worker work;
-- add_job's timeout, meta, depends_on and limit_keys come last.
select has_function('pgrun', 'add_job',
  array['text', 'json', 'text', 'timestamp with time zone', 'integer', 'text', 'integer', 'text[]', 'text',
        'interval', 'jsonb', 'bigint[]', 'text[]'],
  'add_job(identifier, payload, queue_name, run_at, max_attempts, job_key, priority, flags, job_key_mode, timeout, meta, depends_on, limit_keys) exists');
select is(pg_get_function_arguments('pgrun.add_job'::regproc),
  'identifier text, payload json DEFAULT NULL::json, queue_name text DEFAULT NULL::text, '
  'run_at timestamp with time zone DEFAULT NULL::timestamp with time zone, '
  'max_attempts integer DEFAULT NULL::integer, job_key text DEFAULT NULL::text, '
  'priority integer DEFAULT NULL::integer, flags text[] DEFAULT NULL::text[], '
  'job_key_mode text DEFAULT ''replace''::text, timeout interval DEFAULT NULL::interval, '
  'meta jsonb DEFAULT NULL::jsonb, depends_on bigint[] DEFAULT NULL::bigint[], limit_keys text[] DEFAULT NULL::text[]',
  'add_job has Graphile''s argument names and defaults (job_key_mode defaults to replace), then timeout, meta, depends_on and limit_keys');
select function_returns('pgrun', 'add_job',
  array['text', 'json', 'text', 'timestamp with time zone', 'integer', 'text', 'integer', 'text[]', 'text',
        'interval', 'jsonb', 'bigint[]', 'text[]'],
  'pgrun._private_jobs', 'add_job returns one job row');

select has_function('pgrun', 'add_jobs', array['pgrun.job_spec[]', 'boolean'],
  'add_jobs(specs, job_key_preserve_run_at) exists');
select is(pg_get_function_arguments('pgrun.add_jobs'::regproc),
  'specs pgrun.job_spec[], job_key_preserve_run_at boolean DEFAULT false',
  'add_jobs has Graphile''s argument names and defaults');
select function_returns('pgrun', 'add_jobs', array['pgrun.job_spec[]', 'boolean'],
  'setof pgrun._private_jobs', 'add_jobs returns a set of job rows');

-- TEST: job_spec has Graphile's attributes, names, order and types, then
-- depends_on (schema 9) and limit_keys (schema 10). Graphile's own client builds specs with
-- json_populate_recordset, which fills a missing attribute with null.
select has_type('pgrun', 'job_spec', 'type job_spec exists');
select is(
  (select array_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) order by a.attnum)
   from pg_catalog.pg_attribute as a
   where a.attrelid = (select typrelid from pg_catalog.pg_type where oid = 'pgrun.job_spec'::regtype)
     and a.attnum > 0 and not a.attisdropped),
  array['identifier text', 'payload json', 'queue_name text', 'run_at timestamp with time zone',
        'max_attempts smallint', 'job_key text', 'priority smallint', 'flags text[]', 'depends_on bigint[]',
        'limit_keys text[]'],
  'job_spec is (identifier, payload json, queue_name, run_at, max_attempts smallint, job_key, priority smallint, flags text[], depends_on bigint[], limit_keys text[])');
select is((select count(*) from pgrun.add_jobs(array(select s from json_populate_recordset(null::pgrun.job_spec,
    '[{"identifier": "t", "payload": {}, "queue_name": null, "run_at": null, "max_attempts": 3, "job_key": null, "priority": 1, "flags": null}]') as s))),
  1::bigint, 'a spec of Graphile''s eight attributes, as JSON, still adds a job');

select finish();
rollback;
