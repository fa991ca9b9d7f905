begin;
select plan(12);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- SETUP: a failed job (two attempts, errors kept), a cancelled queued job, and
-- jobs in every other state
select id as f_id from pgrun.add_job('t', max_attempts => 2, run_at => now() - interval '1 hour') \gset
select pgrun_tests.claim(1, 1);
select pgrun.fail_attempts(pgrun_tests.worker(1), array[:f_id]::bigint[], array[pgrun_tests.lease(:f_id)], array['boom 1']);
update pgrun._private_jobs set run_at = now() - interval '1 minute', state = 'available' where id = :f_id;
select pgrun_tests.claim(1, 1);
select pgrun.fail_attempts(pgrun_tests.worker(1), array[:f_id]::bigint[], array[pgrun_tests.lease(:f_id)], array['boom 2']);
select is(pgrun_tests.state(:f_id), 'failed', 'setup: the job failed its two attempts');
select id as c_id from pgrun.add_job('t', queue_name => 'q', run_at => now() + interval '1 hour', job_key => 'k') \gset
select pgrun.cancel_jobs(array[:c_id]::bigint[], 'by mistake');
select id as s_id from pgrun.add_job('t', run_at => now() + interval '1 hour') \gset
select id as r_id from pgrun.add_job('t', queue_name => 'busy', run_at => now() - interval '1 day') \gset
select pgrun_tests.claim(1, 1);
select is(pgrun_tests.state(:r_id), 'running', 'setup: one job runs');

-- TEST: failed and cancelled jobs are retried; others (and unknown ids) left alone
select results_eq(format('select id from pgrun.retry_jobs(array[%s, %s, %s, %s, -1]::bigint[]) order by id',
                         :f_id, :c_id, :s_id, :r_id),
  format('values (%s::bigint), (%s)', least(:f_id, :c_id), greatest(:f_id, :c_id)),
  'retry_jobs returns the failed and the cancelled job');
select is(pgrun_tests.state(:s_id), 'scheduled', 'the scheduled job is left alone');
select is(pgrun_tests.state(:r_id), 'running', 'the running job is left alone');

-- TEST: what a retried job looks like
select results_eq(format($$select state, attempts::int, run_at <= now(), finished_at, keep_until, last_error,
                                  jsonb_array_length(errors) from pgrun.jobs where id = %s$$, :f_id),
  $$values ('available', 0, true, null::timestamptz, null::timestamptz, 'boom 2', 2)$$,
  'the failed job: available now, attempts 0, no end; last_error and its errors kept');
select results_eq(format($$select state, attempts::int, run_at <= now(), cancel_requested_at, cancel_reason, key
                           from pgrun.jobs where id = %s$$, :c_id),
  $$values ('available', 0, true, null::timestamptz, null::text, 'k')$$,
  'the cancelled job: available now, its cancel request forgotten, its key back');
select is((select array_agg(job_id) from pgrun_tests.listed() where queue_name = 'q'), array[:c_id]::bigint[],
  'its queue lists it for the claim');
select ok(pgrun_tests.counters_exact(), 'queue counters are exact');
select results_eq($$select id from pgrun_tests.claim(1, 10) order by id$$,
  format('values (%s::bigint), (%s)', least(:f_id, :c_id), greatest(:f_id, :c_id)),
  'a claim takes both at once');

-- TEST: nothing to retry is no error
select is_empty($$select from pgrun.retry_jobs('{}')$$, 'an empty array retries nothing');
select is_empty($$select from pgrun.retry_jobs(array[null]::bigint[])$$, 'nor does an array of null');

select finish();
rollback;
