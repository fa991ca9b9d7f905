begin;
select plan(5);
select pgrun_tests.reset();

-- SETUP: worker 1 runs three jobs (two in queues), worker 2 runs one, one is not claimed
select id as a_id from pgrun.add_job('t', queue_name => 'qa', run_at => now() - interval '5 minutes') \gset
select id as b_id from pgrun.add_job('t', queue_name => 'qb', run_at => now() - interval '4 minutes') \gset
select id as c_id from pgrun.add_job('t', run_at => now() - interval '3 minutes') \gset
select is((select count(*)::integer from pgrun.get_jobs(pgrun_tests.worker(1), max_jobs => 3)), 3,
  'setup: worker 1 claims three jobs');
select id as other_id from pgrun.add_job('t', queue_name => 'qo', run_at => now() - interval '2 minutes') \gset
select is((pgrun.get_job(pgrun_tests.worker(2))).id, :other_id::bigint, 'setup: worker 2 claims one job');
select id as idle_id from pgrun.add_job('t', run_at => now() + interval '1 hour') \gset

-- TEST: complete_held_jobs deletes the worker's jobs and returns their ids; others are skipped silently
select set_eq(
  format('select * from pgrun.complete_held_jobs(%L, array[%s, %s, %s, %s, %s, -1]::bigint[])',
         pgrun_tests.worker(1), :a_id, :b_id, :c_id, :other_id, :idle_id),
  format('values (%s::bigint), (%s), (%s)', :a_id, :b_id, :c_id),
  'only the ids worker 1 held are returned');
select set_eq($$select id from pgrun.jobs$$, format('values (%s::bigint), (%s)', :other_id, :idle_id),
  'worker 1''s jobs are deleted; worker 2''s and the unclaimed one remain');
select results_eq(
  $$select queue_name, running from pgrun._private_job_queues order by queue_name$$,
  $$values ('qa', 0), ('qb', 0), ('qo', 1)$$,
  'worker 1''s queues run nothing now; worker 2''s queue still runs its job');

select finish();
rollback;
