begin;
select plan(8);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- SETUP: worker 1 runs a, b and c, each with attempts to spare
select id as a_id from pgrun.add_job('t', max_attempts => 5, run_at => now() - interval '3 minutes') \gset
select id as b_id from pgrun.add_job('t', queue_name => 'q', max_attempts => 5, run_at => now() - interval '2 minutes') \gset
select id as c_id from pgrun.add_job('t', max_attempts => 5, run_at => now() - interval '1 minute') \gset
select is((select count(*)::integer from pgrun_tests.claim(1, 3)), 3, 'setup: worker 1 claims three jobs');

-- TEST: permanent[i] true fails the job for good whatever attempts remain; false or null retries
select set_eq(
  format($$select job_id, outcome, attempts from pgrun.fail_attempts(%L,
             array[%s, %s, %s]::bigint[], array[%s, %s, %s]::bigint[], array['bad a', 'bad b', 'bad c'],
             array[true, false, null])$$,
         pgrun_tests.worker(1), :a_id, :b_id, :c_id, pgrun_tests.lease(:a_id), pgrun_tests.lease(:b_id),
         pgrun_tests.lease(:c_id)),
  format($$values (%s::bigint, 'failed', 1::smallint), (%s, 'retryable', 1::smallint), (%s, 'retryable', 1::smallint)$$,
         :a_id, :b_id, :c_id),
  'a failed permanently on its first attempt; b and c are retried');
select results_eq(format('select state, last_error, finished_at, errors -> 0 ->> ''error'' from pgrun.jobs where id = %s', :a_id),
  $$values ('failed', 'bad a', now(), 'bad a')$$, 'a is failed, finished, its error recorded');
select is((select running from pgrun._private_job_queues where queue_name = 'q'), 0, 'b''s queue runs nothing now');

-- TEST: without permanent (the four-argument call) every failure is retried
select id as d_id from pgrun.add_job('t', max_attempts => 5) \gset
select lease as d_lease from pgrun_tests.claim(1) \gset
select is((select outcome from pgrun.fail_attempts(pgrun_tests.worker(1), array[:d_id]::bigint[],
                                                    array[:d_lease]::bigint[], array['once'])),
  'retryable', 'the Graphile-style four-argument call still retries');

-- TEST: permanent longer than job_ids is refused; a permanent failure of a lost attempt stays lost
select throws_ok(format($$select * from pgrun.fail_attempts(%L, array[1]::bigint[], array[1]::bigint[], array['x'],
                                                             array[true, true])$$, pgrun_tests.worker(1)),
  '22023', 'permanent has 2 elements but job_ids has 1', 'more permanent flags than jobs: a clear error');
select is((select outcome from pgrun.fail_attempts(pgrun_tests.worker(1), array[:d_id]::bigint[],
                                                    array[:d_lease]::bigint[], array['again'], array[true])),
  'lost', 'a permanent failure of an attempt no longer held is lost');

-- TEST: a permanent failure of a job whose cancel was asked ends cancelled
select id as e_id from pgrun.add_job('t', max_attempts => 5) \gset
select lease as e_lease from pgrun_tests.claim(1) \gset
select pgrun.cancel_jobs(array[:e_id]::bigint[], 'stop');
select is((select outcome from pgrun.fail_attempts(pgrun_tests.worker(1), array[:e_id]::bigint[],
                                                    array[:e_lease]::bigint[], array['bad'], array[true])),
  'cancelled', 'cancelled wins over a permanent failure');

select finish();
rollback;
