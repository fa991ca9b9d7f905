begin;
select plan(5);
create extension if not exists dblink;

-- Two failures of one attempt racing (a batch sent again from another
-- connection, the timeout sweep) leave exactly one dead letter: the first to
-- lock the job's row ends it, the other finds it busy, then lost. Real
-- sessions 'one' and 'two' fail the same attempt.
select a_pid as one_pid, b_pid as two_pid from pgrun_tests.race_sessions('one', 'two') \gset
select pgrun_tests.run('one', $$select pgrun.set_dead_letter('dlq')$$);
select pgrun_tests.run('one', $$select pgrun.add_job('t', max_attempts => 1, timeout => interval '1 second')$$);
select pgrun_tests.run('one', 'select from pgrun_tests.claim(1, 1)');
select id as a_id, lease as a_lease from pgrun._private_jobs where state = 'running' \gset

-- TEST: one fails it (not committed); the other's failure and the sweep meanwhile end nothing
select dblink_exec('one', 'begin');
select is(pgrun_tests.run('one', format($$select from pgrun.fail_attempts(%L, array[%s]::bigint[], array[%s]::bigint[], array['one'])$$,
                                        pgrun_tests.worker(1), :a_id, :a_lease)), 1::bigint,
  'session one fails the attempt (not committed yet)');
select set_eq(format($$select job_id, outcome from dblink('two', %L) as t(job_id bigint, outcome text)$$,
    format($$select job_id, outcome from pgrun.fail_attempts(%L, array[%s]::bigint[], array[%s]::bigint[], array['two'])$$,
           pgrun_tests.worker(1), :a_id, :a_lease)),
  format($$values (%s::bigint, 'busy')$$, :a_id), 'session two''s failure is busy');
select is((select n from dblink('two', $$select pgrun._time_out_attempts(now() + interval '1 hour')$$) as t(n integer)),
  0, 'the sweep skips the row');
select dblink_exec('one', 'commit');
select set_eq(format($$select job_id, outcome from dblink('two', %L) as t(job_id bigint, outcome text)$$,
    format($$select job_id, outcome from pgrun.fail_attempts(%L, array[%s]::bigint[], array[%s]::bigint[], array['two'])$$,
           pgrun_tests.worker(1), :a_id, :a_lease)),
  format($$values (%s::bigint, 'lost')$$, :a_id), 'sent again, session two''s failure is lost');
select results_eq($$select payload -> 'dead_job' ->> 'last_error' from pgrun.jobs where task_identifier = 'dlq'$$,
  $$values ('one')$$, 'exactly one dead letter, of the failure that won');

select pgrun_tests.run('one', 'select pgrun_tests.reset()');
select dblink_disconnect('one');
select dblink_disconnect('two');
select finish();
rollback;
