begin;
select plan(4);
select pgrun_tests.reset();

-- TEST: null is refused
select throws_ok($$select pgrun.retry_jobs(null)$$, '22004', 'job_ids must not be null', 'retry_jobs refuses null');

-- TEST: a cancelled job whose key another job took meanwhile is not retried, and the error names both
select id as old_id from pgrun.add_job('t', job_key => 'k', run_at => now() + interval '1 hour') \gset
select pgrun.cancel_jobs(array[:old_id]::bigint[]);
select id as new_id from pgrun.add_job('t', job_key => 'k') \gset
select throws_ok(format('select pgrun.retry_jobs(array[%s]::bigint[])', :old_id), '23505',
  format('job %s cannot be retried: its key ''k'' now belongs to job %s', :old_id, :new_id),
  'retry_jobs names the job, its key and the job that holds it');
select is(pgrun_tests.state(:old_id), 'cancelled', 'the cancelled job stays cancelled');

-- TEST: two cancelled jobs of one key cannot both come back
select pgrun.cancel_jobs(array[:new_id]::bigint[]);
select throws_ok(format('select pgrun.retry_jobs(array[%s, %s]::bigint[])', :old_id, :new_id), '23505', null,
  'retrying two cancelled jobs of one key is refused');

select finish();
rollback;
