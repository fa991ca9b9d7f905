begin;
select plan(8);
create extension if not exists dblink;

-- A claim and a pause both lock the queue's row: a claim in flight either
-- took its jobs before the pause commits, or sees the queue paused. Real
-- sessions: 'worker' claims, 'admin' pauses; this session watches.
select pgrun_tests.connect('worker') as worker_pid \gset
select pgrun_tests.connect('admin') as admin_pid \gset
select pgrun_tests.run('worker', 'select pgrun_tests.reset()');
select pgrun_tests.run('worker', 'select pgrun_tests.register(1)');
select pgrun_tests.run('worker', $$select pgrun.add_job('t', queue_name => 'q', run_at => now() - interval '2 minutes')$$);
select pgrun_tests.run('worker', $$select pgrun.add_job('t', queue_name => 'q', run_at => now() - interval '1 minute')$$);
select dblink_exec('worker', $$update pgrun._private_job_queues set max_running = 5 where queue_name = 'q'$$);

-- TEST: the claim holds the queue: the pause waits for it; the claimed job runs, the other waits
select dblink_exec('worker', 'begin');
select is(pgrun_tests.run('worker', 'select from pgrun_tests.claim(1, 1)'), 1::bigint,
  'the worker claims one job of q (not committed yet)');
select dblink_send_query('admin', $$select pgrun.pause_queue('q')$$);
select ok(pgrun_tests.waits_for_lock(:admin_pid), 'the pause waits for the claim''s lock on q');
select dblink_exec('worker', 'commit');
select ok(pgrun_tests.finishes('admin'), 'the pause returns once the claim commits');
select is((select paused from dblink_get_result('admin') as t(paused boolean)), true, 'and it paused q');
select * from dblink_get_result('admin') as t(paused boolean);
select is(pgrun_tests.run('worker', 'select from pgrun_tests.claim(1, 5)'), 0::bigint,
  'after the pause, q gives nothing');

-- TEST: the pause holds the queue: a claim meanwhile skips it, and after the commit still gets nothing
select pgrun_tests.run('admin', $$select pgrun.resume_queue('q')$$);
select dblink_exec('admin', 'begin');
select pgrun_tests.run('admin', $$select pgrun.pause_queue('q')$$);
select ok(pgrun_tests.returns_promptly('worker', 'select count(*) from pgrun_tests.claim(1, 5)'),
  'a claim does not wait for the pause');
select is((select n from dblink_get_result('worker') as t(n bigint)), 0::bigint, 'it skips q');
select * from dblink_get_result('worker') as t(n bigint);
select dblink_exec('admin', 'commit');
select is(pgrun_tests.run('worker', 'select from pgrun_tests.claim(1, 5)'), 0::bigint,
  'nor does q give anything once paused');

select pgrun_tests.run('worker', 'select pgrun_tests.reset()');
select dblink_disconnect('worker');
select dblink_disconnect('admin');
select finish();
rollback;
