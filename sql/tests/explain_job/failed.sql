begin;
select plan(2);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- TEST: a failed job used up its attempts: how many, and the last error's first line
select id as job_id from pgrun.add_job('t', max_attempts => 1) \gset
select pgrun_tests.claim(1, 1);
select pgrun.fail_attempts(pgrun_tests.worker(1), array[:job_id]::bigint[], array[pgrun_tests.lease(:job_id)],
                           array[E'bad payload\n  at line 3']);
select is((select reason from pgrun.explain_job(:job_id)),
  format('failed at %s after 1 of 1 attempts: "bad payload"', (select finished_at from pgrun.jobs where id = :job_id)),
  'failed at T after n of m attempts: "<error>"');
select is((select until from pgrun.explain_job(:job_id)), null, 'kept until removed (no retention rule)');

select finish();
rollback;
