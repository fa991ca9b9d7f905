begin;
select plan(8);
select pgrun_tests.reset();
select pgrun_tests.register(n) from generate_series(1, 2) as n;

-- SETUP: worker 1 claims a (in queue q) and b (retried once before); worker 2 claims c
select id as a_id from pgrun.add_job('t', queue_name => 'q', run_at => now() - interval '3 minutes') \gset
select id as b_id from pgrun.add_job('t', run_at => now() - interval '2 minutes') \gset
select pgrun.reschedule_jobs(array[:b_id]::bigint[], attempts => 1);
select is((select count(*)::integer from pgrun_tests.claim(1, 2)), 2, 'setup: worker 1 claims two jobs');
select id as c_id from pgrun.add_job('t') \gset
select is((select id from pgrun_tests.claim(2)), :c_id::bigint, 'setup: worker 2 claims one');

-- TEST: returned attempts are given back, as if never claimed
select set_eq(
  format($$select job_id, outcome from pgrun.return_attempts(%L, array[%s, %s, %s]::bigint[], array[%s, %s, %s]::bigint[])$$,
         pgrun_tests.worker(1), :a_id, :b_id, :c_id, pgrun_tests.lease(:a_id), pgrun_tests.lease(:b_id),
         pgrun_tests.lease(:c_id)),
  format($$values (%s::bigint, 'returned'), (%s, 'returned'), (%s, 'lost')$$, :a_id, :b_id, :c_id),
  'worker 1''s two are returned; worker 2''s is lost');
select results_eq(
  format('select id, state, attempts, locked_at, locked_by, last_error, errors from pgrun.jobs where id in (%s, %s) order by id',
         :a_id, :b_id),
  format($$values (%s::bigint, 'available', 0::smallint, null::timestamptz, null::text, null::text, null::jsonb),
                  (%s, 'available', 1::smallint, null, null, null, null)$$, :a_id, :b_id),
  'available again with the attempts they had before the claim, no error recorded');
select is((select running from pgrun._private_job_queues where queue_name = 'q'), 0, 'q runs nothing now');
select results_eq($$select * from pgrun_tests.listed()$$, format($$values ('q', %s::bigint)$$, :a_id),
  'and is listed again with the returned job');
select is(pgrun_tests.state(:c_id), 'running', 'worker 2''s job is untouched');

-- TEST: returned jobs are claimable again at once
select set_eq($$select id from pgrun_tests.claim(2, 5)$$, format('values (%s::bigint), (%s)', :a_id, :b_id),
  'worker 2 claims both');

select finish();
rollback;
