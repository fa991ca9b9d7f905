begin;
select plan(2);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- TEST: a retryable job names its failed attempt and the first line of the error, until its next run
select id as job_id from pgrun.add_job('t', max_attempts => 3) \gset
select pgrun_tests.claim(1, 1);
select pgrun.fail_attempts(pgrun_tests.worker(1), array[:job_id]::bigint[], array[pgrun_tests.lease(:job_id)],
                           array[E'connection refused\nTraceback (most recent call last): ...']);
select is((select reason from pgrun.explain_job(:job_id)),
  format('attempt 1 of 3 failed: "connection refused"; it runs again at %s', (select run_at from pgrun.jobs where id = :job_id)),
  'attempt n of m failed: "<first line of the error>"; when it runs again');
select results_eq(format('select state, until from pgrun.explain_job(%s)', :job_id),
  format('select state, run_at from pgrun.jobs where id = %s', :job_id), 'retryable until its run_at');

select finish();
rollback;
