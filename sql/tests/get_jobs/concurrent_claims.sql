begin;
select plan(6);
create extension if not exists dblink;

-- Two real sessions (a and b) claim at the same time, each inside its own open
-- transaction; this session only watches what they commit.
select dblink_connect('a', format('host=%s port=%s dbname=%s user=%s',
  coalesce(host(inet_server_addr()), split_part(current_setting('unix_socket_directories'), ',', 1)),
  current_setting('port'), current_database(), current_user));
select dblink_connect('b', format('host=%s port=%s dbname=%s user=%s',
  coalesce(host(inet_server_addr()), split_part(current_setting('unix_socket_directories'), ',', 1)),
  current_setting('port'), current_database(), current_user));
-- A claim that blocked instead of skipping would otherwise hang the suite.
select dblink_exec('a', 'set statement_timeout = ''5s''');
select dblink_exec('b', 'set statement_timeout = ''5s''');

-- SETUP (committed by session a, which also clears what an earlier failed run
-- may have left; this session must not touch those rows itself, or a and b
-- would wait for it): two jobs in queue q between two jobs without a queue
select * from dblink('a', 'select pgrun_tests.reset()') as t(nothing text);
select * from dblink('a', $$
  select (pgrun.add_job('t', run_at => now() - interval '4 minutes')).id
  union all select (pgrun.add_job('t', queue_name => 'q', run_at => now() - interval '3 minutes')).id
  union all select (pgrun.add_job('t', queue_name => 'q', run_at => now() - interval '2 minutes')).id
  union all select (pgrun.add_job('t', run_at => now() - interval '1 minute')).id$$) as t(id bigint);
select id as u1_id from pgrun.jobs where queue_name is null order by id limit 1 \gset
select id as q1_id from pgrun.jobs where queue_name = 'q' order by id limit 1 \gset
select id as u2_id from pgrun.jobs where queue_name is null order by id desc limit 1 \gset

-- TEST: while a holds its claim uncommitted, b skips it instead of waiting
select dblink_exec('a', 'begin');
select dblink_exec('b', 'begin');
select set_eq(
  format('select id from dblink(%L, %L) as t(id bigint)',
         'a', format('select id from pgrun.get_job(%L)', pgrun_tests.worker(1))),
  format('values (%s::bigint)', :u1_id),
  'session a claims the oldest job');
select set_eq(
  format('select id from dblink(%L, %L) as t(id bigint)',
         'b', format('select id from pgrun.get_jobs(%L, max_jobs => 10)', pgrun_tests.worker(2))),
  format('values (%s::bigint), (%s)', :q1_id, :u2_id),
  'session b, at the same time, claims the head of q and the other unqueued job');

-- TEST: a queue locked by an uncommitted claim is skipped by the other session
select is_empty(
  format('select id from dblink(%L, %L) as t(id bigint)',
         'a', format('select id from pgrun.get_jobs(%L, max_jobs => 10)', pgrun_tests.worker(1))),
  'session a, before b commits, gets nothing more: not the second job of q');
select dblink_exec('a', 'commit');
select dblink_exec('b', 'commit');

-- TEST: after both commit every job has one owner and q has one running job
select results_eq(
  $$select locked_by, count(*)::integer from pgrun.jobs where locked_at is not null group by locked_by order by locked_by$$,
  format('values (%L, 1), (%L, 2)', pgrun_tests.worker(1), pgrun_tests.worker(2)),
  'worker 1 holds one job, worker 2 two');
select is((select count(*)::integer from pgrun.jobs where queue_name = 'q' and locked_at is not null), 1,
  'one job of q runs');
select is((select locked_by from pgrun._private_job_queues where queue_name = 'q'), pgrun_tests.worker(2),
  'q is locked by worker 2');

-- CLEANUP: the sessions committed; leave the database as the test found it
select * from dblink('a', 'select pgrun_tests.reset()') as t(nothing text);
select dblink_disconnect('a');
select dblink_disconnect('b');

select finish();
rollback;
