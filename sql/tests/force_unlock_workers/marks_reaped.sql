begin;
select plan(6);
select pgrun_tests.reset();

-- SETUP: registered worker 1 runs a job of queue q; worker 2 is registered and holds nothing
select pgrun_tests.register(n) from generate_series(1, 2) as n;
select id as job_id from pgrun.add_job('t', queue_name => 'q', max_attempts => 1) \gset
select is((select id from pgrun_tests.claim(1)), :job_id::bigint, 'setup: worker 1 runs the job');

-- TEST: a registered worker that an admin force-unlocks is marked reaped, by an admin
select pgrun.force_unlock_workers(array[pgrun_tests.worker(1), pgrun_tests.worker(2)]);
select results_eq(
  $$select worker_id, reaped_at, reaped_by, idle_since from pgrun._private_workers order by worker_id$$,
  format($$values (%L, now(), null::text, null::timestamptz), (%L, now(), null, null)$$,
         pgrun_tests.worker(1), pgrun_tests.worker(2)),
  'both rows are marked reaped at now, by nobody (an admin)');

-- TEST: its jobs are released with a message naming the worker; the attempt counts
select results_eq(format('select state, last_error from pgrun.jobs where id = %s', :job_id),
  format($$values ('failed', 'worker %s was force-unlocked by an admin')$$, pgrun_tests.worker(1)),
  'the job, whose only attempt was lost, failed with that message');
select is((select running from pgrun._private_job_queues where queue_name = 'q'), 0, 'q runs nothing');

-- TEST: if the worker was in fact alive, it learns at its next beat
select throws_ok(format('select pgrun.heartbeat(%L)', pgrun_tests.worker(1)),
  'PGR01', format('worker %s was presumed dead by an admin at %s and its jobs were released; register again under a new id',
                  pgrun_tests.worker(1), now()),
  'its beat is refused');

-- TEST: force-unlocking again changes nothing
select pgrun.force_unlock_workers(array[pgrun_tests.worker(1)]);
select is((select reaped_at from pgrun._private_workers where worker_id = pgrun_tests.worker(1)), now(),
  'the first mark stays');

select finish();
rollback;
