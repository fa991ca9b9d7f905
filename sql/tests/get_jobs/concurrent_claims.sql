begin;
select plan(8);
create extension if not exists dblink;

-- Two real sessions (a and b) claim at the same time, each inside its own open
-- transaction; this session only watches what they commit.
select pgrun_tests.connect('a');
select pgrun_tests.connect('b');

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
select id as q2_id from pgrun.jobs where queue_name = 'q' order by id desc limit 1 \gset
select id as u2_id from pgrun.jobs where queue_name is null order by id desc limit 1 \gset

-- TEST: while a holds its claim uncommitted, b skips what a holds instead of waiting
select dblink_exec('a', 'begin');
select dblink_exec('b', 'begin');
select set_eq(
  format('select id from dblink(%L, %L) as t(id bigint)',
         'a', format('select id from pgrun.get_job(%L)', pgrun_tests.worker(1))),
  format('values (%s::bigint)', :u1_id),
  'session a claims the oldest job');
select ok(pgrun_tests.returns_promptly('b', format('select id from pgrun.get_jobs(%L, max_jobs => 10)',
                                                   pgrun_tests.worker(2))),
  'session b''s claim, at the same time, does not wait for a');
-- a's claim compared the head of q with u1 and took u1; it holds q's row and
-- q's head until it commits, so b's claim passes them by
select set_eq($$select id from dblink_get_result('b') as t(id bigint)$$,
  format('values (%s::bigint)', :u2_id),
  'session b claims the other unqueued job, and nothing of q, whose row a''s open claim holds');
select * from dblink_get_result('b') as t(id bigint);

-- TEST: once a commits, q's head is b's to take, and only its head
select dblink_exec('a', 'commit');
select set_eq(
  format('select id from dblink(%L, %L) as t(id bigint)',
         'b', format('select id from pgrun.get_jobs(%L, max_jobs => 10)', pgrun_tests.worker(2))),
  format('values (%s::bigint)', :q1_id),
  'session b, after a commits, claims the head of q, not the second job of q');
select dblink_exec('b', 'commit');

-- TEST: after both commit every job has one owner and q has one running job
select results_eq(
  $$select locked_by, count(*)::integer from pgrun.jobs where state = 'running' group by locked_by order by locked_by$$,
  format('values (%L, 1), (%L, 2)', pgrun_tests.worker(1), pgrun_tests.worker(2)),
  'worker 1 holds one job, worker 2 two');
select is((select count(*)::integer from pgrun.jobs where queue_name = 'q' and state = 'running'), 1,
  'one job of q runs');
select is((select running from pgrun._private_job_queues where queue_name = 'q'), 1,
  'q counts exactly one running job');
select is(pgrun_tests.state(:q2_id), 'available', 'the second job of q waits, available');

-- CLEANUP: the sessions committed; leave the database as the test found it
select * from dblink('a', 'select pgrun_tests.reset()') as t(nothing text);
select dblink_disconnect('a');
select dblink_disconnect('b');

select finish();
rollback;
