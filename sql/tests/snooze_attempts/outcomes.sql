begin;
select plan(12);
select pgrun_tests.reset();
select pgrun_tests.register(n) from generate_series(1, 2) as n;

-- SETUP: worker 1 runs a (in queue q, with an error from an earlier attempt) and b (its last attempt); worker 2 runs c
select id as a_id from pgrun.add_job('t', queue_name => 'q', max_attempts => 3, run_at => now() - interval '3 minutes') \gset
select lease as a_lease0 from pgrun_tests.claim(1) \gset
select from pgrun.fail_attempts(pgrun_tests.worker(1), array[:a_id]::bigint[], array[:a_lease0]::bigint[], array['first']);
select id as b_id from pgrun.add_job('t', max_attempts => 1, run_at => now() - interval '2 minutes') \gset
select is((select count(*)::integer from pgrun_tests.claim(1, 2, now => now() + interval '5 seconds')), 2,
  'setup: worker 1 claims a (its retry due: attempt 2) and b');
select id as c_id from pgrun.add_job('t') \gset
select is((select id from pgrun_tests.claim(2)), :c_id::bigint, 'setup: worker 2 claims c');

-- TEST: each id is answered: scheduled at now + delay, available for a zero delay, lost when not ours
select set_eq(
  format($$select job_id, outcome, run_at from pgrun.snooze_attempts(%L,
             array[%s, %s, %s]::bigint[], array[%s, %s, %s]::bigint[],
             array[interval '10 minutes', interval '0', interval '1 minute'])$$,
         pgrun_tests.worker(1), :a_id, :b_id, :c_id, pgrun_tests.lease(:a_id), pgrun_tests.lease(:b_id),
         pgrun_tests.lease(:c_id)),
  format($$values (%s::bigint, 'scheduled', now() + interval '10 minutes'), (%s, 'available', now()),
                  (%s, 'lost', null::timestamptz)$$, :a_id, :b_id, :c_id),
  'a is scheduled in 10 minutes, b available at once, c (worker 2''s) lost');

-- TEST: a snooze uses up no attempt and records no error
select results_eq(
  format('select state, attempts, last_error, jsonb_array_length(errors), locked_by, finished_at from pgrun.jobs where id = %s', :a_id),
  $$values ('scheduled', 1::smallint, 'first', 1, null::text, null::timestamptz)$$,
  'a: scheduled, back to 1 attempt, its earlier error kept and no new one, unlocked, not finished');
select results_eq(format('select state, attempts from pgrun.jobs where id = %s', :b_id),
  $$values ('available', 0::smallint)$$, 'b: available, its last attempt given back (it may run again)');
select is((select running from pgrun._private_job_queues where queue_name = 'q'), 0, 'a''s queue runs nothing now');
select is(pgrun_tests.state(:c_id), 'running', 'c still runs for worker 2');

-- TEST: a snoozed job runs again once due, as the attempt it would have been
select pgrun_tests.beat_steadily(1, now(), now() + interval '11 minutes');
select results_eq(format($$select id, attempts from pgrun.claim_jobs(%L, 2, now => now() + interval '11 minutes')
                           where id = %s$$, pgrun_tests.worker(1), :a_id),
  format('values (%s::bigint, 2::smallint)', :a_id), 'a is claimed again as attempt 2 once due');

-- TEST: bad input: null arrays, mismatched lengths, negative or null delays
select throws_ok(format($$select * from pgrun.snooze_attempts(%L, null, array[1]::bigint[], array[interval '1s'])$$,
                        pgrun_tests.worker(1)),
  '22004', 'job_ids, leases and delays must not be null', 'null job_ids are refused');
select throws_ok(format($$select * from pgrun.snooze_attempts(%L, array[1]::bigint[], array[1]::bigint[], null)$$,
                        pgrun_tests.worker(1)),
  '22004', 'job_ids, leases and delays must not be null', 'null delays are refused');
select throws_ok(format($$select * from pgrun.snooze_attempts(%L, array[1, 2]::bigint[], array[1, 2]::bigint[],
                                                               array[interval '1s'])$$, pgrun_tests.worker(1)),
  '22023', 'job_ids, leases and delays must have as many elements (got 2, 2 and 1)', 'mismatched lengths are refused');
select throws_ok(format($$select * from pgrun.snooze_attempts(%L, array[%s]::bigint[], array[%s]::bigint[],
                                                               array[interval '-1 second'])$$,
                        pgrun_tests.worker(2), :c_id, pgrun_tests.lease(:c_id)),
  '22023', 'delays must not be null or negative (got {-00:00:01})', 'a negative delay is refused');

select finish();
rollback;
