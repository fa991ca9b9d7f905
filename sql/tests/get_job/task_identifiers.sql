begin;
select plan(6);
select pgrun_tests.reset();

-- SETUP: jobs of three tasks, one of them in a named queue, oldest first
select id as a_id from pgrun.add_job('task.a', run_at => now() - interval '3 minutes') \gset
select id as b_id from pgrun.add_job('task.b', queue_name => 'q', run_at => now() - interval '2 minutes') \gset
select id as c_id from pgrun.add_job('task.c', run_at => now() - interval '1 minute') \gset

-- TEST: a worker only claims the tasks it knows
select is((pgrun.get_job(pgrun_tests.worker(1), array['task.c'])).id, :c_id::bigint,
  'a worker for task.c skips older jobs of other tasks');
select is((pgrun.get_job(pgrun_tests.worker(1), array['task.b', 'task.x'])).id, :b_id::bigint,
  'a queued job is filtered the same way');
select ok((pgrun.get_job(pgrun_tests.worker(1), array['task.x'])).id is null,
  'a worker for unknown tasks gets nothing');
select is((select locked_at from pgrun.jobs where id = :a_id), null, 'task.a is still unclaimed');

-- TEST: null task_identifiers means every task
select is((pgrun.get_job(pgrun_tests.worker(1), null)).id, :a_id::bigint, 'null claims any task');
select ok((pgrun.get_job(pgrun_tests.worker(1))).id is null, 'every job is now claimed');

select finish();
rollback;
