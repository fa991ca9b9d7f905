begin;
select plan(9);
create extension if not exists dblink;

-- A cancel racing a snooze ends in exactly one of the two, whichever
-- committed first: both lock the job's row. Real sessions: 'worker' snoozes,
-- 'admin' cancels; this session watches.
select a_pid as worker_pid, b_pid as admin_pid from pgrun_tests.race_sessions('worker', 'admin') \gset
select pgrun_tests.run('worker', $$select pgrun.add_job('t', queue_name => 'q', run_at => now() - interval '2 minutes')$$);
select pgrun_tests.run('worker', $$select pgrun.add_job('t', queue_name => 'q', run_at => now() - interval '1 minute')$$);
select pgrun_tests.run('worker', 'select from pgrun_tests.claim(1, 1)');
select id as a_id, lease as a_lease from pgrun._private_jobs where state = 'running' \gset

-- TEST: the snooze commits first: the cancel, which waited for the row, finds it scheduled and cancels it
select dblink_exec('worker', 'begin');
select is(pgrun_tests.run('worker', format($$select from pgrun.snooze_attempts(%L, array[%s]::bigint[], array[%s]::bigint[],
                                                                              array[interval '1 hour'])$$,
                                           pgrun_tests.worker(1), :a_id, :a_lease)), 1::bigint,
  'the worker snoozes the job (not committed yet)');
select dblink_send_query('admin', format($$select count(*) from pgrun.cancel_jobs(array[%s]::bigint[], 'late')$$, :a_id));
select ok(pgrun_tests.waits_for_lock(:admin_pid), 'the cancel waits for the snooze''s row');
select dblink_exec('worker', 'commit');
select ok(pgrun_tests.finishes('admin'), 'the cancel returns once the snooze commits');
select * from dblink_get_result('admin') as t(n bigint);
select * from dblink_get_result('admin') as t(n bigint);
select results_eq(format('select state, attempts from pgrun.jobs where id = %s', :a_id),
  $$values ('cancelled', 0::smallint)$$, 'the snoozed job, waiting, is cancelled at once, its attempt given back');

-- TEST: the cancel commits first: the snooze, which found the row held, is busy, then cancelled
select pgrun_tests.run('worker', 'select from pgrun_tests.claim(1, 1)');
select id as b_id, lease as b_lease from pgrun._private_jobs where state = 'running' \gset
select dblink_exec('admin', 'begin');
select is(pgrun_tests.run('admin', format($$select from pgrun.cancel_jobs(array[%s]::bigint[], 'stop')$$, :b_id)),
  1::bigint, 'the admin cancels the running job (not committed yet)');
select set_eq(format($$select job_id, outcome from dblink('worker', %L) as t(job_id bigint, outcome text)$$,
    format($$select job_id, outcome from pgrun.snooze_attempts(%L, array[%s]::bigint[], array[%s]::bigint[],
                                                               array[interval '1 hour'])$$,
           pgrun_tests.worker(1), :b_id, :b_lease)),
  format($$values (%s::bigint, 'busy')$$, :b_id), 'a snooze meanwhile is busy: it does not wait, nor win');
select dblink_exec('admin', 'commit');
select set_eq(format($$select job_id, outcome from dblink('worker', %L) as t(job_id bigint, outcome text)$$,
    format($$select job_id, outcome from pgrun.snooze_attempts(%L, array[%s]::bigint[], array[%s]::bigint[],
                                                               array[interval '1 hour'])$$,
           pgrun_tests.worker(1), :b_id, :b_lease)),
  format($$values (%s::bigint, 'cancelled')$$, :b_id), 'sent again, the snooze is answered cancelled');
select results_eq(format('select state, cancel_reason, run_at < now() from pgrun.jobs where id = %s', :b_id),
  $$values ('cancelled', 'stop', true)$$, 'the job is cancelled, not scheduled');
select results_eq($$select running from pgrun._private_job_queues where queue_name = 'q'$$, $$values (0)$$,
  'the queue counts nothing running');

select pgrun_tests.run('worker', 'select pgrun_tests.reset()');
select dblink_disconnect('worker');
select dblink_disconnect('admin');
select finish();
rollback;
