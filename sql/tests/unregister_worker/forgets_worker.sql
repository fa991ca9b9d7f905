begin;
select plan(5);
select pgrun_tests.reset();

-- SETUP: workers 1 and 2 are registered and each runs a job in its own queue
select pgrun.record_heartbeat(pgrun_tests.worker(1));
select pgrun.record_heartbeat(pgrun_tests.worker(2));
select id as a_id from pgrun.add_job('w1', queue_name => 'q1') \gset
select id as b_id from pgrun.add_job('w2', queue_name => 'q2') \gset
select is((pgrun.get_job(pgrun_tests.worker(1), array['w1'])).id, :a_id::bigint, 'setup: worker 1 runs a job');
select is((pgrun.get_job(pgrun_tests.worker(2), array['w2'])).id, :b_id::bigint, 'setup: worker 2 runs a job');

-- TEST: unregister_worker forgets the worker and frees whatever it still holds
select pgrun.unregister_worker(pgrun_tests.worker(1));
select set_eq($$select worker_id from pgrun._private_workers$$, format('values (%L)', pgrun_tests.worker(2)),
  'worker 1 is forgotten; worker 2 is not');
select results_eq(
  $$select id, locked_by, attempts from pgrun.jobs order by id$$,
  format('values (%s::bigint, null::text, 1::smallint), (%s, %L, 1::smallint)', :a_id, :b_id, pgrun_tests.worker(2)),
  'worker 1''s job is unlocked (its attempt counted); worker 2''s is not');
select results_eq(
  $$select queue_name, running from pgrun._private_job_queues order by queue_name$$,
  $$values ('q1', 0), ('q2', 1)$$,
  'worker 1''s queue runs nothing now; worker 2''s still runs its job');

select finish();
rollback;
