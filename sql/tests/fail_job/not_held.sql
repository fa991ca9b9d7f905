begin;
select plan(5);
select pgrun_tests.reset();

-- SETUP: worker 1 runs a job of queue q; another job was never claimed
select id as job_id from pgrun.add_job('t', queue_name => 'q') \gset
select id as idle_id from pgrun.add_job('t', run_at => now() + interval '1 hour') \gset
select is((pgrun.get_job(pgrun_tests.worker(1))).id, :job_id::bigint, 'setup: worker 1 claims the job');

-- TEST: a worker may not fail a job another worker holds
select throws_ok(format($$select pgrun.fail_job(%L, %s, 'boom')$$, pgrun_tests.worker(2), :job_id),
  '55000', format('job %s is not held by worker %L', :job_id, pgrun_tests.worker(2)),
  'worker 2 is refused');
select results_eq(
  format('select locked_by, last_error, run_at from pgrun.jobs where id = %s', :job_id),
  format('values (%L, null::text, now())', pgrun_tests.worker(1)),
  'the job is untouched: still worker 1''s, no error, same run_at');
select is((select running from pgrun._private_job_queues where queue_name = 'q'), 1,
  'queue q still runs worker 1''s job');

-- TEST: nor fail a job nobody holds
select throws_ok(format($$select pgrun.fail_job(%L, %s, 'boom')$$, pgrun_tests.worker(1), :idle_id),
  '55000', format('job %s is not held by worker %L', :idle_id, pgrun_tests.worker(1)),
  'an unclaimed job is refused');

select finish();
rollback;
