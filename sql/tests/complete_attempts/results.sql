begin;
select plan(8);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- TEST: without retention a completed job leaves at once, and its result with it
select id as a_id from pgrun.add_job('t', job_key => 'k') \gset
select lease as a_lease from pgrun_tests.claim(1) \gset
select pgrun.complete_attempts(pgrun_tests.worker(1), array[:a_id]::bigint[], array[:a_lease]::bigint[],
  array['{"sent": 3}'::jsonb]);
select is_empty(format('select from pgrun.jobs where id = %s', :a_id), 'the job is gone');
select is_empty(format('select from pgrun.get_result(%s)', :a_id), 'get_result knows nothing of it');

-- TEST: with retention a completed job stays with what its handler returned
select pgrun.set_retention(interval '1 day', null, null);
select id as b_id from pgrun.add_job('t', job_key => 'k') \gset
select id as c_id from pgrun.add_job('t') \gset
select is((select count(*)::integer from pgrun_tests.claim(1, 2)), 2, 'setup: both claimed');
select pgrun.complete_attempts(pgrun_tests.worker(1), array[:b_id, :c_id]::bigint[],
  array[pgrun_tests.lease(:b_id), pgrun_tests.lease(:c_id)], array['{"sent": 3}'::jsonb]);
select results_eq(
  format('select state, result, finished_at, keep_until, locked_at, locked_by from pgrun.jobs where id = %s', :b_id),
  $$values ('completed', '{"sent": 3}'::jsonb, now(), now() + interval '1 day', null::timestamptz, null::text)$$,
  'state completed, the result kept, finished now, kept for a day, unlocked');
select results_eq(format('select * from pgrun.get_result(%s)', :b_id),
  $$values ('completed', '{"sent": 3}'::jsonb, null::text, now())$$,
  'get_result returns its state, result, no error, and when it finished');
select is((select result from pgrun.jobs where id = :c_id), null,
  'a job without a result given keeps a null result');

-- TEST: a kept completed job does not hold its key
select isnt((pgrun.add_job('t', job_key => 'k')).id, :b_id::bigint, 'the key goes to a new job');
select is((select count(*)::integer from pgrun.jobs where key = 'k'), 2,
  'the completed job keeps its key for display beside the new one');

select finish();
rollback;
