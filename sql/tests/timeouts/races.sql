begin;
select plan(8);
create extension if not exists dblink;

-- The timeout sweep racing a completion ends the attempt once: whichever
-- commits first wins, the other ends nothing ('lost', or the sweep skips the
-- row). Real sessions: 'worker' completes, 'sweeper' runs maintain().
select a_pid as worker_pid, b_pid as sweeper_pid from pgrun_tests.race_sessions('worker', 'sweeper') \gset
select pgrun_tests.run('worker', $$select pgrun.set_retention(interval '1 day', null, null)$$);
select pgrun_tests.run('worker', $$select pgrun.add_job('t', max_attempts => 1, timeout => interval '1 second')$$);
select pgrun_tests.run('worker', 'select from pgrun_tests.claim(1, 1)');
select id as a_id, lease as a_lease from pgrun._private_jobs where state = 'running' \gset

-- TEST: the completion holds the row first: the sweep skips it, and the job is completed
select dblink_exec('worker', 'begin');
select is(pgrun_tests.run('worker', format($$select from pgrun.complete_attempts(%L, array[%s]::bigint[], array[%s]::bigint[])$$,
                                           pgrun_tests.worker(1), :a_id, :a_lease)), 1::bigint,
  'the worker completes the job (not committed yet)');
select is((select n from dblink('sweeper', $$select pgrun._time_out_attempts(now() + interval '1 hour')$$) as t(n integer)),
  0, 'the sweep meanwhile skips the row the completion holds: it ends nothing');
select dblink_exec('worker', 'commit');
select results_eq(format('select state, last_error from pgrun.jobs where id = %s', :a_id),
  $$values ('completed', null::text)$$, 'the job is completed, and only that');

-- TEST: the sweep holds the row first: the completion is busy, then lost; the job failed by its timeout
select pgrun_tests.run('worker', $$select pgrun.add_job('t', max_attempts => 1, timeout => interval '1 second')$$);
select pgrun_tests.run('worker', 'select from pgrun_tests.claim(1, 1)');
select id as b_id, lease as b_lease from pgrun._private_jobs where state = 'running' \gset
select dblink_exec('sweeper', 'begin');
select is((select n from dblink('sweeper', $$select pgrun._time_out_attempts(now() + interval '1 hour')$$) as t(n integer)),
  1, 'the sweep ends the attempt (not committed yet)');
select set_eq(format($$select job_id, outcome from dblink('worker', %L) as t(job_id bigint, outcome text)$$,
    format($$select job_id, outcome from pgrun.complete_attempts(%L, array[%s]::bigint[], array[%s]::bigint[])$$,
           pgrun_tests.worker(1), :b_id, :b_lease)),
  format($$values (%s::bigint, 'busy')$$, :b_id), 'a completion meanwhile is busy: it does not wait, nor win');
select dblink_exec('sweeper', 'commit');
select set_eq(format($$select job_id, outcome from dblink('worker', %L) as t(job_id bigint, outcome text)$$,
    format($$select job_id, outcome from pgrun.complete_attempts(%L, array[%s]::bigint[], array[%s]::bigint[])$$,
           pgrun_tests.worker(1), :b_id, :b_lease)),
  format($$values (%s::bigint, 'lost')$$, :b_id), 'sent again, the completion is lost');
select results_eq(format('select state, last_error from pgrun.jobs where id = %s', :b_id),
  $$values ('failed', 'timed out after 1 s')$$, 'the job failed by its timeout, and only that');
select ok(pgrun_tests.counters_exact(), 'queue counters are exact');

select pgrun_tests.run('worker', 'select pgrun_tests.reset()');
select dblink_disconnect('worker');
select dblink_disconnect('sweeper');
select finish();
rollback;
