begin;
select plan(10);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- SETUP: worker 1 runs a (timeout 90 s, attempts to spare, in queue q), b (timeout 1 s, its last attempt)
-- and c (no timeout); all started 10 minutes ago
select id as a_id from pgrun.add_job('t', queue_name => 'q', max_attempts => 3, timeout => interval '90 seconds') \gset
select id as b_id from pgrun.add_job('t', max_attempts => 1, timeout => interval '1.7 seconds') \gset
select id as c_id from pgrun.add_job('t') \gset
select is((select count(*)::integer from pgrun_tests.claim(1, 3)), 3, 'setup: worker 1 claims three jobs');

-- TEST: the message is the runner's: "timed out after N s", N in whole seconds
select is(pgrun._timeout_message(interval '90 seconds'), 'timed out after 90 s', '90 s');
select is(pgrun._timeout_message(interval '1.7 seconds'), 'timed out after 1 s', 'whole seconds, cut down');
select is(pgrun._timeout_message(interval '0.2 seconds'), 'timed out after 1 s', 'never 0 s');

-- TEST: within timeout + grace (30 s by default) nothing is ended
select is(pgrun._time_out_attempts(now() + interval '119 seconds'), 1, 'at 119 s only b (1.7 s + 30 s) is past its grace');
select results_eq(format('select state, last_error from pgrun.jobs where id = %s', :b_id),
  $$values ('failed', 'timed out after 1 s')$$, 'b, on its last attempt, failed with the timeout''s message');

-- TEST: past timeout + grace, a job with attempts left is retried by its policy
select is((select rows from pgrun.maintain(now => now() + interval '121 seconds') where task = 'timed out attempts ended'),
  1, 'maintain ends a, past 90 s + 30 s');
select results_eq(format('select state, last_error, attempts, locked_by from pgrun.jobs where id = %s', :a_id),
  $$values ('retryable', 'timed out after 90 s', 1::smallint, null::text)$$, 'a is retryable with the message, unlocked');
select is(pgrun_tests.state(:c_id), 'running', 'c, without a timeout, runs on');

-- TEST: the grace is a setting
insert into pgrun._private_settings (name, value) values ('timeout_grace', '0 seconds');
select id as d_id from pgrun.add_job('t', timeout => interval '5 seconds') \gset
select from pgrun_tests.claim(1, 1, array['t']);
select is(pgrun._time_out_attempts(now() + interval '6 seconds'), 1, 'with no grace, 5 s past the start of d is enough');

select finish();
rollback;
