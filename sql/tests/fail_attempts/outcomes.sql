begin;
select plan(10);
select pgrun_tests.reset();
select pgrun_tests.register(n) from generate_series(1, 2) as n;

-- SETUP: worker 1 runs a (3 attempts, in queue q) and b (its last attempt); worker 2 runs c
select id as a_id from pgrun.add_job('t', queue_name => 'q', max_attempts => 3, run_at => now() - interval '3 minutes') \gset
select id as b_id from pgrun.add_job('t', max_attempts => 1, run_at => now() - interval '2 minutes') \gset
select is((select count(*)::integer from pgrun_tests.claim(1, 2)), 2, 'setup: worker 1 claims two jobs');
select id as c_id from pgrun.add_job('t') \gset
select is((select id from pgrun_tests.claim(2)), :c_id::bigint, 'setup: worker 2 claims one');

-- TEST: each id is answered: retryable with its retry time, failed on its
-- last attempt, lost when not this worker's attempt
select set_eq(
  format($$select job_id, outcome, run_at, attempts, max_attempts from pgrun.fail_attempts(%L,
             array[%s, %s, %s]::bigint[], array[%s, %s, %s]::bigint[], array['error a', 'error b', 'error c'])$$,
         pgrun_tests.worker(1), :a_id, :b_id, :c_id, pgrun_tests.lease(:a_id), pgrun_tests.lease(:b_id),
         pgrun_tests.lease(:c_id)),
  format($$values (%s::bigint, 'retryable', now() + interval '2.718282 seconds', 1::smallint, 3::smallint),
                  (%s, 'failed', now() - interval '2 minutes', 1::smallint, 1::smallint),
                  (%s, 'lost', null, null, null)$$, :a_id, :b_id, :c_id),
  'a is retryable, b failed, c (worker 2''s) lost');

-- TEST: a retryable job waits for its retry, unlocked, with its error
select results_eq(
  format('select state, run_at, locked_at, locked_by, last_error, finished_at from pgrun.jobs where id = %s', :a_id),
  $$values ('retryable', now() + interval '2.718282 seconds', null::timestamptz, null::text, 'error a', null::timestamptz)$$,
  'a: retryable at greatest(now, run_at) + e^1 s, unlocked, last_error set, not finished');
select is((select running from pgrun._private_job_queues where queue_name = 'q'), 0, 'a''s queue runs nothing now');

-- TEST: a failed job is final and kept (Graphile's behaviour: failed jobs stay)
select results_eq(
  format('select state, locked_by, last_error, finished_at, keep_until from pgrun.jobs where id = %s', :b_id),
  $$values ('failed', null::text, 'error b', now(), null::timestamptz)$$,
  'b: failed, finished now, kept until removed');
select is(pgrun_tests.state(:c_id), 'running', 'c still runs for worker 2');

-- TEST: retention can drop failed jobs at once
select pgrun.set_retention(null, interval '0', null);
select id as d_id from pgrun.add_job('t', max_attempts => 1) \gset
select lease as d_lease from pgrun_tests.claim(1) \gset
select is((select outcome from pgrun.fail_attempts(pgrun_tests.worker(1), array[:d_id]::bigint[],
                                                    array[:d_lease]::bigint[], array['gone'])),
  'failed', 'its last attempt failed');
select is_empty(format('select from pgrun.jobs where id = %s', :d_id), 'with a zero retention for failed jobs it is gone');

-- TEST: a retry is claimed at its run_at as the next attempt
select pgrun.record_heartbeat(pgrun_tests.worker(2), now => now() + interval '3 seconds');
select results_eq(format($$select id, attempts from pgrun.claim_jobs(%L, 1, now => now() + interval '3 seconds')$$,
                         pgrun_tests.worker(2)),
  format('values (%s::bigint, 2::smallint)', :a_id), 'a runs again as attempt 2 once its retry is due');

select finish();
rollback;
