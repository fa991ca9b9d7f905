-- Two real sessions (dblink) claim the same tick: the second waits on the
-- first's row lock, then enqueues nothing if the first committed, or the job
-- if the first rolled back. What these sessions commit is removed at the end.
begin;
select plan(5);
create extension if not exists dblink;
select pgrun_tests.connect('s1');
select pgrun_tests.connect('s2') as s2_pid \gset

-- TEST: s1 claims and commits while s2 waits: s2 gets null, one job exists
select dblink_exec('s1', 'begin');
select * from dblink('s1', $$ select id from pgrun.cron_enqueue_tick('race-commit', '2024-05-01 10:00+00', false, 'race_task') $$) as r(id bigint);
select dblink_send_query('s2', $$ select id from pgrun.cron_enqueue_tick('race-commit', '2024-05-01 10:00+00', false, 'race_task') $$);
select ok(pgrun_tests.waits_for_lock(:s2_pid), 's2 waits while s1 holds the claim');
select dblink_exec('s1', 'commit');
select is((select id from dblink_get_result('s2') as r(id bigint)), null,
  's2 enqueues nothing once s1 committed the tick');
select * from dblink_get_result('s2') as r(id bigint);
select is((select count(*)::int from pgrun.jobs where task_identifier = 'race_task'), 1,
  'the tick has exactly one job');

-- TEST: s1 claims and rolls back while s2 waits: s2 enqueues the tick
select dblink_exec('s1', 'begin');
select * from dblink('s1', $$ select id from pgrun.cron_enqueue_tick('race-rollback', '2024-05-01 10:00+00', false, 'race_task_2') $$) as r(id bigint);
select dblink_send_query('s2', $$ select id from pgrun.cron_enqueue_tick('race-rollback', '2024-05-01 10:00+00', false, 'race_task_2') $$);
select pgrun_tests.waits_for_lock(:s2_pid);
select dblink_exec('s1', 'rollback');
select isnt((select id from dblink_get_result('s2') as r(id bigint)), null,
  's2 enqueues the tick when s1 rolled back');
select * from dblink_get_result('s2') as r(id bigint);
select is((select count(*)::int from pgrun.jobs where task_identifier = 'race_task_2'), 1,
  'that tick too has exactly one job');

select dblink_exec('s1', $$ delete from pgrun._private_jobs where task_identifier in ('race_task', 'race_task_2') $$);
select dblink_exec('s1', $$ delete from pgrun._private_known_crontabs where item_id in ('race-commit', 'race-rollback') $$);
select dblink_disconnect('s1');
select dblink_disconnect('s2');

select finish();
rollback;
