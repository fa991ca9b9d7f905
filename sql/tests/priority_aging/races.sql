begin;
select plan(9);
create extension if not exists dblink;

-- The aging pass in real sessions: it never waits for a job row another
-- transaction holds (an application's SELECT ... FOR UPDATE, a claim in
-- flight), it skips it until the next pass; and a claim never waits for the
-- pass. Session maint runs maintain(), holder holds rows, claimer claims;
-- this session only watches.
-- SETUP (committed): from nothing, worker 1 (race_sessions); aging by 10 s
-- steps; x and y (queue q) of priority 5, available for a minute (6 steps)
select pgrun_tests.race_sessions('maint', 'holder');
select pgrun_tests.connect('claimer');
select pgrun_tests.run('maint', $$select pgrun.set_priority_aging(interval '10 seconds')$$);
select pgrun_tests.run('maint', $$select pgrun.add_job('x', priority => 5, run_at => now() - interval '1 minute')$$);
select pgrun_tests.run('maint', $$select pgrun.add_job('y', priority => 5, queue_name => 'q',
                                                       run_at => now() - interval '1 minute')$$);
select id as x_id from pgrun.jobs where task_identifier = 'x' \gset
select id as y_id from pgrun.jobs where task_identifier = 'y' \gset

-- TEST: an application holds x: the pass does not wait, ages y only
select dblink_exec('holder', 'begin');
select pgrun_tests.run('holder', format('select from pgrun._private_jobs where id = %s for update', :x_id));
select ok(pgrun_tests.returns_promptly('maint',
    $$select task, rows from pgrun.maintain() where task <> 'dead job rows'$$),
  'maintain returns at once while x is held');
select results_eq($$select * from dblink_get_result('maint') as t(task text, rows integer)$$,
  $$values ('priorities aged', 1)$$, 'it aged one job');
select * from dblink_get_result('maint') as t(task text, rows integer);
select results_eq(format('select id, priority::integer, base_priority::integer from pgrun.jobs where id in (%s, %s) order by id',
                         :x_id, :y_id),
  format($$values (%s::bigint, 5, null::integer), (%s, -1, 5)$$, :x_id, :y_id),
  'x, held, keeps its priority; y is aged 6 steps');
select results_eq($$select priority::integer from pgrun._private_queue_heads where queue_name = 'q'
                    order by priority limit 1$$,
  $$values (-1)$$, 'and queue q is listed at y''s aged priority');

-- TEST: once the application lets go, the next pass ages x
select dblink_exec('holder', 'commit');
select results_eq($$select * from dblink('maint', 'select task, rows from pgrun.maintain() where task <> ''dead job rows''')
                      as t(task text, rows integer)$$,
  $$values ('priorities aged', 1)$$, 'the next pass ages x');
select is((select priority::integer from pgrun.jobs where id = :x_id), -1, 'x is aged 6 steps');

-- TEST: a claim does not wait for a pass in flight (holding the rows it ages)
select pgrun_tests.run('maint', $$select pgrun.add_job('z', priority => 5, run_at => now() - interval '1 minute')$$);
select dblink_exec('maint', 'begin');
select pgrun_tests.run('maint', 'select pgrun.maintain()');
select ok(pgrun_tests.returns_promptly('claimer', 'select id from pgrun_tests.claim(1, 3)'),
  'a claim returns at once while the pass holds z');
select set_eq($$select * from dblink_get_result('claimer') as t(id bigint)$$,
  format('values (%s::bigint), (%s)', :x_id, :y_id), 'it takes x and y, and skips z');
select * from dblink_get_result('claimer') as t(id bigint);
select dblink_exec('maint', 'commit');
select is((select priority::integer from pgrun.jobs where task_identifier = 'z'), -1, 'z is aged');

-- CLEANUP: leave the database as the test found it (aging off)
select pgrun_tests.run('maint', 'select pgrun_tests.reset()');
select dblink_disconnect('maint');
select dblink_disconnect('holder');
select dblink_disconnect('claimer');

select finish();
rollback;
