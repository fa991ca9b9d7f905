begin;
select plan(9);
create extension if not exists dblink;

-- Fault 2: a heartbeat waited on a job's row lock (an application
-- transaction re-keying a running job) inside the transaction holding its
-- beat; the live worker was reaped, and the reaper then blocked on the same
-- lock. Now a beat touches no job row, and a reaper skips the rows others hold.
select pgrun_tests.connect('workers');
select pgrun_tests.connect('holder');

-- SETUP (committed): worker 1 beats steadily; worker 2 died 40 s ago holding a
-- and b; live worker 3 runs c
select pgrun_tests.run('workers', 'select pgrun_tests.reset()');
select pgrun_tests.run('workers', $$select pgrun_tests.register(n, now() - interval '1 minute') from generate_series(1, 3) as n$$);
select pgrun_tests.run('workers', $$select pgrun.add_job('t', run_at => now() - interval '2 minutes') from generate_series(1, 3)$$);
select pgrun_tests.run('workers', $$select pgrun_tests.claim(2, 2, null, now() - interval '1 minute')$$);
select pgrun_tests.run('workers', $$select pgrun_tests.claim(3, 1, null, now() - interval '1 minute')$$);
select pgrun_tests.run('workers', $$select pgrun.record_heartbeat(pgrun_tests.worker(2), now => now() - interval '40 seconds')$$);
select pgrun_tests.run('workers', $$select pgrun_tests.beat_steadily(1, now() - interval '1 minute', now() - interval '1 second')$$);
select pgrun_tests.run('workers', $$select pgrun_tests.beat_steadily(3, now() - interval '1 minute', now() - interval '1 second')$$);
select id as a_id from pgrun.jobs where locked_by = pgrun_tests.worker(2) order by id limit 1 \gset
select id as b_id from pgrun.jobs where locked_by = pgrun_tests.worker(2) order by id desc limit 1 \gset
select id as c_id from pgrun.jobs where locked_by = pgrun_tests.worker(3) \gset

-- TEST: while an application holds a (worker 2's) and c (worker 3's), worker 3's beat does not wait
select dblink_exec('holder', 'begin');
select pgrun_tests.run('holder', format('select from pgrun._private_jobs where id in (%s, %s) order by id for update',
                                        :a_id, :c_id));
select ok(pgrun_tests.returns_promptly('workers', format('select * from pgrun.heartbeat(%L)', pgrun_tests.worker(3))),
  'a live worker''s beat returns at once although one of its jobs is locked');
select set_eq($$select * from dblink_get_result('workers') as t(dead_worker_id text, released_jobs integer)$$,
  format($$values (%L, 1)$$, pgrun_tests.worker(2)),
  'and reaps worker 2, releasing the job it could lock');
select * from dblink_get_result('workers') as t(dead_worker_id text, released_jobs integer);
select results_eq(format('select id, state from pgrun.jobs where id in (%s, %s, %s) order by id', :a_id, :b_id, :c_id),
  format($$values (%s::bigint, 'running'), (%s, 'available'), (%s, 'running')$$, :a_id, :b_id, :c_id),
  'b is released; a, locked by the application, is left for later; c still runs');
select is((select reaped_by from pgrun._private_workers where worker_id = pgrun_tests.worker(2)), pgrun_tests.worker(3),
  'worker 2 is marked reaped all the same');

-- TEST: the next reaper's beat does not wait either, and has nothing it can take yet
select ok(pgrun_tests.returns_promptly('workers', format('select * from pgrun.heartbeat(%L)', pgrun_tests.worker(1))),
  'worker 1''s beat returns at once');
select is_empty($$select * from dblink_get_result('workers') as t(dead_worker_id text, released_jobs integer)$$,
  'releasing nothing while a is held');
select * from dblink_get_result('workers') as t(dead_worker_id text, released_jobs integer);

-- TEST: a later call releases what was skipped
select dblink_exec('holder', 'commit');
select set_eq(
  format('select * from dblink(%L, %L) as t(dead_worker_id text, released_jobs integer)', 'workers',
         format('select * from pgrun.reap_workers(%L)', pgrun_tests.worker(1))),
  format($$values (%L, 1)$$, pgrun_tests.worker(2)),
  'once the application commits, the leftover of worker 2 is released');
select is(pgrun_tests.state(:a_id), 'available', 'a is available again');
select is((select locked_by from pgrun.jobs where id = :c_id), pgrun_tests.worker(3), 'c still runs for worker 3');

-- CLEANUP: leave the database as the test found it
select pgrun_tests.run('workers', 'select pgrun_tests.reset()');
select dblink_disconnect('workers');
select dblink_disconnect('holder');

select finish();
rollback;
