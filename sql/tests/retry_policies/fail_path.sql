begin;
select plan(9);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- Fails job `id` (claimed by worker 1) and answers its wait: run_at - now()
-- (now() is the transaction's start, as fail_attempts sees it; run_at was in the past).
create function pg_temp.fail_wait(id bigint, delays interval[] default null) returns interval
language sql as $$
  select f.run_at - now() from pgrun.fail_attempts(pgrun_tests.worker(1), array[id], array[pgrun_tests.lease(id)],
                                                   array['boom'], null, delays) as f;
$$;

-- TEST: a task without a policy waits Graphile's exp(least(attempts, 10)) seconds
select id as a_id from pgrun.add_job('plain', run_at => now() - interval '1 hour') \gset
select is((select count(*)::integer from pgrun_tests.claim(1)), 1, 'setup: a claimed');
select is(pg_temp.fail_wait(:a_id), exp(1) * interval '1 second', 'no policy: e seconds after the first failure');

-- TEST: a task's policy row decides its jobs' waits
select pgrun.set_retry_policy('linear.task', 'linear', base => 30, max_delay => 600);
select id as b_id from pgrun.add_job('linear.task', run_at => now() - interval '1 hour') \gset
select is((select count(*)::integer from pgrun_tests.claim(1)), 1, 'setup: b claimed');
select is(pg_temp.fail_wait(:b_id), interval '30 seconds', 'linear 30 s task policy: 30 s after the first failure');

-- TEST: a job's own meta.retry wins over its task's policy
select id as c_id from pgrun.add_job('linear.task', run_at => now() - interval '1 hour',
                                     meta => '{"retry": {"kind": "fixed", "base": 5}}') \gset
select is((select count(*)::integer from pgrun_tests.claim(1)), 1, 'setup: c claimed');
select is(pg_temp.fail_wait(:c_id), interval '5 seconds', 'the job''s fixed 5 s wins over the task''s linear');

-- TEST: a runner's delay (a custom policy) wins over both
select id as d_id from pgrun.add_job('linear.task', run_at => now() - interval '1 hour') \gset
select is((select count(*)::integer from pgrun_tests.claim(1)), 1, 'setup: d claimed');
select is(pg_temp.fail_wait(:d_id, array[interval '2 minutes']), interval '2 minutes',
  'the delay the runner passed is the wait');

-- TEST: removing the policy says whether there was one
select is(array[pgrun.remove_retry_policy('linear.task'), pgrun.remove_retry_policy('linear.task')],
  array[true, false], 'remove_retry_policy: true, then false');

select finish();
rollback;
