begin;
select plan(7);
select pgrun_tests.reset();

-- SETUP: worker 1 runs a job of queue q; a second job was never claimed
select id as job_id from pgrun.add_job('t', queue_name => 'q', run_at => now() - interval '1 minute') \gset
select id as idle_id from pgrun.add_job('t', run_at => now() + interval '1 hour') \gset
select is((pgrun.get_job(pgrun_tests.worker(1))).id, :job_id::bigint, 'setup: worker 1 claims the job');

-- TEST: a worker may not complete a job another worker holds
select throws_ok(format('select pgrun.complete_job(%L, %s)', pgrun_tests.worker(2), :job_id),
  '55000', format('job %s is not held by worker %L', :job_id, pgrun_tests.worker(2)),
  'worker 2 is refused');
select results_eq(
  format('select locked_by from pgrun.jobs where id = %s', :job_id),
  format('values (%L)', pgrun_tests.worker(1)),
  'the job still exists and still belongs to worker 1');
select is((select running from pgrun._private_job_queues where queue_name = 'q'), 1,
  'queue q still runs worker 1''s job');

-- TEST: nor complete a job nobody holds, or a job that does not exist
select throws_ok(format('select pgrun.complete_job(%L, %s)', pgrun_tests.worker(1), :idle_id),
  '55000', format('job %s is not held by worker %L', :idle_id, pgrun_tests.worker(1)),
  'an unclaimed job is refused');
select throws_ok(format('select pgrun.complete_job(%L, %s)', pgrun_tests.worker(1), -1),
  '55000', format('job -1 is not held by worker %L', pgrun_tests.worker(1)),
  'an unknown job id is refused');
select is((select count(*)::integer from pgrun.jobs), 2, 'both jobs are still there');

select finish();
rollback;
