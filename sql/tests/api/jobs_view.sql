begin;
select plan(3);

-- TEST: the jobs view starts with Graphile Worker's columns in Graphile's
-- order; pgrun's own columns come after them.
select has_view('pgrun', 'jobs', 'view jobs exists');
select is(
  (select array_agg(c.column_name::text order by c.ordinal_position)
   from information_schema.columns as c
   where c.table_schema = 'pgrun' and c.table_name = 'jobs' and c.ordinal_position <= 15),
  array['id', 'queue_name', 'task_identifier', 'priority', 'run_at', 'attempts', 'max_attempts',
        'last_error', 'created_at', 'updated_at', 'key', 'locked_at', 'locked_by', 'revision', 'flags'],
  'jobs begins with id, queue_name, task_identifier, priority, run_at, attempts, max_attempts, '
  'last_error, created_at, updated_at, key, locked_at, locked_by, revision, flags');
select is(
  (select array_agg(c.column_name::text order by c.ordinal_position)
   from information_schema.columns as c
   where c.table_schema = 'pgrun' and c.table_name = 'jobs' and c.ordinal_position > 15),
  array['payload', 'errors', 'state', 'finished_at', 'keep_until', 'result', 'cancel_requested_at', 'cancel_reason',
        'timeout', 'dead_letter_job_id', 'meta', 'depends_on', 'parent_results', 'workflow_id', 'limit_keys',
        'base_priority'],
  'jobs then shows payload, the errors history, the state, when it finished, until when it is kept, its result, '
  'whether and why its cancel was asked, its timeout, its dead letter, its meta, the jobs it depends on, '
  'their results, its workflow, its limit keys and its own priority when aging changed it');

select finish();
rollback;
