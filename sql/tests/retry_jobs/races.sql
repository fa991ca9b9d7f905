begin;
select plan(5);
create extension if not exists dblink;

-- Two admins retry the same failed job: the second waits for the first's row
-- lock, then finds the job available and leaves it alone. Real sessions.
select pgrun_tests.connect('a') as a_pid \gset
select pgrun_tests.connect('b') as b_pid \gset
select pgrun_tests.run('a', 'select pgrun_tests.reset()');
select pgrun_tests.run('a', $$select pgrun.add_job('t', job_key => 'race')$$);
select pgrun_tests.run('a', $$select pgrun.permanently_fail_jobs(array(select id from pgrun._private_jobs where key = 'race'))$$);
select id as job_id from pgrun._private_jobs where key = 'race' \gset

-- TEST: retry vs retry: exactly one of them retries the job
select dblink_exec('a', 'begin');
select is(pgrun_tests.run('a', format('select from pgrun.retry_jobs(array[%s]::bigint[])', :job_id)), 1::bigint,
  'the first admin retries the job (not committed yet)');
select dblink_send_query('b', format('select count(*) from pgrun.retry_jobs(array[%s]::bigint[])', :job_id));
select ok(pgrun_tests.waits_for_lock(:b_pid), 'the second waits for the first''s lock on the job');
select dblink_exec('a', 'commit');
select ok(pgrun_tests.finishes('b'), 'and returns once the first commits');
select is((select n from dblink_get_result('b') as t(n bigint)), 0::bigint, 'having retried nothing');
select * from dblink_get_result('b') as t(n bigint);
select results_eq(format('select state, attempts::int from pgrun.jobs where id = %s', :job_id),
  $$values ('available', 0)$$, 'the job is available once, attempts reset');

select pgrun_tests.run('a', 'select pgrun_tests.reset()');
select dblink_disconnect('a');
select dblink_disconnect('b');
select finish();
rollback;
