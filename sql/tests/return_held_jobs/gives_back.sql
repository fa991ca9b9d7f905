begin;
select plan(7);
select pgrun_tests.reset();

-- SETUP: worker 1 claims two jobs (one in queue q, retried once before); worker 2 claims one
select id as a_id from pgrun.add_job('t', queue_name => 'q', run_at => now() - interval '3 minutes') \gset
select id as b_id from pgrun.add_job('t', run_at => now() - interval '2 minutes') \gset
select pgrun.reschedule_jobs(array[:b_id]::bigint[], attempts => 1);
select is((select count(*)::integer from pgrun.get_jobs(pgrun_tests.worker(1), max_jobs => 2)), 2,
  'setup: worker 1 claims two jobs');
select id as other_id from pgrun.add_job('t', queue_name => 'qo') \gset
select is((pgrun.get_job(pgrun_tests.worker(2))).id, :other_id::bigint, 'setup: worker 2 claims one job');

-- TEST: return_held_jobs unlocks the worker's jobs with the attempt given back
select set_eq(
  format('select * from pgrun.return_held_jobs(%L, array[%s, %s, %s]::bigint[])',
         pgrun_tests.worker(1), :a_id, :b_id, :other_id),
  format('values (%s::bigint), (%s)', :a_id, :b_id),
  'the ids worker 1 held are returned; worker 2''s is skipped');
select results_eq(
  format('select id, attempts, locked_at, locked_by, last_error from pgrun.jobs where id in (%s, %s) order by id',
         :a_id, :b_id),
  format('values (%s::bigint, 0::smallint, null::timestamptz, null::text, null::text), (%s, 1::smallint, null, null, null)',
         :a_id, :b_id),
  'both are unlocked with the attempts they had before the claim, and no error');
select results_eq(
  $$select queue_name, running from pgrun._private_job_queues order by queue_name$$,
  $$values ('q', 0), ('qo', 1)$$,
  'queue q runs nothing now; worker 2''s queue still runs its job');
select is((select locked_by from pgrun.jobs where id = :other_id), pgrun_tests.worker(2),
  'worker 2''s job is untouched');

-- TEST: a returned job can be claimed again at once
select set_eq($$select id from pgrun.get_jobs(pgrun_tests.worker(3), max_jobs => 5)$$,
  format('values (%s::bigint), (%s)', :a_id, :b_id),
  'worker 3 claims both returned jobs');

select finish();
rollback;
