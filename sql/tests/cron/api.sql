begin;
select plan(6);

-- TEST: the cron functions exist with the arguments the runner calls them with
select has_function('pgrun', 'cron_register', array['text[]', 'timestamp with time zone'],
  'cron_register(item_ids, now) exists');
select function_returns('pgrun', 'cron_register', array['text[]', 'timestamp with time zone'],
  'setof record', 'cron_register returns one row per item');
select has_function('pgrun', 'cron_enqueue_tick',
  array['text', 'timestamp with time zone', 'boolean', 'text', 'json', 'text', 'integer', 'text', 'text', 'integer'],
  'cron_enqueue_tick(item_id, ts, backfilled, identifier, payload, queue_name, max_attempts, job_key, job_key_mode, priority) exists');
select function_returns('pgrun', 'cron_enqueue_tick',
  array['text', 'timestamp with time zone', 'boolean', 'text', 'json', 'text', 'integer', 'text', 'text', 'integer'],
  'pgrun._private_jobs', 'cron_enqueue_tick returns a job row');

-- TEST: the bookkeeping table holds one row per item id
select has_table('pgrun', '_private_known_crontabs', 'the known-crontabs table exists');
select col_is_pk('pgrun', '_private_known_crontabs', 'item_id', 'item_id is its primary key');

select finish();
rollback;
