begin;
select plan(7);
select pgrun_tests.reset();
select pgrun_tests.register(1);

-- SETUP: jobs of three tasks, interleaved in claim order, one of them queued
select id as a1_id from pgrun.add_job('task.a', run_at => now() - interval '6 minutes') \gset
select id as b1_id from pgrun.add_job('task.b', run_at => now() - interval '5 minutes') \gset
select id as c1_id from pgrun.add_job('task.c', run_at => now() - interval '4 minutes', priority => -1) \gset
select id as b2_id from pgrun.add_job('task.b', queue_name => 'q', run_at => now() - interval '3 minutes') \gset
select id as a2_id from pgrun.add_job('task.a', run_at => now() - interval '2 minutes') \gset
select id as b3_id from pgrun.add_job('task.b', priority => -2) \gset

-- TEST: a worker of several tasks gets their jobs merged in claim order
select results_eq(
  $$select id from pgrun_tests.claim(1, 4, array['task.a', 'task.b'])$$,
  format('values (%s::bigint), (%s), (%s), (%s)', :b3_id, :a1_id, :b1_id, :b2_id),
  'priority, then run_at, then id, across both tasks and the queued job; task.c is skipped');
select is(pgrun_tests.state(:c1_id), 'available', 'the other task''s better job is not claimed');
select is((select array_agg(id) from pgrun_tests.claim(1, 4, array['task.a', 'task.b'])), array[:a2_id]::bigint[],
  'the next claim gets what is left of those tasks');

-- TEST: tasks that have no jobs, or no tasks at all, claim nothing
select is_empty($$select from pgrun_tests.claim(1, 4, array['task.x', 'task.y'])$$, 'unknown tasks claim nothing');
select is_empty($$select from pgrun_tests.claim(1, 4, '{}')$$, 'an empty array of tasks claims nothing');

-- TEST: null task_identifiers means every task
select is((select array_agg(id) from pgrun_tests.claim(1, 4)), array[:c1_id]::bigint[], 'null claims any task');
select is((select count(*)::integer from pgrun.jobs where state = 'available'), 0, 'every job is now claimed');

select finish();
rollback;
