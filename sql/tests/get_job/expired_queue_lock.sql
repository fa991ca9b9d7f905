begin;
select plan(7);
select pgrun_tests.reset();

-- SETUP: a worker that never registered claimed the head of queue "stale"
-- five hours ago and the head of queue "busy" one hour ago, then vanished;
-- each queue has a second job waiting
select id as stale_id from pgrun.add_job('t', queue_name => 'stale', run_at => now() - interval '6 hours') \gset
select id as stale_next_id from pgrun.add_job('t', queue_name => 'stale') \gset
select id as busy_id from pgrun.add_job('t', queue_name => 'busy', run_at => now() - interval '6 hours') \gset
select id as busy_next_id from pgrun.add_job('t', queue_name => 'busy') \gset
select is((select count(*)::integer from pgrun.get_jobs('vanished-worker', now => now() - interval '5 hours',
  max_jobs => 2)), 2, 'setup: the vanished worker claimed both heads');
select pgrun_tests.age_lock(:busy_id, interval '-4 hours');

-- TEST: a lock older than job_expiry frees its queue: the released job runs
-- again first, with its attempt counted
select is((pgrun.get_job(pgrun_tests.worker(1))).id, :stale_id::bigint,
  'the job of the expired lock is claimed again, ahead of the next job of its queue');
select results_eq(
  format('select attempts, locked_by from pgrun.jobs where id = %s', :stale_id),
  format($$values (2::smallint, %L)$$, pgrun_tests.worker(1)),
  'it runs as its second attempt, for the new worker');
select results_eq(
  $$select queue_name, running from pgrun._private_job_queues order by queue_name$$,
  $$values ('busy', 1), ('stale', 1)$$,
  'each queue counts exactly one running job');

-- TEST: a younger lock keeps its queue full
select ok((pgrun.get_job(pgrun_tests.worker(2))).id is null,
  'nothing is claimable: busy is full and stale is taken');
select is((pgrun.get_job(pgrun_tests.worker(2), job_expiry => interval '30 minutes')).id, :busy_id::bigint,
  'with a 30 minute expiry the one-hour-old lock has expired too');

-- TEST: get_jobs follows the same rule
select pgrun.return_held_jobs(pgrun_tests.worker(2), array[:busy_id]::bigint[]);
select pgrun.get_job('vanished-worker', now => now() - interval '5 hours');
select is((select array_agg(id) from pgrun.get_jobs(pgrun_tests.worker(3), max_jobs => 10)), array[:busy_id]::bigint[],
  'get_jobs claims the job of a queue whose lock expired, never the job behind it');

select finish();
rollback;
