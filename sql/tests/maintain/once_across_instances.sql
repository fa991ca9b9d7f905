begin;
select plan(4);
create extension if not exists dblink;

-- maintain runs once across instances: whoever does not get its advisory lock
-- returns at once. Sessions a and b are two instances; this session watches.
select pgrun_tests.connect('a');
select pgrun_tests.connect('b');
select pgrun_tests.run('a', 'select pgrun_tests.reset()');

-- TEST: while a's maintain transaction is open, b's maintain returns at once and does nothing
select dblink_exec('a', 'begin');
select pgrun_tests.run('a', 'select pgrun.maintain()');
select pgrun_tests.run('b', $$select pgrun.add_job('t', run_at => now() + interval '1 minute')$$);
select ok(pgrun_tests.returns_promptly('b', $$select task, rows from pgrun.maintain(now => now() + interval '2 minutes')$$),
  'b''s maintain does not wait');
select is_empty($$select from dblink_get_result('b') as t(task text, rows integer)$$, 'and does nothing');
select * from dblink_get_result('b') as t(task text, rows integer);

-- TEST: once a commits, b's maintain does the work
select dblink_exec('a', 'commit');
select results_eq($$select task, rows from dblink('b', 'select task, rows from pgrun.maintain(now => now() + interval ''2 minutes'') where task <> ''dead job rows''')
                      as t(task text, rows integer)$$,
  $$values ('promoted', 1)$$, 'b promotes the due job');
select is((select state from pgrun.jobs where task_identifier = 't'), 'available', 'which is available now');

-- CLEANUP: leave the database as the test found it
select pgrun_tests.run('a', 'select pgrun_tests.reset()');
select dblink_disconnect('a');
select dblink_disconnect('b');

select finish();
rollback;
