begin;
select plan(15);

-- TEST: the claim reads only what it can take: partial indexes by state
select is(pg_get_indexdef('pgrun.jobs_available'::regclass),
  'CREATE INDEX jobs_available ON pgrun._private_jobs USING btree (task_identifier, priority, run_at, id) WHERE ((state = ''available''::text) AND (queue_name IS NULL))',
  'unqueued available jobs, per task, in claim order');
select is(pg_get_indexdef('pgrun.jobs_available_queued'::regclass),
  'CREATE INDEX jobs_available_queued ON pgrun._private_jobs USING btree (queue_name, priority, run_at, id) WHERE ((state = ''available''::text) AND (queue_name IS NOT NULL))',
  'a queue''s available jobs, in claim order');
select is(pg_get_indexdef('pgrun.jobs_due'::regclass),
  'CREATE INDEX jobs_due ON pgrun._private_jobs USING btree (task_identifier, run_at) WHERE (state = ANY (ARRAY[''scheduled''::text, ''retryable''::text]))',
  'waiting jobs per task by run_at, for promotion and next_due_in');
select is(pg_get_indexdef('pgrun.jobs_running'::regclass),
  'CREATE INDEX jobs_running ON pgrun._private_jobs USING btree (locked_by, id) WHERE (state = ''running''::text)',
  'running jobs by worker (fault 12: "jobs I hold" is an index scan)');
select is(pg_get_indexdef('pgrun.jobs_key'::regclass),
  'CREATE UNIQUE INDEX jobs_key ON pgrun._private_jobs USING btree (key) WHERE ((key IS NOT NULL) AND (state <> ALL (ARRAY[''completed''::text, ''cancelled''::text])))',
  'one live job per key; kept completed and cancelled jobs do not hold theirs');
select is(pg_get_indexdef('pgrun.jobs_expiring'::regclass),
  'CREATE INDEX jobs_expiring ON pgrun._private_jobs USING btree (keep_until) WHERE (keep_until IS NOT NULL)',
  'final jobs by the end of their retention');

-- TEST: every job is in one known state, and the columns agree with it
select col_not_null('pgrun', '_private_jobs', 'state', 'state is never null');
select throws_ok($$insert into pgrun._private_jobs (task_identifier, state) values ('t', 'lost')$$,
  '23514', 'new row for relation "_private_jobs" violates check constraint "jobs_state_known"',
  'an unknown state is refused');
select throws_ok($$insert into pgrun._private_jobs (task_identifier, state) values ('t', 'running')$$,
  '23514', 'new row for relation "_private_jobs" violates check constraint "jobs_running_is_locked"',
  'a running job must be locked');
select throws_ok($$insert into pgrun._private_jobs (task_identifier, state) values ('t', 'failed')$$,
  '23514', 'new row for relation "_private_jobs" violates check constraint "jobs_finished_when_final"',
  'a final job must say when it finished');

-- TEST: the small hot tables leave room for HOT updates and are vacuumed often (fault 13)
select ok((select reloptions @> array['fillfactor=50'] from pg_class where oid = 'pgrun._private_workers'::regclass),
  'workers: fillfactor 50');
select ok((select reloptions @> array['fillfactor=70'] from pg_class where oid = 'pgrun._private_job_queues'::regclass),
  'job queues: fillfactor 70');
select ok((select relkind = 'S' from pg_class where oid = 'pgrun._private_last_nudge'::regclass),
  'the last nudge is a sequence: recording it writes no row and takes no lock');
select ok((select reloptions @> array['autovacuum_vacuum_scale_factor=0.02']
           and not reloptions::text like '%fillfactor%' from pg_class where oid = 'pgrun._private_jobs'::regclass),
  'jobs: default fillfactor (no update of it is HOT), vacuumed after 2 % of changes');
select ok((select reloptions @> array['autovacuum_vacuum_scale_factor=0.0']
           from pg_class where oid = 'pgrun._private_queue_heads'::regclass),
  'queue heads: vacuumed by row count');

select finish();
rollback;
