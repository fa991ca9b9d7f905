begin;
select plan(7);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- TEST: a keyed job that waits (scheduled, retryable) or failed is deleted and returned
select pgrun.add_job('t', job_key => 'k-scheduled', run_at => now() + interval '1 hour');
select is((pgrun.remove_job('k-scheduled')).state, 'scheduled', 'a scheduled job is removed');
select id as retry_id from pgrun.add_job('t', job_key => 'k-retry', run_at => now() + interval '1 hour') \gset
select pgrun.reschedule_jobs(array[:retry_id]::bigint[], attempts => 1);
select is((pgrun.remove_job('k-retry')).state, 'retryable', 'a retryable job is removed');
select id as failed_id from pgrun.add_job('t', job_key => 'k-failed') \gset
select pgrun.permanently_fail_jobs(array[:failed_id]::bigint[]);
select is((pgrun.remove_job('k-failed')).state, 'failed', 'a failed job, which keeps its key, is removed');
select is((select count(*)::integer from pgrun.jobs), 0, 'all three are gone');

-- TEST: a kept completed job no longer holds its key: remove_job finds nothing
select pgrun.set_retention(interval '1 day', null, null);
select id as done_id from pgrun.add_job('t', job_key => 'k-done') \gset
select pgrun.complete_attempts(pgrun_tests.worker(1), array[c.id], array[c.lease]) from pgrun_tests.claim(1) as c;
select ok(pgrun.remove_job('k-done') is null, 'remove_job of a completed job''s key returns null');
select is(pgrun_tests.state(:done_id), 'completed', 'the completed job stays for its retention');

-- TEST: a running job loses its key and its retries, and keeps running
select id as running_id from pgrun.add_job('t', job_key => 'k-running', max_attempts => 3) \gset
select pgrun_tests.claim(1);
select results_eq(format('select state, key, attempts, max_attempts from pgrun.jobs where id = %s', (pgrun.remove_job('k-running')).id),
  $$values ('running', null::text, 3::smallint, 3::smallint)$$, 'the running job is returned without its key, attempts used up');

select finish();
rollback;
