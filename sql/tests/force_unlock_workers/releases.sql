begin;
select plan(6);
select pgrun_tests.reset();

-- SETUP: workers 1 and 2 each run a queued and an unqueued job; worker 3 runs one
select id as q1_id from pgrun.add_job('w1', queue_name => 'q1') \gset
select id as u1_id from pgrun.add_job('w1') \gset
select id as q2_id from pgrun.add_job('w2', queue_name => 'q2') \gset
select id as u2_id from pgrun.add_job('w2') \gset
select id as q3_id from pgrun.add_job('w3', queue_name => 'q3') \gset
select is((select count(*)::integer from pgrun.get_jobs(pgrun_tests.worker(1), array['w1'], max_jobs => 5)), 2,
  'setup: worker 1 runs two jobs');
select is((select count(*)::integer from pgrun.get_jobs(pgrun_tests.worker(2), array['w2'], max_jobs => 5)), 2,
  'setup: worker 2 runs two jobs');
select is((pgrun.get_job(pgrun_tests.worker(3), array['w3'])).id, :q3_id::bigint, 'setup: worker 3 runs one job');

-- TEST: force_unlock_workers releases every job and queue of the given workers only
select pgrun.force_unlock_workers(array[pgrun_tests.worker(1), pgrun_tests.worker(2), 'never-seen-worker']);
select results_eq(
  $$select task_identifier, locked_at is null, attempts from pgrun.jobs order by id$$,
  $$values ('w1', true, 1::smallint), ('w1', true, 1::smallint), ('w2', true, 1::smallint),
           ('w2', true, 1::smallint), ('w3', false, 1::smallint)$$,
  'the jobs of workers 1 and 2 are unlocked with their attempts still counted; worker 3''s is not');
select results_eq(
  $$select queue_name, running from pgrun._private_job_queues order by queue_name$$,
  $$values ('q1', 0), ('q2', 0), ('q3', 1)$$,
  'the queues of workers 1 and 2 run nothing now; worker 3''s still runs its job');
select set_eq($$select id from pgrun.get_jobs(pgrun_tests.worker(4), max_jobs => 10)$$,
  format('values (%s::bigint), (%s), (%s), (%s)', :q1_id, :u1_id, :q2_id, :u2_id),
  'another worker claims all four released jobs');

select finish();
rollback;
