begin;
select plan(8);
create extension if not exists dblink;

-- A worker leaving never waits for a job row another transaction holds: what
-- it cannot release now stays, its row marked reaped by itself, and a live
-- worker's next beat releases the rest.
select pgrun_tests.connect('worker');
select pgrun_tests.connect('holder');

-- SETUP (committed): worker 1 runs jobs a and b; worker 2 beats steadily
select pgrun_tests.run('worker', 'select pgrun_tests.reset()');
select pgrun_tests.run('worker', $$select pgrun_tests.register(n, now() - interval '1 minute') from generate_series(1, 2) as n$$);
select pgrun_tests.run('worker', $$select pgrun.add_job('t', run_at => now() - interval '1 minute') from generate_series(1, 2)$$);
select pgrun_tests.run('worker', $$select pgrun_tests.claim(1, 2, null, now() - interval '1 minute')$$);
select pgrun_tests.run('worker', $$select pgrun_tests.beat_steadily(2, now() - interval '1 minute', now() - interval '1 second')$$);
select id as a_id from pgrun.jobs order by id limit 1 \gset
select id as b_id from pgrun.jobs order by id desc limit 1 \gset

-- TEST: with a held by an application, unregister_worker returns at once
select dblink_exec('holder', 'begin');
select pgrun_tests.run('holder', format('select from pgrun._private_jobs where id = %s for update', :a_id));
select ok(pgrun_tests.returns_promptly('worker', format('select pgrun.unregister_worker(%L)', pgrun_tests.worker(1))),
  'unregister_worker does not wait for the held job');
select * from dblink_get_result('worker') as t(x text);
select * from dblink_get_result('worker') as t(x text);
select results_eq(format('select id, state from pgrun.jobs where id in (%s, %s) order by id', :a_id, :b_id),
  format($$values (%s::bigint, 'running'), (%s, 'available')$$, :a_id, :b_id),
  'b is released; a, held, still counts as running');
select results_eq(format('select reaped_at is not null, reaped_by from pgrun._private_workers where worker_id = %L',
                         pgrun_tests.worker(1)),
  format($$values (true, %L)$$, pgrun_tests.worker(1)),
  'the worker''s row stays, marked reaped by itself');
select is((select last_error from pgrun.jobs where id = :b_id),
  format('worker %s stopped while holding the job', pgrun_tests.worker(1)), 'b says why it was released');

-- TEST: a live worker's next beat releases the rest, and the row goes once it holds nothing
select dblink_exec('holder', 'commit');
select results_eq(format('select * from dblink(%L, %L) as t(worker_id text, released_jobs integer)', 'worker',
                         format('select * from pgrun.heartbeat(%L)', pgrun_tests.worker(2))),
  format($$values (%L, 1)$$, pgrun_tests.worker(1)), 'worker 2''s beat releases a');
select is(pgrun_tests.state(:a_id), 'available', 'a is available again');
select pgrun_tests.run('worker', format('select pgrun.unregister_worker(%L)', pgrun_tests.worker(1)));
select is_empty(format('select from pgrun._private_workers where worker_id = %L', pgrun_tests.worker(1)),
  'unregistering again, now that it holds nothing, removes the row');
select is((select count(*)::integer from pgrun._private_workers), 1, 'worker 2 remains');

-- CLEANUP: leave the database as the test found it
select pgrun_tests.run('worker', 'select pgrun_tests.reset()');
select dblink_disconnect('worker');
select dblink_disconnect('holder');

select finish();
rollback;
