begin;
select plan(9);
create extension if not exists dblink;

-- A claim in flight read the paused tasks (none) and may take a job of the
-- task; the pause waits for that claim to commit, so once the pause returns
-- no claim takes the task's jobs. Real sessions: 'worker' claims, 'admin'
-- pauses; this session watches.
select pgrun_tests.connect('worker') as worker_pid \gset
select pgrun_tests.connect('admin') as admin_pid \gset
select pgrun_tests.run('worker', 'select pgrun_tests.reset()');
select pgrun_tests.run('worker', 'select pgrun_tests.register(1)');
select pgrun_tests.run('worker', $$select pgrun.add_job('p', run_at => now() - interval '2 minutes')$$);
select pgrun_tests.run('worker', $$select pgrun.add_job('p', run_at => now() - interval '1 minute')$$);

-- TEST: the claim goes first: the pause waits for its commit
select dblink_exec('worker', 'begin');
select is(pgrun_tests.run('worker', 'select from pgrun_tests.claim(1, 1)'), 1::bigint,
  'the worker claims one job of p (not committed yet)');
select dblink_send_query('admin', $$select pgrun.pause_task('p')$$);
select ok(pgrun_tests.waits_for_lock(:admin_pid), 'the pause waits for the claim in flight');
select dblink_exec('worker', 'commit');
select ok(pgrun_tests.finishes('admin'), 'the pause returns once the claim commits');
select is((select paused from dblink_get_result('admin') as t(paused boolean)), true, 'and it paused p');
select * from dblink_get_result('admin') as t(paused boolean);
select is(pgrun_tests.run('worker', 'select from pgrun_tests.claim(1, 5)'), 0::bigint,
  'after the pause, p''s other job is not taken');
select is((select count(*) from pgrun._private_jobs where task_identifier = 'p' and state = 'running'), 1::bigint,
  'one job of p runs: the one claimed before the pause');

-- TEST: two pauses at once: the second waits for the first and then pauses too
select dblink_exec('admin', 'begin');
select pgrun_tests.run('admin', $$select pgrun.pause_task('x')$$);
select dblink_send_query('worker', $$select pgrun.pause_task('y')$$);
select ok(pgrun_tests.waits_for_lock(:worker_pid), 'the second pause waits for the first');
select dblink_exec('admin', 'commit');
select ok(pgrun_tests.finishes('worker'), 'and returns once the first commits');
select is((select paused from dblink_get_result('worker') as t(paused boolean)), true, 'having paused its task');
select * from dblink_get_result('worker') as t(paused boolean);

select pgrun_tests.run('worker', 'select pgrun_tests.reset()');
select dblink_disconnect('worker');
select dblink_disconnect('admin');
select finish();
rollback;
