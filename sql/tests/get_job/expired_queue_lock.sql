begin;
select plan(5);
select pgrun_tests.reset();

-- SETUP: queues whose lock a vanished worker left behind, five hours and one hour ago
select id as stale_id from pgrun.add_job('t', queue_name => 'stale') \gset
select id as busy_id from pgrun.add_job('t', queue_name => 'busy') \gset
update pgrun._private_job_queues
set locked_at = now() - interval '5 hours', locked_by = 'vanished-worker'
where queue_name = 'stale';
update pgrun._private_job_queues
set locked_at = now() - interval '1 hour', locked_by = 'vanished-worker'
where queue_name = 'busy';

-- TEST: a queue lock older than job_expiry is treated as free
select is((pgrun.get_job(pgrun_tests.worker(1))).id, :stale_id::bigint, 'the job of the stale queue is claimed');
select results_eq(
  $$select locked_at, locked_by from pgrun._private_job_queues where queue_name = 'stale'$$,
  format($$values (now(), %L)$$, pgrun_tests.worker(1)),
  'the queue now belongs to the claiming worker');

-- TEST: a younger queue lock blocks its queue
select ok((pgrun.get_job(pgrun_tests.worker(2))).id is null, 'the busy queue''s job is not claimed');
select is((pgrun.get_job(pgrun_tests.worker(2), job_expiry => interval '30 minutes')).id, :busy_id::bigint,
  'with a 30 minute expiry the one-hour-old queue lock is stale too');

-- TEST: get_jobs follows the same rule
select pgrun.return_held_jobs(pgrun_tests.worker(2), array[:busy_id]::bigint[]);
update pgrun._private_job_queues
set locked_at = now() - interval '5 hours', locked_by = 'vanished-worker'
where queue_name = 'busy';
select is((select array_agg(id) from pgrun.get_jobs(pgrun_tests.worker(3), max_jobs => 10)), array[:busy_id]::bigint[],
  'get_jobs claims the job of a queue with an expired lock');

select finish();
rollback;
